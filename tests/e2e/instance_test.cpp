// Starting smithd as an operator does: in the background, where a start error (a backend, sink or
// metrics port that cannot start) must still reach the terminal with exit code 1, and a second time
// beside a running one, which must stop having touched nothing of the first. Each test runs its own
// daemons, after the shared ones stopped (tests/CMakeLists.txt lists this file after
// shutdown_test.cpp).
#include "backends.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

using namespace smith::e2e;

namespace {

// smithd's arguments for a daemon of the quickest backend under test in `dir`, without --foreground.
std::vector<std::string> background_argv(const TempDir &dir)
{
	const SmithdOptions o = daemon_options(quickest_backend());
	std::vector<std::string> argv = {smithd_path(),
					 "--backend=" + o.backend,
					 "--config=/dev/null",
					 "--socket=" + dir.file("smithd.sock"),
					 "--pid-file=" + dir.file("smithd.pid"),
					 "--state-file=" + dir.file("smithd.state"),
					 "--log-file=" + dir.file("smithd.log"),
					 "--sink=file",
					 "--output=" + dir.file("events.jsonl")};
	argv.insert(argv.end(), o.extra.begin(), o.extra.end());
	if (o.backend == "lkm") // loaded by smithd, as the drops and flood tests do
		argv.push_back("--lkm-module=" + smith_ko());
	return argv;
}

// Sets each "--name=value" of `args` in `argv`, in place of the same option there or after it.
void set_args(std::vector<std::string> &argv, const std::vector<std::string> &args)
{
	for (const std::string &arg : args) {
		const std::string name = arg.substr(0, arg.find('=') + 1);
		auto it = std::find_if(argv.begin(), argv.end(),
				       [&](const std::string &a) { return a.rfind(name, 0) == 0; });
		if (it != argv.end())
			*it = arg;
		else
			argv.push_back(arg);
	}
}

long pid_in(const std::string &pid_file)
{
	std::ifstream in(pid_file);
	long pid = 0;
	in >> pid;
	return pid;
}

bool alive(long pid)
{
	return pid > 0 && kill(pid_t(pid), 0) == 0;
}

// Stops the daemon named by `pid_file` and waits until it is gone.
void stop_daemon(const std::string &pid_file)
{
	const long pid = pid_in(pid_file);
	REQUIRE(pid > 0);
	REQUIRE(kill(pid_t(pid), SIGTERM) == 0);
	for (int i = 0; i < 600 && alive(pid); ++i)
		std::this_thread::sleep_for(100ms);
	REQUIRE_FALSE(alive(pid));
}

} // namespace

