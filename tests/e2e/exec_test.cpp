// execve: successful execs (reported when the new image starts) and failed attempts (reported with -errno),
// in every backend.
#include "backends.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include <thread>

using namespace smith::e2e;

namespace {

// A working directory whose path needs care: a space and a non-ASCII character.
std::string make_awkward_dir(const TempDir &base)
{
	std::string dir = base.path() + "/dir \xC3\xA9 x"; // "dir é x"
	REQUIRE(mkdir(dir.c_str(), 0755) == 0);
	return dir;
}

// Every daemon reported exactly one execve of `pid`, half a second after its first.
void check_one_exec_event(pid_t pid)
{
	std::this_thread::sleep_for(500ms);
	for (Smithd *d : shared_daemons()) {
		INFO("[" << d->label() << "]");
		CHECK(d->count([pid](const Event &ev) { return ev.type() == "execve" && ev.pid() == pid; }) ==
		      1);
	}
}

EventPredicate exec_of(pid_t pid, const std::string &filename)
{
	return [pid, filename](const Event &e) {
		return e.type() == "execve" && e.pid() == pid && e.str("filename") == filename;
	};
}

} // namespace

TEST_CASE("execve: a successful exec is reported with its image and arguments and fds and context", "[e2e]")
{
	shared_daemons();
	TempDir base("smith-e2e-cwd-");
	const std::string cwd = make_awkward_dir(base);

	int stdin_pipe[2];
	REQUIRE(pipe2(stdin_pipe, O_CLOEXEC) == 0);
	struct stat pipe_st {};
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

	expect_in_every_backend(
		"execve of /bin/echo by pid " + std::to_string(child), exec_of(child, "/bin/echo"),
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
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
		},
		child);

	check_one_exec_event(child); // one exec, one event
}

TEST_CASE("execve: LD_PRELOAD of the new image is reported", "[e2e]")
{
	shared_daemons();
	std::vector<std::string> argv = {"/bin/true"};
	std::vector<std::string> envp = {"PATH=/usr/bin:/bin", "LD_PRELOAD=/nonexistent/libx.so",
					 "SMITH_E2E=1"};
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

	expect_in_every_backend(
		"execve of /bin/true by pid " + std::to_string(child), exec_of(child, "/bin/true"),
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.str("ld_preload") == "/nonexistent/libx.so");
			CHECK(e.str("exe") == real_path("/bin/true"));
			CHECK(e.str("comm") == "true");
			CHECK(e.strings("argv") == argv);
			CHECK(e.str("stdin") == "/dev/null");
			CHECK(e.str("stdout") == "/dev/null");
			CHECK(e.i64("retval") == 0);
		},
		child);
}

TEST_CASE("attack: LD_PRELOAD behind a padded environment is still reported", "[e2e][attack]")
{
	shared_daemons();
	struct Padding {
		std::string what;
		int small_vars; // PAD_<i>=x entries before LD_PRELOAD
		size_t big_var; // bytes of one more entry before it (0: none)
		bool decoy;	// a harmless LD_PRELOAD first: the dynamic loader takes the last one
	};
	const auto pad = GENERATE(Padding{"140 variables", 140, 0, false},
				  Padding{"one 6 KB variable", 0, 6 << 10, false},
				  Padding{"3000 variables and one of 100 KB", 3000, 100 << 10, false},
				  Padding{"a decoy LD_PRELOAD and 10 variables", 10, 0, true});
	INFO(pad.what);
	const std::string preload = "/nonexistent/smith-padded-" + std::to_string(getpid()) + ".so";
	const std::string decoy = "/nonexistent/smith-decoy-" + std::to_string(getpid()) + ".so";
	std::vector<std::string> envp = {"PATH=/usr/bin:/bin"};
	if (pad.decoy)
		envp.push_back("LD_PRELOAD=" + decoy);
	for (int i = 0; i < pad.small_vars; ++i)
		envp.push_back("PAD_" + std::to_string(i) + "=x");
	if (pad.big_var)
		envp.push_back("BIG=" + std::string(pad.big_var, 'b'));
	envp.push_back("LD_PRELOAD=" + preload);
	envp.push_back("AFTER=1");
	auto c_envp = c_strings(envp);

	// A successful exec: the kernel's copy of the environment, in the new image.
	std::vector<std::string> argv = {"/bin/true", "smith-padded"};
	auto c_argv = c_strings(argv);
	TempDir dir("smith-e2e-preload-");
	const std::string err_path = dir.path() + "/stderr";
	Fd err(open(err_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
	REQUIRE(err.get() >= 0);
	const pid_t child = spawn([&] {
		dup2(err.get(), 2); // ld.so complains about the missing library, and goes on
		execve("/bin/true", c_argv.data(), c_envp.data());
	});
	REQUIRE(wait_exit(child) == 0);
	// Where /bin/true is dynamic, its loader names the library it tried: the attack's premise.
	const std::string complaint = read_file(err_path);
	if (!complaint.empty()) {
		CHECK(complaint.find(preload) != std::string::npos);
		CHECK(complaint.find(decoy) == std::string::npos);
	}
	expect_in_every_backend(
		"execve of /bin/true by pid " + std::to_string(child) + " behind " + pad.what,
		exec_of(child, "/bin/true"),
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.str("ld_preload") == preload);
			CHECK(e.boolean("env_truncated") == false);
			CHECK(e.strings("argv") == argv);
			CHECK(e.i64("retval") == 0);
		},
		child);

	// A failed one: the caller's envp array, read entry by entry. Its path names this padding,
	// so that an earlier padding's event (same daemon, same pid) cannot stand in for it.
	static int round = 0;
	const std::string missing =
		"/nonexistent/smith-padded-" + std::to_string(getpid()) + "-" + std::to_string(++round);
	std::vector<std::string> fargv = {missing};
	auto c_fargv = c_strings(fargv);
	REQUIRE(execve(missing.c_str(), c_fargv.data(), c_envp.data()) == -1);
	REQUIRE(errno == ENOENT);
	expect_in_every_backend(
		"failed execve of " + missing + " behind " + pad.what,
		[&](const Event &e) {
			return e.type() == "execve" && e.pid() == getpid() && e.str("filename") == missing;
		},
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.str("ld_preload") == preload);
			CHECK(e.boolean("env_truncated") == false);
			CHECK(e.i64("retval") == -ENOENT);
		},
		getpid());
}

