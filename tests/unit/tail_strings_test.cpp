#include "event/tail_strings.h"
#include "record_builder.h"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

using namespace smith::event;
using namespace std::string_literals;

namespace {

std::string join(const std::string &encoded)
{
	std::string out = "stale content";
	join_leaf_first_path(encoded, out);
	return out;
}

std::vector<std::string> args(const std::string &argv)
{
	std::vector<std::string> out;
	for_each_arg(argv, [&](std::string_view a) { out.emplace_back(a); });
	return out;
}

} // namespace

TEST_CASE("leaf-first paths join in reverse", "[unit]")
{
	CHECK(join("echo\0bin\0usr\0"s) == "/usr/bin/echo");
	CHECK(join("etc\0"s) == "/etc");
	CHECK(join(""s) == "");
	CHECK(join("\0"s) == "/");
	CHECK(join("\0\0\0"s) == "/");
	CHECK(join("echo\0bin\0usr"s) == "/usr/bin/echo"); // final NUL missing
	CHECK(join("echo\0\0usr\0"s) == "/usr/echo");	   // empty component skipped
	CHECK(join("a b\0dir \"x\"\0"s) == "/dir \"x\"/a b");
	CHECK(join("caf\xC3\xA9\0\xFF\0"s) == "/\xFF/caf\xC3\xA9"); // bytes kept; JSON sanitises later
	CHECK(join(smith::test::encode_path("/var/lib/docker/overlay2/x/merged/usr/bin/python3")) ==
	      "/var/lib/docker/overlay2/x/merged/usr/bin/python3");

	std::string expect;
	for (int i = 0; i < 40; ++i)
		expect += "/d" + std::to_string(i);
	CHECK(join(smith::test::encode_path(expect)) == expect);
}

TEST_CASE("argv splits on NUL and trusts the bytes", "[unit]")
{
	CHECK(args(""s).empty());
	CHECK(args("\0"s) == std::vector<std::string>{""});
	CHECK(args("ls\0-l\0"s) == std::vector<std::string>{"ls", "-l"});
	CHECK(args("ls\0-l"s) == std::vector<std::string>{"ls", "-l"}); // cut before the final NUL
	CHECK(args("a\0\0b\0"s) == std::vector<std::string>{"a", "", "b"});
	CHECK(args("a\0\0"s) == std::vector<std::string>{"a", ""});
}

TEST_CASE("path_basename", "[unit]")
{
	CHECK(path_basename("/lib/modules/6.1/kernel/dummy.ko.xz") == "dummy.ko.xz");
	CHECK(path_basename("dummy.ko") == "dummy.ko");
	CHECK(path_basename("/") == "");
	CHECK(path_basename("") == "");
	CHECK(path_basename("/a/b/") == "b");
}

TEST_CASE("leaf-first paths: components of every length up to 40, empty ones among them", "[unit]")
{
	std::mt19937 rng(21);
	for (int n = 0; n < 20000; ++n) {
		const size_t count = 1 + rng() % 6;
		std::string encoded;
		std::string expect;
		for (size_t i = 0; i < count; ++i) {
			const std::string component(rng() % 41, static_cast<char>('a' + i));
			encoded += component + '\0'; // leaf first
			if (!component.empty())
				expect = "/" + component + expect;
		}
		if (rng() % 4 == 0)
			encoded.pop_back(); // the final NUL missing
		INFO(count << " components");
		// No byte at all is a path not read; no non-empty component, the root.
		REQUIRE(join(encoded) == (encoded.empty() ? "" : expect.empty() ? "/" : expect));
	}
}

TEST_CASE("leaf-first paths: components of any byte but NUL (0x01, 0x7f, 0x80, 0xff among them)", "[unit]")
{
	// Components' starts are found eight bytes at a time: no other byte may read as a NUL, or hide
	// one next to it.
	std::mt19937 rng(22);
	const char edge[] = {'\x01', '\x7f', '\x80', '\xff', '\x81', '\xfe'};
	for (int n = 0; n < 20000; ++n) {
		const size_t count = 1 + rng() % 5;
		std::string encoded;
		std::string expect;
		for (size_t i = 0; i < count; ++i) {
			std::string component(rng() % 25, '\0');
			for (char &c : component)
				c = rng() % 2 ? edge[rng() % sizeof(edge)]
					      : static_cast<char>(1 + rng() % 255);
			encoded += component + '\0';
			if (!component.empty())
				expect = "/" + component + expect;
		}
		INFO(count << " components");
		REQUIRE(join(encoded) == (expect.empty() ? "/" : expect));
	}
}
