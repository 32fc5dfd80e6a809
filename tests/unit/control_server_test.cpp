// ControlServer: the daemon's end of the control socket, exercised through
// raw sockets and through smithctl's client and parser.
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "control/protocol.h"
#include "control/status.h"
#include "ctl/control_client.h"
#include "ctl/status_parse.h"
#include "daemon/control_server.h"

using smith::control::StatusSnapshot;
using smith::daemon::ControlServer;
using Clock = std::chrono::steady_clock;

namespace {

class TempDir {
public:
	TempDir()
	{
		char tmpl[] = "/tmp/smith-control-test-XXXXXX";
		REQUIRE(::mkdtemp(tmpl) != nullptr);
		path_ = tmpl;
	}
	~TempDir() { std::filesystem::remove_all(path_); }
	std::string operator/(const std::string &name) const { return path_ + "/" + name; }

private:
	std::string path_;
};

StatusSnapshot sample_snapshot()
{
	StatusSnapshot s;
	s.version = "0.1.0";
	s.pid = 4242;
	s.uptime_seconds = 3723.25;
	s.hostname = "web-01";
	s.host_id = "5b1d8a0c2f9e4e7fa2f1b6c0d3e4f5a6";
	s.run_id = "c0ffee00deadbeef";
	s.kernel = "6.18.44";
	s.backend = "ebpf";
	s.backend_reason = "requested";
	s.hooks = {{"execve", "attached", "", "fexit", 0},
		   {"execveat", "attached", "", "fexit", 3},
		   {"connect", "attached", "", "sys_exit", 0},
		   {"init_module", "unavailable", "no module support", "fexit", 0},
		   {"finit_module", "failed", "attach: -22", "fexit", 0}};
	s.received = {100, 50, 1, 2};
	s.sent = {99, 50, 1, 2};
	s.decode_errors = 1;
	s.last_seq = 152;
	s.queue_depth = 3;
	s.spool_bytes = 1ull << 33;
	s.sink = {"file", "/var/log/smith/events.json", true, "", 152, 0};
	s.rss_bytes = 25165824;
	s.cpu_seconds = 12.75;
	s.cpu_percent = 0.3;
	return s;
}

sockaddr_un address(const std::string &path)
{
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	REQUIRE(path.size() < sizeof(addr.sun_path));
	path.copy(addr.sun_path, path.size());
	return addr;
}

// A connected client socket, closed on scope exit.
class Client {
public:
	explicit Client(const std::string &path) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0))
	{
		REQUIRE(fd_ >= 0);
		const sockaddr_un addr = address(path);
		REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) == 0);
		const timeval tv = {5, 0};
		::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	~Client() { ::close(fd_); }

	void send(std::string_view bytes)
	{
		REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
			static_cast<ssize_t>(bytes.size()));
	}
	void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

	// Everything the server sends until it closes the connection.
	std::string read_all()
	{
		std::string out;
		char buf[4096];
		for (;;) {
			const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
			if (n <= 0)
				break;
			out.append(buf, static_cast<size_t>(n));
		}
		return out;
	}

private:
	int fd_;
};

std::string ask(const std::string &path, std::string_view request_bytes)
{
	Client c(path);
	c.send(request_bytes);
	return c.read_all();
}

bool is_valid_json_object(const std::string &line)
{
	simdjson::dom::parser parser;
	simdjson::dom::object obj;
	return parser.parse(simdjson::padded_string(line)).get(obj) == simdjson::SUCCESS;
}

std::string status_json_provider()
{
	return smith::control::status_to_json(sample_snapshot());
}

} // namespace

