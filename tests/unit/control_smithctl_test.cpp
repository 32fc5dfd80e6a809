// smithctl's parts: the control client, the status parser and the table view.
// smithctl is an executable, not a library, so its sources are compiled into
// this test directly (once for the whole test binary).
#include "../../src/ctl/control_client.cpp"
#include "../../src/ctl/status_parse.cpp"
#include "../../src/ctl/status_view.cpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "control/status.h"
#include "daemon/control_server.h"

using namespace smith;
using ctl::ControlError;

namespace {

class TempDir {
public:
	TempDir()
	{
		char tmpl[] = "/tmp/smithctl-test-XXXXXX";
		REQUIRE(::mkdtemp(tmpl) != nullptr);
		path_ = tmpl;
	}
	~TempDir() { std::filesystem::remove_all(path_); }
	std::string operator/(const std::string &name) const { return path_ + "/" + name; }

private:
	std::string path_;
};

control::StatusSnapshot view_snapshot()
{
	control::StatusSnapshot s;
	s.version = "0.1.0";
	s.pid = 321;
	s.uptime_seconds = 3723.9;
	s.time = 1764753313.125;
	s.heartbeat_interval_seconds = 5;
	s.hostname = "db-7";
	s.host_id = "hid";
	s.run_id = "rid";
	s.kernel = "6.18.44";
	s.backend = "lkm";
	s.backend_reason = "ebpf: kernel has no BTF";
	s.rings = {"percpu", 4, 256 * 1024};
	s.hooks = {{"execve", "attached", "", "sys_exit", 12345, 10, 700, 1024},
		   {"init_module", "unavailable", "no modules", "sys_exit", 0}};
	s.received = {7, 8, 0, 1};
	s.sent = {7, 8, 0, 1};
	s.sink = {"kafka", "b1:9092,b2:9092", false, "broker down\n\x1b[31mred", 15, 2};
	s.queue_depth = 4;
	s.spool_bytes = 8192;
	s.decode_errors = 5;
	s.suppressed_connects = 1234;
	s.last_seq = 16;
	s.rss_bytes = 3 * 1024 * 1024 / 2;
	s.cpu_seconds = 2.5;
	s.cpu_percent = 1.25;
	return s;
}

// A socket that listens but never accepts: connect succeeds, no answer comes.
int listening_socket(const std::string &path)
{
	const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
	REQUIRE(::bind(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) == 0);
	REQUIRE(::listen(fd, 4) == 0);
	return fd;
}

} // namespace

TEST_CASE("format_duration", "[unit][ctl]")
{
	CHECK(ctl::format_duration(0) == "0s");
	CHECK(ctl::format_duration(1.5) == "1s");
	CHECK(ctl::format_duration(59.99) == "59s");
	CHECK(ctl::format_duration(60) == "1m00s");
	CHECK(ctl::format_duration(123) == "2m03s");
	CHECK(ctl::format_duration(3723) == "1h02m03s");
	CHECK(ctl::format_duration(86400 + 3723) == "1d01h02m03s");
	CHECK(ctl::format_duration(-5) == "0s");
	CHECK(ctl::format_duration(std::nan("")) == "0s");
}

TEST_CASE("printable escapes what could drive a terminal", "[unit][ctl]")
{
	CHECK(ctl::printable("plain caf\xc3\xa9") == "plain caf\xc3\xa9");
	CHECK(ctl::printable("a\nb\tc\r") == "a\\nb\\tc\\r");
	CHECK(ctl::printable("\x1b[31m\x7f") == "\\x1b[31m\\x7f");
	CHECK(ctl::printable("\xc2\x9b"
			     "2J") == "\\u009b2J");
}

