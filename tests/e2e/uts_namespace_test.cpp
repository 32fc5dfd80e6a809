// UTS namespaces: `nodename` is the task's own UTS nodename (a container's name), `hostname` the host's.
#include "backends.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace smith::e2e;

TEST_CASE("uts namespace: events carry the nodename of the task and the hostname of the host", "[e2e]")
{
	shared_daemons();
	const std::string nodename = "smith-e2e-uts";
	const std::string host = host_name();
	REQUIRE(host != nodename);
	std::vector<std::string> argv = {"/bin/true", "in-uts-ns"};
	std::vector<std::string> envp = {"PATH=/bin"};
	auto c_argv = c_strings(argv);
	auto c_envp = c_strings(envp);
	// The child execs only once its connect was reported: smithd takes a connect's exe and cwd from
	// /proc when it first sees the process, and they must still be this program's then.
	int go[2];
	REQUIRE(pipe2(go, O_CLOEXEC) == 0);
	Fd go_read(go[0]), go_write(go[1]);
	pid_t child = spawn([&] {
		go_write.reset();
		if (unshare(CLONE_NEWUTS) != 0)
			_exit(120);
		if (sethostname(nodename.data(), nodename.size()) != 0)
			_exit(121);
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		if (s < 0 || connect_to(s, AF_INET, "127.0.0.1", 9) != 0)
			_exit(122);
		close(s);
		char byte;
		if (read(go_read.get(), &byte, 1) != 1)
			_exit(123);
		execve("/bin/true", c_argv.data(), c_envp.data());
	});
	REQUIRE(child > 0);
	go_read.reset();

	expect_in_every_backend(
		"udp connect to 127.0.0.1:9 by pid " + std::to_string(child) + " in its UTS namespace",
		[&](const Event &e) {
			return e.type() == "connect" && e.pid() == child && e.i64("dport") == 9;
		},
		[&](const Event &e, const Smithd &d) {
			check_common(e, "connect", d);
			CHECK(e.str("nodename") == nodename);
			CHECK(e.str("hostname") == host);
			CHECK(e.str("protocol") == "udp");
			CHECK(e.str("daddr") == "127.0.0.1");
			CHECK(e.i64("dport") == 9);
			CHECK(e.i64("retval") == 0);
			CHECK(e.str("exe") == self_exe());
			CHECK(e.str("cwd") == current_dir());
		},
		child);
	REQUIRE(write(go_write.get(), "x", 1) == 1);
	REQUIRE(wait_exit(child) == 0);

	expect_in_every_backend(
		"execve of /bin/true by pid " + std::to_string(child) + " in its UTS namespace",
		[&](const Event &e) {
			return e.type() == "execve" && e.pid() == child && e.str("filename") == "/bin/true";
		},
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.str("nodename") == nodename);
			CHECK(e.str("hostname") == host);
			CHECK(e.strings("argv") == argv);
			CHECK(e.i64("retval") == 0);
		},
		child);
	// Outside the namespace nothing changed.
	CHECK(uts_nodename() != nodename);
}