TEST_CASE("control server answers status with the provider's snapshot", "[unit][control]")
{
	TempDir dir;
	const std::string path = dir / "smithd.sock";
	std::atomic<int> calls{0};
	ControlServer server(path, [&] {
		++calls;
		return status_json_provider();
	});
	server.start();

	SECTION("raw socket: one line, newline-terminated, then close")
	{
		const std::string answer = ask(path, "status\n");
		REQUIRE(!answer.empty());
		CHECK(answer.back() == '\n');
		CHECK(answer.find('\n') == answer.size() - 1);
		CHECK(answer == status_json_provider() + "\n");
	}
	SECTION("smithctl's client and parser give back the same snapshot")
	{
		const std::string answer = smith::ctl::control_request(path, smith::control::kStatusRequest);
		const StatusSnapshot got = smith::ctl::status_from_json(answer);
		const StatusSnapshot want = sample_snapshot();
		CHECK(got.pid == want.pid);
		CHECK(got.uptime_seconds == want.uptime_seconds);
		CHECK(got.hostname == want.hostname);
		CHECK(got.backend == want.backend);
		REQUIRE(got.hooks.size() == want.hooks.size());
		CHECK(got.hooks[1].kernel_drops == 3);
		CHECK(got.hooks[4].state == "failed");
		CHECK(got.hooks[4].reason == "attach: -22");
		CHECK(got.hooks[0].attach == "fexit");
		CHECK(got.hooks[2].attach == "sys_exit");
		CHECK(got.received == want.received);
		CHECK(got.sent == want.sent);
		CHECK(got.spool_bytes == want.spool_bytes);
		CHECK(got.sink.target == want.sink.target);
		CHECK(got.sink.connected);
		CHECK(got.cpu_seconds == want.cpu_seconds);
		// Every field: serialising the parsed snapshot gives the same text.
		CHECK(smith::control::status_to_json(got) == answer);
	}
	SECTION("a request without newline, then end of input, is still answered")
	{
		Client c(path);
		c.send("status");
		c.shutdown_write();
		CHECK(c.read_all() == status_json_provider() + "\n");
	}
	SECTION("CRLF line ends are accepted")
	{
		CHECK(ask(path, "status\r\n") == status_json_provider() + "\n");
	}
	SECTION("several clients in turn")
	{
		for (int i = 0; i < 20; ++i)
			CHECK(ask(path, "status\n") == status_json_provider() + "\n");
		CHECK(calls == 20);
	}
	server.stop();
}

