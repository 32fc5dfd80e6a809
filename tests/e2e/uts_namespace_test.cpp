// UTS namespaces: `nodename` is the task's own UTS nodename (a container's name), `hostname` the host's.
#include "smithd_fixture.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace smith::e2e;

TEST_CASE("uts namespace: events carry the nodename of the task and the hostname of the host",
	  "[e2e][root][ebpf]")
{
	Smithd smithd;
	const std::string nodename = "smith-e2e-uts";
	const std::string host = host_name();
	REQUIRE(host != nodename);

	char arg0[] = "/bin/true";
	char *argv[] = {arg0, nullptr};
	char env0[] = "PATH=/usr/bin:/bin";
	char *envp[] = {env0, nullptr};
	pid_t child = spawn([&] {
		if (unshare(CLONE_NEWUTS) != 0)
			_exit(120);
		if (sethostname(nodename.data(), nodename.size()) != 0)
			_exit(121);
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		if (s < 0 || connect_to(s, AF_INET, "127.0.0.1", 9) != 0)
			_exit(122);
		close(s);
		execve("/bin/true", argv, envp);
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 0);

	Event conn = smithd.wait_for(
		"udp connect to 127.0.0.1:9 by pid " + std::to_string(child),
		[&](const Event &e) {
			return e.type() == "connect" && e.pid() == child && e.i64("dport") == 9;
		},
		10s, child);
	{
		INFO("event: " << conn.line());
		check_host_fields(conn, "connect");
		CHECK(conn.str("nodename") == nodename);
		CHECK(conn.str("hostname") == host);
		CHECK(conn.str("daddr") == "127.0.0.1");
		CHECK(conn.str("protocol") == "udp");
		CHECK(conn.i64("retval") == 0);
	}

	Event exec = smithd.wait_for(
		"execve of /bin/true by pid " + std::to_string(child),
		[&](const Event &e) {
			return e.type() == "execve" && e.pid() == child && e.str("filename") == "/bin/true";
		},
		10s, child);
	INFO("event: " << exec.line());
	check_host_fields(exec, "execve");
	CHECK(exec.str("nodename") == nodename);
	CHECK(exec.str("hostname") == host);
	CHECK(exec.i64("retval") == 0);
	// Outside the namespace nothing changed.
	CHECK(uts_nodename() != nodename);
}
