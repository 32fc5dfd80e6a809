// execve: successful execs (reported when the new image starts) and failed attempts (reported with -errno).
#include "smithd_fixture.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

using namespace smith::e2e;

namespace {

std::vector<char *> c_strings(std::vector<std::string> &v)
{
	std::vector<char *> out;
	for (auto &s : v)
		out.push_back(s.data());
	out.push_back(nullptr);
	return out;
}

// A working directory whose path needs care: a space and a non-ASCII character.
std::string make_awkward_dir(const TempDir &base)
{
	std::string dir = base.path() + "/dir \xC3\xA9 x"; // "dir é x"
	REQUIRE(mkdir(dir.c_str(), 0755) == 0);
	return dir;
}

EventPredicate exec_of(pid_t pid, const std::string &filename)
{
	return [pid, filename](const Event &e) {
		return e.type() == "execve" && e.pid() == pid && e.str("filename") == filename;
	};
}

} // namespace

TEST_CASE("execve: a successful exec is reported with its image and arguments and fds and context",
          "[e2e][root][ebpf]")
{
	Smithd smithd;
	TempDir base("smith-e2e-cwd-");
	const std::string cwd = make_awkward_dir(base);

	int stdin_pipe[2];
	REQUIRE(pipe2(stdin_pipe, O_CLOEXEC) == 0);
	struct stat pipe_st{};
	REQUIRE(fstat(stdin_pipe[0], &pipe_st) == 0);
	Fd pipe_read(stdin_pipe[0]), pipe_write(stdin_pipe[1]);
	Fd devnull(open("/dev/null", O_WRONLY | O_CLOEXEC));
	REQUIRE(devnull.get() >= 0);

	std::vector<std::string> argv = {"/bin/echo", "hello world", "quote\"back\\slash", "new\nline"};
	std::vector<std::string> envp = {"PATH=/usr/bin:/bin", "SMITH_E2E=1"};
	auto c_argv = c_strings(argv);
	auto c_envp = c_strings(envp);

	pid_t child = spawn([&] {
		if (chdir(cwd.c_str()) != 0)
			_exit(126);
		dup2(pipe_read.get(), 0);
		dup2(devnull.get(), 1);
		execve("/bin/echo", c_argv.data(), c_envp.data());
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 0);

	Event e = smithd.wait_for("execve of /bin/echo by pid " + std::to_string(child), exec_of(child, "/bin/echo"),
	                          10s, child);
	INFO("event: " << e.line());
	check_host_fields(e, "execve");
	check_inherited_context(e);
	CHECK(e.i64("pid") == child);
	CHECK(e.i64("tid") == child);
	CHECK(e.i64("ppid") == getpid());
	CHECK(e.str("nodename") == uts_nodename());
	CHECK(e.str("comm") == "echo");
	CHECK(e.str("exe") == real_path("/bin/echo"));
	CHECK(e.str("cwd") == cwd);
	CHECK(e.str("filename") == "/bin/echo");
	CHECK(e.strings("argv") == argv);
	CHECK(e.boolean("argv_truncated") == false);
	CHECK(e.str("stdin") == "pipe:[" + std::to_string(pipe_st.st_ino) + "]");
	CHECK(e.str("stdout") == "/dev/null");
	CHECK(e.str("ld_preload") == "");
	CHECK(e.i64("retval") == 0);

	// One exec, one event.
	std::this_thread::sleep_for(500ms);
	CHECK(smithd.count([child](const Event &ev) { return ev.type() == "execve" && ev.pid() == child; }) == 1);
}

TEST_CASE("execve: LD_PRELOAD of the new image is reported", "[e2e][root][ebpf]")
{
	Smithd smithd;
	std::vector<std::string> argv = {"/bin/true"};
	std::vector<std::string> envp = {"PATH=/usr/bin:/bin", "LD_PRELOAD=/nonexistent/libx.so", "SMITH_E2E=1"};
	auto c_argv = c_strings(argv);
	auto c_envp = c_strings(envp);
	Fd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
	REQUIRE(devnull.get() >= 0);

	pid_t child = spawn([&] {
		dup2(devnull.get(), 0);
		dup2(devnull.get(), 1);
		dup2(devnull.get(), 2); // ld.so complains about the missing library, and goes on
		execve("/bin/true", c_argv.data(), c_envp.data());
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 0);

	Event e = smithd.wait_for("execve of /bin/true by pid " + std::to_string(child), exec_of(child, "/bin/true"),
	                          10s, child);
	INFO("event: " << e.line());
	check_host_fields(e, "execve");
	CHECK(e.str("ld_preload") == "/nonexistent/libx.so");
	CHECK(e.str("exe") == real_path("/bin/true"));
	CHECK(e.str("comm") == "true");
	CHECK(e.strings("argv") == argv);
	CHECK(e.str("stdin") == "/dev/null");
	CHECK(e.str("stdout") == "/dev/null");
	CHECK(e.i64("retval") == 0);
}

TEST_CASE("execve: a failed attempt is reported with -errno and the image of the caller", "[e2e][root][ebpf]")
{
	Smithd smithd;
	TempDir base("smith-e2e-cwd-");
	const std::string cwd = make_awkward_dir(base);
	std::vector<std::string> argv = {"smith-missing", "a"};
	std::vector<std::string> envp = {"PATH=/usr/bin:/bin"};
	auto c_argv = c_strings(argv);
	auto c_envp = c_strings(envp);

	pid_t child = spawn([&] {
		if (chdir(cwd.c_str()) != 0)
			_exit(126);
		execve("/nonexistent/smith-missing", c_argv.data(), c_envp.data());
		_exit(127);
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 127);

	Event e = smithd.wait_for("failed execve of /nonexistent/smith-missing by pid " + std::to_string(child),
	                          exec_of(child, "/nonexistent/smith-missing"), 10s, child);
	INFO("event: " << e.line());
	check_host_fields(e, "execve");
	check_inherited_context(e);
	CHECK(e.i64("pid") == child);
	CHECK(e.i64("tid") == child);
	CHECK(e.i64("ppid") == getpid());
	CHECK(e.str("filename") == "/nonexistent/smith-missing");
	CHECK(e.strings("argv") == argv);
	CHECK(e.boolean("argv_truncated") == false);
	CHECK(e.i64("retval") == -2);
	CHECK(e.str("exe") == self_exe());
	CHECK(e.str("comm") == self_comm());
	CHECK(e.str("cwd") == cwd);
	CHECK(e.str("ld_preload") == "");

	// One attempt, one event.
	std::this_thread::sleep_for(500ms);
	CHECK(smithd.count([child](const Event &ev) { return ev.type() == "execve" && ev.pid() == child; }) == 1);
}