TEST_CASE("execve: a failed attempt is reported with -errno and the image of the caller", "[e2e]")
{
	shared_daemons();
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

	expect_in_every_backend(
		"failed execve of /nonexistent/smith-missing by pid " + std::to_string(child),
		exec_of(child, "/nonexistent/smith-missing"),
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
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
		},
		child);

	check_one_exec_event(child); // one attempt, one event
}

TEST_CASE("execve: a unix socket on stdin and a closed stdout", "[e2e]")
{
	shared_daemons();
	int pair[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
	Fd sock0(pair[0]), sock1(pair[1]);
	struct stat sock_st {};
	REQUIRE(fstat(sock0.get(), &sock_st) == 0);
	std::vector<std::string> argv = {"/bin/true", "socket-stdin"};
	std::vector<std::string> envp = {"PATH=/usr/bin:/bin"};
	auto c_argv = c_strings(argv);
	auto c_envp = c_strings(envp);

	pid_t child = spawn([&] {
		dup2(sock0.get(), 0);
		close(1);
		execve("/bin/true", c_argv.data(), c_envp.data());
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 0);

	expect_in_every_backend(
		"execve of /bin/true by pid " + std::to_string(child), exec_of(child, "/bin/true"),
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.str("stdin") == "socket:[" + std::to_string(sock_st.st_ino) + "]");
			CHECK(e.str("stdout") == "");
			CHECK(e.strings("argv") == argv);
		},
		child);
}

TEST_CASE("execve: the controlling tty is reported as pts/N", "[e2e]")
{
	shared_daemons();
	Fd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
	REQUIRE(master.get() >= 0);
	REQUIRE(grantpt(master.get()) == 0);
	REQUIRE(unlockpt(master.get()) == 0);
	const std::string slave = ptsname(master.get());
	REQUIRE(slave.rfind("/dev/pts/", 0) == 0);
	std::vector<std::string> argv = {"/bin/true", "with-a-tty"};
	std::vector<std::string> envp = {"PATH=/usr/bin:/bin"};
	auto c_argv = c_strings(argv);
	auto c_envp = c_strings(envp);

	pid_t child = spawn([&] {
		if (setsid() < 0)
			_exit(120);
		// A session leader without a controlling tty acquires the first tty it opens.
		int fd = open(slave.c_str(), O_RDWR);
		if (fd < 0)
			_exit(121);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execve("/bin/true", c_argv.data(), c_envp.data());
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 0);

	expect_in_every_backend(
		"execve of /bin/true by pid " + std::to_string(child), exec_of(child, "/bin/true"),
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.str("tty") == slave.substr(5)); // "pts/N"
			CHECK(e.str("stdin") == slave);
			CHECK(e.str("stdout") == slave);
			CHECK(e.i64("sid") == child);
			CHECK(e.i64("pgid") == child);
		},
		child);
}

