#include "event/user_cache.h"

#include <catch2/catch.hpp>

#include <pwd.h>

using namespace smith::event;

TEST_CASE("user names by uid, unknown cached as empty", "[unit]")
{
	UserCache users(4);
	const passwd *root = getpwuid(0);
	REQUIRE(root != nullptr);
	const std::string root_name = root->pw_name;
	CHECK(users.name(0) == root_name);
	CHECK(users.name(0) == root_name);
	CHECK(users.name(3999999999u) == "");
	CHECK(users.name(3999999999u) == "");
	// Past capacity it starts over and still answers.
	for (uint32_t uid = 3999999990u; uid < 3999999999u; ++uid)
		CHECK(users.name(uid) == "");
	CHECK(users.name(0) == root_name);
}
