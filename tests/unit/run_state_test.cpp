#include "daemon/run_state.h"

#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using smith::daemon::begin_run;
using smith::daemon::end_run;

namespace {

struct StateDir {
	StateDir()
	{
		char tmpl[] = "/tmp/smith-run-state-XXXXXX";
		REQUIRE(mkdtemp(tmpl) != nullptr);
		dir = tmpl;
	}
	~StateDir() { std::filesystem::remove_all(dir); }
	std::string file() const { return dir + "/smithd.state"; }
	std::string text() const
	{
		std::ifstream in(file());
		std::stringstream ss;
		ss << in.rdbuf();
		return ss.str();
	}
	std::string dir;
};

} // namespace

TEST_CASE("run state: a run that ends without end_run is reported by the next start", "[unit]")
{
	StateDir d;
	auto first = begin_run(d.file(), "aaaa");
	CHECK(first.run_id == ""); // nothing recorded before
	CHECK(first.clean_stop == true);
	CHECK(d.text() == "smithd-run aaaa running\n");

	// "aaaa" is killed: no end_run.
	auto second = begin_run(d.file(), "bbbb");
	CHECK(second.run_id == "aaaa");
	CHECK(second.clean_stop == false);

	end_run(d.file(), "bbbb");
	CHECK(d.text() == "smithd-run bbbb stopped\n");
	auto third = begin_run(d.file(), "cccc");
	CHECK(third.run_id == "bbbb");
	CHECK(third.clean_stop == true);
	CHECK(!std::filesystem::exists(d.file() + ".tmp"));
}

TEST_CASE("run state: a damaged file is no previous run, and an unwritable one is not fatal", "[unit]")
{
	StateDir d;
	std::ofstream(d.file()) << "garbage\n";
	auto prev = begin_run(d.file(), "dddd");
	CHECK(prev.run_id == "");
	CHECK(d.text() == "smithd-run dddd running\n");

	auto none = begin_run(d.dir + "/no/such/dir/smithd.state", "eeee");
	CHECK(none.run_id == "");
	CHECK_NOTHROW(end_run(d.dir + "/no/such/dir/smithd.state", "eeee"));
}
