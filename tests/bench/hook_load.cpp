// smith_hook_load: times loops of the syscalls smithd hooks, so that the latency a
// collector adds to each call can be read as the difference between two runs (one
// bare, one with the collector loaded). It measures nothing about smithd itself.
//
// Output: one JSON object per loop on stdout, one line each:
//   {"loop":"udp_connect","iterations":200000,"ns_per_op":612.3}
// ns_per_op is the wall time of the timed iterations (CLOCK_MONOTONIC) divided by
// their number; warm-up iterations run first and are not counted.
//
// Error policy: a syscall that does not behave as the loop expects (a UDP connect
// that fails, a TCP connect that is not refused, a child that does not exit 0) throws
// std::runtime_error; main prints it and exits 1, since the timing would be meaningless.
#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

[[noreturn]] void throw_errno(const std::string &what)
{
	throw std::runtime_error(what + ": " + std::strerror(errno));
}

uint64_t now_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

sockaddr_in loopback(uint16_t port)
{
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

// Owns one file descriptor; closes it on destruction.
class Fd {
public:
	explicit Fd(int fd) : fd_(fd) {}
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	~Fd()
	{
		if (fd_ >= 0)
			close(fd_);
	}
	int get() const { return fd_; }

private:
	int fd_; // -1 when empty
};

// One loop body. The constructor does the setup that is not timed; run_once() is one
// timed operation and throws if the kernel does not answer as expected.
class LoopBody {
public:
	virtual ~LoopBody() = default;
	virtual void run_once() = 0;
};

// connect() on one UDP socket, created once. UDP connect only sets the default
// destination, so each call is one hooked syscall with no network traffic.
class UdpConnect final : public LoopBody {
public:
	UdpConnect() : sock_(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)), dest_(loopback(9))
	{
		if (sock_.get() < 0)
			throw_errno("udp socket");
	}
	void run_once() override
	{
		if (connect(sock_.get(), reinterpret_cast<const sockaddr *>(&dest_), sizeof dest_) != 0)
			throw_errno("udp connect to 127.0.0.1:9");
	}

private:
	Fd sock_;	   // the one socket every iteration connects
	sockaddr_in dest_; // 127.0.0.1:9
};

// socket() + connect() to a closed loopback port + close(). The port is held by a
// socket that is bound but never listens, so no other process can open it and every
// connect is refused by the kernel (ECONNREFUSED) without leaving the host.
class TcpConnectRefused final : public LoopBody {
public:
	TcpConnectRefused() : holder_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0))
	{
		if (holder_.get() < 0)
			throw_errno("tcp socket");
		sockaddr_in any = loopback(0);
		if (bind(holder_.get(), reinterpret_cast<const sockaddr *>(&any), sizeof any) != 0)
			throw_errno("bind 127.0.0.1:0");
		socklen_t len = sizeof dest_;
		if (getsockname(holder_.get(), reinterpret_cast<sockaddr *>(&dest_), &len) != 0)
			throw_errno("getsockname");
	}
	void run_once() override
	{
		Fd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (s.get() < 0)
			throw_errno("tcp socket");
		if (connect(s.get(), reinterpret_cast<const sockaddr *>(&dest_), sizeof dest_) == 0)
			throw std::runtime_error("tcp connect to a closed port succeeded");
		if (errno != ECONNREFUSED)
			throw_errno("tcp connect to a closed port (expected ECONNREFUSED)");
	}

private:
	Fd holder_;	     // bound, not listening: keeps the port closed and ours
	sockaddr_in dest_{}; // 127.0.0.1:<holder's port>
};

// fork() + execve("/bin/true", 3 arguments) + waitpid(). The environment is fixed so
// that the exec event (argv, env-derived fields) is the same size in every run.
class ForkExec final : public LoopBody {
public:
	void run_once() override
	{
		pid_t pid = fork();
		if (pid < 0)
			throw_errno("fork");
		if (pid == 0) {
			execve(argv_[0], const_cast<char *const *>(argv_), const_cast<char *const *>(envp_));
			_exit(127);
		}
		int status = 0;
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR)
				throw_errno("waitpid");
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			throw std::runtime_error("/bin/true did not exit 0 (is /bin/true there?)");
	}

private:
	const char *argv_[5] = {"/bin/true", "smith-bench", "--arg", "value", nullptr};
	const char *envp_[3] = {"PATH=/usr/bin:/bin", "LC_ALL=C", nullptr};
};