TEST_CASE("format_status shows header, hooks, events and sink", "[unit][ctl]")
{
	const std::string text = ctl::format_status(view_snapshot());
	const std::string expected =
		"version:       0.1.0\n"
		"pid:           321\n"
		"uptime:        1h02m03s\n"
		"backend:       lkm (ebpf: kernel has no BTF)\n"
		"kernel:        6.18.44\n"
		"hostname:      db-7\n"
		"host_id:       hid\n"
		"run_id:        rid\n"
		"rings:         percpu (4 of 256 KiB)\n"
		"rss:           1.5 MiB\n"
		"cpu:           1.2% (2.50 s total)\n"
		"\n"
		"NAME         STATE        ATTACH    KERNEL_DROPS  CALLS  AVG_NS  P99_NS  REASON\n"
		"execve       attached     sys_exit         12345      -       -       -\n"
		"init_module  unavailable  sys_exit             0      -       -       -  no modules\n"
		"hook timing: off (hook_timing: true in smithd.yaml turns it on)\n"
		"\n"
		"TYPE                RECEIVED  SENT\n"
		"execve                     7     7\n"
		"connect                    8     8\n"
		"init_module                0     0\n"
		"finit_module               1     1\n"
		"connect_suppressed         0     0\n"
		"\n"
		"sink:          kafka\n"
		"target:        b1:9092,b2:9092\n"
		"connected:     no\n"
		"last error:    broker down\\n\\x1b[31mred\n"
		"written:       15\n"
		"failed:        2\n"
		"in flight:     0\n"
		"queue depth:   4\n"
		"spool:         0 events, 8192 bytes (0 spooled, 0 replayed since start)\n"
		"spool losses:  0 dropped by the size bound, 0 damaged records skipped\n"
		"refused:       0 events refused by the broker for good (dead-letter file), 0 producers "
		"rebuilt\n"
		"decode errors: 5\n"
		"suppressed:    1234 connect calls held back by the connect budget\n"
		"last seq:      16\n";
	CHECK(text == expected);

	control::StatusSnapshot timed = view_snapshot();
	timed.hook_timing = true;
	timed.programs = {{"fexit___x64_sys_execve", 10, 7000}};
	const std::string with_timing = ctl::format_status(timed);
	CHECK(with_timing.find("execve       attached     sys_exit         12345     10     700    1024\n") !=
	      std::string::npos);
	CHECK(with_timing.find("hook timing: off") == std::string::npos);
	CHECK(with_timing.find("PROGRAM                 RUNS  AVG_NS\n"
			       "fexit___x64_sys_execve    10     700\n") != std::string::npos);

	control::StatusSnapshot none = view_snapshot();
	none.hooks.clear();
	none.sink.last_error.clear();
	const std::string bare = ctl::format_status(none);
	CHECK(bare.find("hooks: none\n") != std::string::npos);
	CHECK(bare.find("last error:    none\n") != std::string::npos);
}

TEST_CASE("status_from_json reads what status_to_json writes", "[unit][ctl]")
{
	control::StatusSnapshot s = view_snapshot();
	s.sink.last_error = "quote \" backslash \\ newline \n bad \xff";
	s.last_seq = UINT64_MAX;
	s.pid = -1;
	const std::string json = control::status_to_json(s);
	const control::StatusSnapshot got = ctl::status_from_json(json);
	CHECK(got.sink.last_error == "quote \" backslash \\ newline \n bad \xEF\xBF\xBD");
	CHECK(got.last_seq == UINT64_MAX);
	CHECK(got.pid == -1);
	CHECK(got.time == 1764753313.125);
	CHECK(got.heartbeat_interval_seconds == 5);
	CHECK(got.hooks.size() == 2);
	CHECK(got.hooks[0].kernel_drops == 12345);
	CHECK(got.hooks[0].calls == 10);
	CHECK(got.hooks[0].avg_ns == 700);
	CHECK(got.hooks[0].p99_ns == 1024);
	CHECK(got.rings.mode == "percpu");
	CHECK(got.rings.count == 4);
	CHECK(got.rings.bytes == 256 * 1024);
	CHECK(control::status_to_json(got) == json);
}