TEST_CASE("execve: the audit session id is reported once set", "[e2e]")
{
	shared_daemons();
	int report[2];
	REQUIRE(pipe2(report, O_CLOEXEC) == 0);
	Fd report_read(report[0]), report_write(report[1]);
	std::vector<std::string> argv = {"/bin/true", "with-a-session"};
	std::vector<std::string> envp = {"PATH=/usr/bin:/bin"};
	auto c_argv = c_strings(argv);
	auto c_envp = c_strings(envp);

	pid_t child = spawn([&] {
		// Setting the login uid starts a new audit session for this process only.
		int fd = open("/proc/self/loginuid", O_WRONLY);
		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(120);
		close(fd);
		std::string sid = read_file("/proc/self/sessionid");
		if (write(report_write.get(), sid.data(), sid.size()) != static_cast<ssize_t>(sid.size()))
			_exit(121);
		execve("/bin/true", c_argv.data(), c_envp.data());
	});
	REQUIRE(child > 0);
	report_write.reset();
	const int code = wait_exit(child);
	if (code == 120) {
		skip_test("cannot set /proc/self/loginuid (kernel without audit?)");
	}
	REQUIRE(code == 0);
	char buf[32] = {};
	REQUIRE(read(report_read.get(), buf, sizeof buf - 1) > 0);
	const int64_t sessionid = std::stoll(buf);
	REQUIRE(sessionid >= 0);
	REQUIRE(sessionid != 4294967295LL);

	expect_in_every_backend(
		"execve of /bin/true by pid " + std::to_string(child), exec_of(child, "/bin/true"),
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.i64("sessionid") == sessionid);
			CHECK(e.i64("uid") == 0);
		},
		child);
}

TEST_CASE("execveat: successful and failed calls are reported, or the hook is unavailable without the call",
	  "[e2e]")
{
	const auto ds = shared_daemons();
	if (!kernel_has_execveat()) {
		// Linux before 3.19: nothing to hook, and status says so.
		for (Smithd *d : ds) {
			Status st = d->status();
			INFO("[" << d->label() << "] execveat: " << st.hook_state["execveat"] << ": "
				 << st.hook_reason["execveat"]);
			CHECK(st.hook_state["execveat"] == "unavailable");
			CHECK(st.hook_reason["execveat"].find("execveat") != std::string::npos);
		}
		return;
	}
	Fd bin_dir(open("/bin", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	REQUIRE(bin_dir.get() >= 0);
	std::vector<std::string> argv = {"true", "via-execveat"};
	std::vector<std::string> envp = {"PATH=/usr/bin:/bin"};
	auto c_argv = c_strings(argv);
	auto c_envp = c_strings(envp);

	pid_t ok_child =
		spawn([&] { syscall(SYS_execveat, bin_dir.get(), "true", c_argv.data(), c_envp.data(), 0); });
	REQUIRE(ok_child > 0);
	REQUIRE(wait_exit(ok_child) == 0);
	pid_t failed_child = spawn([&] {
		syscall(SYS_execveat, AT_FDCWD, "/nonexistent/smith-missing-at", c_argv.data(), c_envp.data(),
			0);
		_exit(127);
	});
	REQUIRE(failed_child > 0);
	REQUIRE(wait_exit(failed_child) == 127);

	expect_in_every_backend(
		"execveat of /bin/true by pid " + std::to_string(ok_child),
		[&](const Event &e) { return e.type() == "execve" && e.pid() == ok_child; },
		[&](const Event &ok, const Smithd &d) {
			check_common(ok, "execve", d);
			CHECK(ok.str("exe") == real_path("/bin/true"));
			CHECK(ok.str("comm") == "true");
			CHECK(ok.strings("argv") == argv);
			CHECK(ok.i64("retval") == 0);
		},
		ok_child);

	expect_in_every_backend(
		"failed execveat by pid " + std::to_string(failed_child),
		[&](const Event &e) { return e.type() == "execve" && e.pid() == failed_child; },
		[&](const Event &failed, const Smithd &d) {
			check_common(failed, "execve", d);
			CHECK(failed.str("filename") == "/nonexistent/smith-missing-at");
			CHECK(failed.strings("argv") == argv);
			CHECK(failed.i64("retval") == -2);
			CHECK(failed.str("exe") == self_exe());
		},
		failed_child);
}

TEST_CASE("execve: a failed attempt with more arguments than are kept is flagged as truncated", "[e2e]")
{
	shared_daemons();
	std::vector<std::string> argv = {"smith-many-args"};
	for (int i = 1; i < 300; ++i)
		argv.push_back("arg" + std::to_string(i));
	std::vector<std::string> envp = {"PATH=/usr/bin:/bin"};
	auto c_argv = c_strings(argv);
	auto c_envp = c_strings(envp);

	pid_t child = spawn([&] {
		execve("/nonexistent/smith-many-args", c_argv.data(), c_envp.data());
		_exit(127);
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 127);

	expect_in_every_backend(
		"failed execve by pid " + std::to_string(child),
		exec_of(child, "/nonexistent/smith-many-args"),
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.i64("retval") == -2);
			CHECK(e.boolean("argv_truncated") == true);
			const auto kept = e.strings("argv");
			REQUIRE(!kept.empty());
			REQUIRE(kept.size() < argv.size());
			CHECK(std::equal(kept.begin(), kept.end(), argv.begin()));
		},
		child);
}