// getppid(): a syscall smithd does not hook. Any program on the raw sys_exit tracepoint
// puts every syscall on the slow path; this loop shows what that costs the rest of the host.
class Getppid final : public LoopBody {
public:
	void run_once() override { syscall(SYS_getppid); }
};

// The loops this program knows. Add a loop here: a name, the iteration count used
// when --iterations is not given, a one-line description and a factory.
struct LoopSpec {
	const char *name;				 // value of --loop and of "loop" in the output
	uint64_t default_iterations;			 // default: a second or two per run, bare
	const char *description;			 // shown by --list
	std::function<std::unique_ptr<LoopBody>()> make; // builds the body (untimed setup)
};

const std::vector<LoopSpec> &loop_table()
{
	static const std::vector<LoopSpec> table = {
		{"udp_connect", 200000, "connect() one UDP socket to 127.0.0.1:9",
		 [] { return std::make_unique<UdpConnect>(); }},
		{"tcp_connect_refused", 20000, "socket() + connect() to a closed 127.0.0.1 port + close()",
		 [] { return std::make_unique<TcpConnectRefused>(); }},
		{"fork_exec", 2000, "fork() + execve(/bin/true, 3 args) + waitpid()",
		 [] { return std::make_unique<ForkExec>(); }},
		{"getppid", 2000000, "getppid(): a syscall smithd does not hook",
		 [] { return std::make_unique<Getppid>(); }},
	};
	return table;
}

const LoopSpec *find_loop(const std::string &name)
{
	for (const auto &spec : loop_table())
		if (name == spec.name)
			return &spec;
	return nullptr;
}

// Runs warmup untimed iterations, then iterations timed ones; returns ns per operation.
double time_loop(LoopBody &body, uint64_t warmup, uint64_t iterations)
{
	for (uint64_t i = 0; i < warmup; ++i)
		body.run_once();
	uint64_t start = now_ns();
	for (uint64_t i = 0; i < iterations; ++i)
		body.run_once();
	uint64_t elapsed = now_ns() - start;
	return static_cast<double>(elapsed) / static_cast<double>(iterations);
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{
		"smith_hook_load: time loops of hooked syscalls (connect, execve); one JSON line per loop"};
	std::vector<std::string> loops;
	uint64_t iterations = 0;
	int64_t warmup = -1;
	bool list = false;
	app.add_option("--loop", loops, "loop to run (repeatable; default: all loops in table order)");
	app.add_option("--iterations", iterations, "timed iterations per loop (default: the loop's own)")
		->check(CLI::PositiveNumber);
	app.add_option("--warmup", warmup,
		       "untimed iterations before timing (default: iterations/10, at least 1)")
		->check(CLI::NonNegativeNumber);
	app.add_flag("--list", list, "list the loops and exit");
	CLI11_PARSE(app, argc, argv);

	if (list) {
		for (const auto &spec : loop_table())
			std::printf("%-20s %8llu  %s\n", spec.name,
				    static_cast<unsigned long long>(spec.default_iterations),
				    spec.description);
		return 0;
	}

	std::vector<const LoopSpec *> selected;
	if (loops.empty()) {
		for (const auto &spec : loop_table())
			selected.push_back(&spec);
	}
	for (const auto &name : loops) {
		const LoopSpec *spec = find_loop(name);
		if (spec == nullptr) {
			std::fprintf(stderr, "smith_hook_load: unknown loop '%s' (see --list)\n",
				     name.c_str());
			return 1;
		}
		selected.push_back(spec);
	}

	try {
		for (const LoopSpec *spec : selected) {
			uint64_t n = iterations > 0 ? iterations : spec->default_iterations;
			uint64_t w =
				warmup >= 0 ? static_cast<uint64_t>(warmup) : std::max<uint64_t>(n / 10, 1);
			auto body = spec->make();
			double ns = time_loop(*body, w, n);
			std::printf("{\"loop\":\"%s\",\"iterations\":%llu,\"ns_per_op\":%.1f}\n", spec->name,
				    static_cast<unsigned long long>(n), ns);
			std::fflush(stdout);
		}
	} catch (const std::exception &e) {
		std::fprintf(stderr, "smith_hook_load: %s\n", e.what());
		return 1;
	}
	return 0;
}