TEST_CASE("start: without --foreground, a backend or sink that cannot start exits 1 with its error line",
	  "[e2e][start]")
{
	require_root();
	TempDir dir;
	struct Case {
		const char *what;
		std::vector<std::string> args;
		std::string error; // the line smithd prints, as it starts
	};
	std::vector<Case> cases = {
		{"replay backend without its file",
		 {"--replay=" + dir.file("missing.smithraw")},
		 "smithd: cannot open replay file " + dir.file("missing.smithraw") +
			 ": No such file or directory"},
		{"file sink in a missing directory",
		 {"--output=" + dir.file("missing/events.jsonl")},
		 "smithd: cannot open output file " + dir.file("missing/events.jsonl") +
			 ": No such file or directory"},
	};
	// A metrics port another program listens on; a metrics address that does not parse.
	Fd taken(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	REQUIRE(taken.get() >= 0);
	sockaddr_in loopback{};
	loopback.sin_family = AF_INET;
	loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(bind(taken.get(), reinterpret_cast<const sockaddr *>(&loopback), sizeof(loopback)) == 0);
	REQUIRE(listen(taken.get(), 1) == 0);
	const std::string taken_address = "127.0.0.1:" + std::to_string(local_endpoint(taken.get()).port);
	cases.push_back(
		{"metrics port in use",
		 {"--metrics-listen=" + taken_address},
		 "smithd: cannot listen for metrics on " + taken_address + ": Address already in use\n"});
	cases.push_back(
		{"metrics address without a port",
		 {"--metrics-listen=127.0.0.1"},
		 "smithd: metrics_listen '127.0.0.1' has no port; expected ADDRESS:PORT with a numeric "
		 "address, as 127.0.0.1:9464 or [::1]:9464\n"});
	if (access("/dev/smith", F_OK) != 0)
		cases.push_back({"lkm backend whose module file is missing",
				 {"--backend=lkm", "--lkm-module=" + dir.file("missing.ko")},
				 "smithd: --backend=lkm: /dev/smith does not exist and "});
	for (const Case &c : cases) {
		INFO(c.what);
		std::vector<std::string> argv = background_argv(dir);
		set_args(argv, c.args);
		const CommandResult r = run_command(argv, start_timeout());
		INFO("stdout: " << r.out << "\nstderr: " << r.err);
		CHECK(r.exit_code == 1);
		CHECK(r.err.rfind(c.error, 0) == 0);
		CHECK(r.err.find('\n') == r.err.size() - 1); // one line
		CHECK(access(dir.file("smithd.pid").c_str(), F_OK) != 0);
		CHECK(access(dir.file("smithd.sock").c_str(), F_OK) != 0);
	}
}

TEST_CASE("start: without --foreground, smithd exits 0 once the daemon answers, and the daemon runs on",
	  "[e2e][start]")
{
	require_root();
	TempDir dir;
	const std::vector<std::string> argv = background_argv(dir);
	const CommandResult r = run_command(argv, start_timeout());
	INFO("stdout: " << r.out << "\nstderr: " << r.err << "\nlog: " << read_file(dir.file("smithd.log")));
	REQUIRE(r.exit_code == 0);
	CHECK(r.err.empty());
	// Ready means ready: the control socket answers at once, without a retry.
	const CommandResult status =
		run_command({smithctl_path(), "status", "--json", "--socket=" + dir.file("smithd.sock")});
	CHECK(status.exit_code == 0);
	CHECK(status.out.find("\"backend\"") != std::string::npos);
	const long pid = pid_in(dir.file("smithd.pid"));
	CHECK(alive(pid));
	CHECK(pid != getpid());
	stop_daemon(dir.file("smithd.pid"));
	CHECK(access(dir.file("smithd.pid").c_str(), F_OK) != 0);
}

TEST_CASE("start: a second smithd with the same pid file exits 1 naming the first, which goes on untouched",
	  "[e2e][start]")
{
	SmithdOptions options = daemon_options(quickest_backend());
	if (options.backend == "lkm")
		options.extra.push_back("--lkm-module=" + smith_ko());
	Smithd first(options);
	const long first_pid = first.pid();
	TempDir other;
	for (bool foreground : {true, false}) {
		INFO((foreground ? "--foreground" : "detached"));
		std::vector<std::string> argv = background_argv(other);
		set_args(argv, {"--pid-file=" + first.pid_file()});
		if (foreground)
			argv.push_back("--foreground");
		const CommandResult r = run_command(argv, start_timeout());
		INFO("stderr: " << r.err);
		CHECK(r.exit_code == 1);
		CHECK(r.err == "smithd: another smithd is running (pid " + std::to_string(first_pid) +
				       "): it holds the pid file " + first.pid_file() + "; stop it first\n");
		// It stopped before it built a sink, a backend or a control socket.
		CHECK(access(other.file("events.jsonl").c_str(), F_OK) != 0);
		CHECK(access(other.file("smithd.sock").c_str(), F_OK) != 0);
		CHECK(access(other.file("smithd.state").c_str(), F_OK) != 0);
	}
	CHECK(pid_in(first.pid_file()) == first_pid);
	CHECK(first.ctl({"status", "--json"}).exit_code == 0);
	CHECK(exec_marker({&first}, "smith-e2e-second-instance") == "");
	CHECK(first.terminate() == 0);
}