TEST_CASE("status_from_json rejects what is not a status", "[unit][ctl]")
{
	using Catch::Contains;
	const std::string good = control::status_to_json(view_snapshot());

	CHECK_THROWS_WITH(ctl::status_from_json("not json"), Contains("not JSON"));
	CHECK_THROWS_WITH(ctl::status_from_json(""), Contains("not JSON"));
	CHECK_THROWS_WITH(ctl::status_from_json("[1,2]"), Contains("not a JSON object"));
	CHECK_THROWS_WITH(ctl::status_from_json(R"({"error":"unknown request: x"})"),
			  "smithd answered with an error: unknown request: x");
	CHECK_THROWS_WITH(ctl::check_answer(R"({"error":"status unavailable: later"})"),
			  Contains("status unavailable: later"));
	CHECK_NOTHROW(ctl::check_answer(good));
	CHECK_THROWS_WITH(ctl::status_from_json(good.substr(0, good.size() - 1)), Contains("not JSON"));

	auto replaced = [&](const std::string &from, const std::string &to) {
		std::string j = good;
		const size_t at = j.find(from);
		REQUIRE(at != std::string::npos);
		return j.replace(at, from.size(), to);
	};
	CHECK_THROWS_WITH(ctl::status_from_json(replaced("\"connected\":false", "\"connected\":0")),
			  Contains("\"sink.connected\" is not true or false"));
	CHECK_THROWS_WITH(ctl::status_from_json(replaced("\"pid\":321", "\"pid\":\"321\"")),
			  Contains("\"pid\" is not an integer"));
	CHECK_THROWS_WITH(ctl::status_from_json(replaced("\"time\":1764753313.125", "\"time\":\"now\"")),
			  Contains("\"time\" is not a number"));
	CHECK_THROWS_WITH(ctl::status_from_json(replaced("\"heartbeat_interval_seconds\":5,", "")),
			  Contains("\"heartbeat_interval_seconds\" is missing"));
	CHECK_THROWS_WITH(ctl::status_from_json(replaced("\"decode_errors\":5", "\"decode_errors\":-5")),
			  Contains("\"decode_errors\" is not an unsigned integer"));
	CHECK_THROWS_WITH(ctl::status_from_json(replaced("\"connect_suppressed\":0}}", "\"x\":0}}")),
			  Contains("\"events.sent.connect_suppressed\" is missing"));
	CHECK_THROWS_WITH(ctl::status_from_json(replaced("{\"name\":\"init_module\",", "{")),
			  Contains("\"hooks[1].name\" is missing"));
	CHECK_THROWS_WITH(ctl::status_from_json(replaced("\"hooks\":[", "\"hooks\":[1,")),
			  Contains("\"hooks[0]\" is not an object"));
	// Members the parser does not know are ignored: the format may grow.
	CHECK(ctl::status_from_json(replaced("{\"version\"", "{\"future\":[1],\"version\"")).pid == 321);
}

TEST_CASE("control_request reports a daemon that is not running", "[unit][ctl]")
{
	TempDir dir;
	const std::string path = dir / "smithd.sock";

	SECTION("no socket file")
	{
		try {
			ctl::control_request(path, "status");
			FAIL("expected ControlError");
		} catch (const ControlError &e) {
			CHECK(e.kind() == ControlError::Kind::not_running);
			CHECK(std::string(e.what()) ==
			      "smithd is not running (no answer on " + path + ": No such file or directory)");
		}
	}
	SECTION("stale socket file, no one listening")
	{
		const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
		sockaddr_un addr{};
		addr.sun_family = AF_UNIX;
		path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
		REQUIRE(::bind(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) == 0);
		::close(fd);
		try {
			ctl::control_request(path, "status");
			FAIL("expected ControlError");
		} catch (const ControlError &e) {
			CHECK(e.kind() == ControlError::Kind::not_running);
			CHECK(std::string(e.what()) ==
			      "smithd is not running (no answer on " + path + ": Connection refused)");
		}
	}
	SECTION("a listener that never answers times out")
	{
		const int fd = listening_socket(path);
		const auto t0 = std::chrono::steady_clock::now();
		CHECK_THROWS_WITH(ctl::control_request(path, "status", std::chrono::milliseconds(200)),
				  Catch::Contains("did not answer") && Catch::Contains(path));
		CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
		::close(fd);
	}
}

TEST_CASE("control_request reports permission denied on a root socket", "[unit][ctl]")
{
	if (::geteuid() != 0)
		return; // needs a socket owned by someone else; root creates one below
	TempDir dir;
	const std::string path = dir / "smithd.sock";
	::chmod((dir / "").c_str(), 0755);
	daemon::ControlServer server(path, [] { return std::string("{}"); });
	server.start();

	// The check runs in a child that drops to an unprivileged user, so the
	// test process keeps its own identity.
	const pid_t child = ::fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		if (::setgid(65534) != 0 || ::setuid(65534) != 0)
			::_exit(3);
		try {
			ctl::control_request(path, "status");
		} catch (const ControlError &e) {
			const bool ok =
				e.kind() == ControlError::Kind::permission_denied &&
				std::string(e.what()).find("run smithctl as root") != std::string::npos &&
				std::string(e.what()).find(path) != std::string::npos;
			::_exit(ok ? 0 : 1);
		} catch (...) {
		}
		::_exit(2);
	}
	int status = 0;
	REQUIRE(::waitpid(child, &status, 0) == child);
	REQUIRE(WIFEXITED(status));
	CHECK(WEXITSTATUS(status) == 0);
}
