// The reverse-shell signal: a shell whose stdin and stdout are a TCP connection shows the connection's
// 4-tuple in its execve event.
#include "backends.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace smith::e2e;

namespace {

struct ShellCase {
	int family;	       // AF_INET or AF_INET6
	std::string addr;      // loopback address as inet_ntop writes it
	std::string bracketed; // as it appears in "tcp:ADDR:PORT->ADDR:PORT"
};

} // namespace

TEST_CASE("execve: a shell with a TCP socket on stdin and stdout shows the connection", "[e2e]")
{
	shared_daemons();
	auto c = GENERATE(ShellCase{AF_INET, "127.0.0.1", "127.0.0.1"}, ShellCase{AF_INET6, "::1", "[::1]"});
	INFO("over " << c.addr);

	Fd listener(tcp_listener(c.family));
	REQUIRE(listener.get() >= 0);
	const uint16_t lport = local_endpoint(listener.get()).port;

	char arg0[] = "sh", arg1[] = "-c", arg2[] = "exit 0";
	char *argv[] = {arg0, arg1, arg2, nullptr};
	char env0[] = "PATH=/usr/bin:/bin";
	char *envp[] = {env0, nullptr};
	// The child execs only once its connect was reported: smithd takes a connect's exe and cwd from
	// /proc when it first sees the process, and they must still be this program's then.
	int go[2];
	REQUIRE(pipe2(go, O_CLOEXEC) == 0);
	Fd go_read(go[0]), go_write(go[1]);
	pid_t child = spawn([&] {
		go_write.reset();
		int s = socket(c.family, SOCK_STREAM, 0);
		if (s < 0 || connect_to(s, c.family, c.addr, lport) != 0)
			_exit(125);
		char byte;
		if (read(go_read.get(), &byte, 1) != 1)
			_exit(124);
		dup2(s, 0);
		dup2(s, 1);
		close(s);
		execve("/bin/sh", argv, envp);
	});
	REQUIRE(child > 0);
	go_read.reset();

	pollfd pfd{listener.get(), POLLIN, 0};
	REQUIRE(poll(&pfd, 1, 10000) == 1);
	Fd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
	REQUIRE(conn.get() >= 0);
	const Endpoint peer = peer_endpoint(conn.get());
	REQUIRE(peer.addr == c.addr);
	expect_in_every_backend(
		"tcp connect by pid " + std::to_string(child),
		[&](const Event &ev) { return ev.type() == "connect" && ev.pid() == child; },
		[&](const Event &e, const Smithd &d) {
			check_common(e, "connect", d);
			CHECK(e.str("exe") == self_exe());
			CHECK(e.str("daddr") == c.addr);
			CHECK(e.i64("dport") == lport);
			CHECK(e.str("saddr") == c.addr);
			CHECK(e.i64("sport") == peer.port);
			CHECK(e.i64("retval") == 0);
		},
		child);
	REQUIRE(write(go_write.get(), "x", 1) == 1);
	REQUIRE(wait_exit(child) == 0);

	expect_in_every_backend(
		"execve of /bin/sh by pid " + std::to_string(child),
		[&](const Event &ev) {
			return ev.type() == "execve" && ev.pid() == child && ev.str("filename") == "/bin/sh";
		},
		[&](const Event &e, const Smithd &d) {
			const std::string expected = "tcp:" + c.bracketed + ":" + std::to_string(peer.port) +
						     "->" + c.bracketed + ":" + std::to_string(lport);
			check_common(e, "execve", d);
			CHECK(e.str("stdin") == expected);
			CHECK(e.str("stdout") == expected);
			CHECK(e.strings("argv") == std::vector<std::string>{"sh", "-c", "exit 0"});
			CHECK(e.str("exe") == real_path("/bin/sh"));
			CHECK(e.i64("retval") == 0);
		},
		child);
}

TEST_CASE("execve: a shell with a connected UDP socket on stdin and stdout shows the flow", "[e2e]")
{
	shared_daemons();
	Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	REQUIRE(sock.get() >= 0);
	REQUIRE(connect_to(sock.get(), AF_INET, "127.0.0.1", 9) == 0);
	const uint16_t sport = local_endpoint(sock.get()).port;

	char arg0[] = "sh", arg1[] = "-c", arg2[] = "exit 0";
	char *argv[] = {arg0, arg1, arg2, nullptr};
	char env0[] = "PATH=/usr/bin:/bin";
	char *envp[] = {env0, nullptr};
	pid_t child = spawn([&] {
		dup2(sock.get(), 0);
		dup2(sock.get(), 1);
		execve("/bin/sh", argv, envp);
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 0);

	expect_in_every_backend(
		"execve of /bin/sh by pid " + std::to_string(child),
		[&](const Event &ev) {
			return ev.type() == "execve" && ev.pid() == child && ev.str("filename") == "/bin/sh";
		},
		[&](const Event &e, const Smithd &d) {
			const std::string expected =
				"udp:127.0.0.1:" + std::to_string(sport) + "->127.0.0.1:9";
			check_common(e, "execve", d);
			CHECK(e.str("stdin") == expected);
			CHECK(e.str("stdout") == expected);
		},
		child);
}