TEST_CASE("control server socket is mode 0600 in a created 0755 directory, removed on stop",
	  "[unit][control]")
{
	TempDir dir;
	const std::string path = dir / "run/smith/smithd.sock";
	{
		ControlServer server(path, status_json_provider);
		server.start();
		struct stat st;
		REQUIRE(::lstat(path.c_str(), &st) == 0);
		CHECK(S_ISSOCK(st.st_mode));
		CHECK((st.st_mode & 07777) == 0600);

		const mode_t mask = ::umask(0);
		::umask(mask);
		REQUIRE(::stat((dir / "run/smith").c_str(), &st) == 0);
		CHECK(S_ISDIR(st.st_mode));
		CHECK((st.st_mode & 07777) == (0755 & ~mask));

		server.stop();
		CHECK_FALSE(std::filesystem::exists(path));
		server.stop(); // idempotent
	}
	// The destructor stops a running server too.
	{
		ControlServer server(path, status_json_provider);
		server.start();
		CHECK(std::filesystem::exists(path));
	}
	CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("control server answers other requests with an error object", "[unit][control]")
{
	TempDir dir;
	const std::string path = dir / "smithd.sock";
	ControlServer server(path, status_json_provider);
	server.start();

	CHECK(ask(path, "hello\n") == "{\"error\":\"unknown request: hello\"}\n");
	CHECK(ask(path, "\n") == "{\"error\":\"unknown request: \"}\n");
	CHECK(ask(path, "status \n") == "{\"error\":\"unknown request: status \"}\n");

	// Hostile bytes in the request are escaped; the answer is still one JSON line.
	const std::string hostile = ask(path, std::string("\"}\x01\xff\\x\0y\n", 10));
	REQUIRE(!hostile.empty());
	CHECK(hostile.find('\n') == hostile.size() - 1);
	CHECK(is_valid_json_object(hostile.substr(0, hostile.size() - 1)));

	// The limit counts the newline: 255 bytes + '\n' is a request, 256 + '\n' is not.
	const std::string longest(smith::control::kMaxRequestBytes - 1, 'a');
	CHECK(ask(path, longest + "\n") == "{\"error\":\"unknown request: " + longest + "\"}\n");
	CHECK(ask(path, std::string(smith::control::kMaxRequestBytes, 'a') + "\n") ==
	      "{\"error\":\"request too long\"}\n");
	CHECK(ask(path, std::string(10000, 'a')) == "{\"error\":\"request too long\"}\n");

	// Only the first line counts.
	CHECK(ask(path, "status\nstatus\n") == status_json_provider() + "\n");
}

TEST_CASE("control server survives a provider that throws", "[unit][control]")
{
	TempDir dir;
	const std::string path = dir / "smithd.sock";
	std::atomic<bool> fail{true};
	ControlServer server(path, [&]() -> std::string {
		if (fail)
			throw std::runtime_error("no snapshot \"yet\"");
		return "{}";
	});
	server.start();
	CHECK(ask(path, "status\n") == "{\"error\":\"status unavailable: no snapshot \\\"yet\\\"\"}\n");
	fail = false;
	CHECK(ask(path, "status\n") == "{}\n");
}

TEST_CASE("a silent client neither blocks others for long nor delays stop", "[unit][control]")
{
	TempDir dir;
	const std::string path = dir / "smithd.sock";
	ControlServer server(path, status_json_provider);
	server.start();

	SECTION("the silent client is dropped after the request timeout")
	{
		const auto t0 = Clock::now();
		Client silent(path);
		CHECK(ask(path, "status\n") == status_json_provider() + "\n");
		const auto waited = Clock::now() - t0;
		CHECK(waited < smith::control::kRequestTimeout + std::chrono::milliseconds(1500));
		CHECK(silent.read_all().empty()); // closed without an answer
	}
	SECTION("a client that sends part of a line and stalls is dropped too")
	{
		Client partial(path);
		partial.send("sta");
		CHECK(ask(path, "status\n") == status_json_provider() + "\n");
		CHECK(partial.read_all().empty());
	}
	SECTION("stop() does not wait for the silent client")
	{
		Client silent(path);
		// Give the server time to accept it and block on its request.
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
		const auto t0 = Clock::now();
		server.stop();
		CHECK(Clock::now() - t0 < std::chrono::milliseconds(500));
		CHECK_FALSE(std::filesystem::exists(path));
	}
}

TEST_CASE("control server replaces a stale socket and refuses a live one", "[unit][control]")
{
	TempDir dir;
	const std::string path = dir / "smithd.sock";

	SECTION("stale: a socket file no one listens on is replaced")
	{
		const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
		const sockaddr_un addr = address(path);
		REQUIRE(::bind(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) == 0);
		::close(fd); // the file stays behind, as after a crash
		REQUIRE(std::filesystem::is_socket(path));

		ControlServer server(path, status_json_provider);
		server.start();
		CHECK(ask(path, "status\n") == status_json_provider() + "\n");
	}
	SECTION("live: a second server on the same path is refused, the first keeps serving")
	{
		ControlServer first(path, status_json_provider);
		first.start();
		ControlServer second(path, [] { return std::string("{\"second\":true}"); });
		try {
			second.start();
			FAIL("second start() should have thrown");
		} catch (const std::runtime_error &e) {
			CHECK(std::string(e.what()) ==
			      "another smithd is running (socket " + path + " answers)");
		}
		second.stop(); // a server that never started stops quietly
		CHECK(ask(path, "status\n") == status_json_provider() + "\n");
	}
	SECTION("a file that is not a socket is left alone")
	{
		std::ofstream(path) << "keep me";
		ControlServer server(path, status_json_provider);
		CHECK_THROWS_WITH(server.start(), Catch::Contains(path) && Catch::Contains("not a socket"));
		CHECK(std::filesystem::is_regular_file(path));
	}
	SECTION("stop() leaves a socket file that is no longer its own")
	{
		ControlServer server(path, status_json_provider);
		server.start();
		std::filesystem::remove(path);
		std::ofstream(path) << "someone else's";
		server.stop();
		CHECK(std::filesystem::is_regular_file(path));
	}
}

TEST_CASE("control server start() errors name the path and the reason", "[unit][control]")
{
	TempDir dir;

	SECTION("parent is a regular file")
	{
		std::ofstream(dir / "file") << "x";
		const std::string path = dir / "file/smithd.sock";
		ControlServer server(path, status_json_provider);
		CHECK_THROWS_WITH(server.start(),
				  Catch::Contains(path) && Catch::Contains("not a directory"));
	}
	SECTION("path longer than a Unix socket address holds")
	{
		const std::string path = dir / (std::string(200, 's') + ".sock");
		ControlServer server(path, status_json_provider);
		CHECK_THROWS_WITH(server.start(), Catch::Contains("too long") && Catch::Contains(path));
	}
	SECTION("bind in a directory we may not write to")
	{
		if (::geteuid() == 0)
			return; // root writes anywhere
		const std::string locked = dir / "locked";
		std::filesystem::create_directory(locked);
		::chmod(locked.c_str(), 0500);
		const std::string path = locked + "/smithd.sock";
		ControlServer server(path, status_json_provider);
		CHECK_THROWS_WITH(server.start(),
				  "cannot bind control socket " + path + ": " + std::strerror(EACCES));
	}
	SECTION("start() twice")
	{
		ControlServer server(dir / "smithd.sock", status_json_provider);
		server.start();
		CHECK_THROWS_AS(server.start(), std::logic_error);
	}
}
