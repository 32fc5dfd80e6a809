// smith_paced_load: hooked calls at a steady offered rate, so that a collector's event
// pipeline can be fed a known number of events per second.
//   --op connect (default): UDP connect() to 127.0.0.1:9. Each call is one connect event
//       in smithd and sends nothing on the network: a UDP connect only sets the socket's
//       default destination.
//   --op exec: fork + execve("/bin/true") + wait. Each call is one execve event whose
//       ppid is this program's pid.
//
//   smith_paced_load --rate 50000 --seconds 10      50 000 calls/s for 10 s
//   smith_paced_load --rate 0 --seconds 10          as fast as one thread can for 10 s
//   smith_paced_load --rate 300000 --threads 2     the rate shared by two threads
//
// Pacing: the calls owed by now (rate x elapsed time) are made in a burst, then the thread
// sleeps until the next tick (1 ms). A rate the thread cannot reach ends up as a busy loop;
// the output tells the rate achieved.
//
// SIGTERM or SIGINT ends the run early; the summary is printed all the same.
//
// Output, one JSON line on stdout:
//   {"pid":1234,"target_rate":50000,"seconds":10,"calls":500000,"elapsed_s":10.000,
//    "achieved_rate":49999.8,"start_realtime_ns":...,"end_realtime_ns":...,"stopped":false}
// Exit 1 (reason on stderr) when a connect fails: the count would then be wrong.
#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int)
{
	g_stop.store(true, std::memory_order_relaxed);
}

uint64_t clock_ns(clockid_t id)
{
	timespec ts{};
	clock_gettime(id, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

void sleep_until(uint64_t monotonic_ns)
{
	timespec ts{};
	ts.tv_sec = static_cast<time_t>(monotonic_ns / 1'000'000'000ULL);
	ts.tv_nsec = static_cast<long>(monotonic_ns % 1'000'000'000ULL);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
		if (g_stop.load(std::memory_order_relaxed))
			return;
	}
}

// One fork + execve("/bin/true", {"true", "smith-paced-load"}) + wait; false (reason on
// stderr) when the child could not run or did not exit 0.
bool fork_exec_true()
{
	pid_t pid = fork();
	if (pid < 0) {
		std::fprintf(stderr, "smith_paced_load: fork: %s\n", std::strerror(errno));
		return false;
	}
	if (pid == 0) {
		char *const argv[] = {const_cast<char *>("true"), const_cast<char *>("smith-paced-load"),
				      nullptr};
		char *const envp[] = {nullptr};
		execve("/bin/true", argv, envp);
		_exit(127);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		std::fprintf(stderr, "smith_paced_load: /bin/true did not exit 0 (status %d)\n", status);
		return false;
	}
	return true;
}

// One thread's share: `rate` calls per second (0: as fast as it goes) until `duration_ns`
// after `start`; counts them in `calls`. False (reason on stderr) when a call fails.
bool run_calls(bool exec_op, double rate, uint64_t start, uint64_t duration_ns, uint64_t &calls)
{
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		std::fprintf(stderr, "smith_paced_load: udp socket: %s\n", std::strerror(errno));
		return false;
	}
	sockaddr_in dest{};
	dest.sin_family = AF_INET;
	dest.sin_port = htons(9);
	dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	constexpr uint64_t kTickNs = 1'000'000; // pacing granularity
	bool ok = true;
	while (ok && !g_stop.load(std::memory_order_relaxed)) {
		const uint64_t elapsed = clock_ns(CLOCK_MONOTONIC) - start;
		if (elapsed >= duration_ns)
			break;
		// Calls owed by the end of this tick; with no rate, a fixed batch between clock reads.
		const uint64_t tick_end = std::min(elapsed + kTickNs, duration_ns);
		uint64_t owed = calls + 1000;
		if (rate > 0)
			owed = static_cast<uint64_t>(rate * static_cast<double>(tick_end) / 1e9);
		while (calls < owed) {
			if (!exec_op) {
				if (connect(sock, reinterpret_cast<const sockaddr *>(&dest), sizeof dest) !=
				    0) {
					std::fprintf(stderr,
						     "smith_paced_load: udp connect to 127.0.0.1:9: %s\n",
						     std::strerror(errno));
					ok = false;
					break;
				}
			} else if (!fork_exec_true()) {
				ok = false;
				break;
			}
			calls++;
			if (exec_op && (calls & 15) == 0 && clock_ns(CLOCK_MONOTONIC) - start >= duration_ns)
				break;
		}
		if (ok && rate > 0) {
			const uint64_t next = start + (elapsed / kTickNs + 1) * kTickNs;
			if (clock_ns(CLOCK_MONOTONIC) < next)
				sleep_until(next);
		}
	}
	close(sock);
	return ok;
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"smith_paced_load: UDP connect() calls at a steady rate; one JSON line at the end"};
	double rate = 0;
	double seconds = 10;
	app.add_option("--rate", rate, "calls per second (0: as fast as possible)")
		->check(CLI::NonNegativeNumber);
	app.add_option("--seconds", seconds, "how long to run")->check(CLI::PositiveNumber);
	std::string op = "connect";
	app.add_option("--op", op, "connect (UDP connect to 127.0.0.1:9) or exec (fork + exec /bin/true)")
		->check(CLI::IsMember({"connect", "exec"}));
	unsigned threads = 1;
	app.add_option("--threads", threads, "threads sharing the rate, each with its own socket")
		->check(CLI::Range(1u, 64u));
	CLI11_PARSE(app, argc, argv);

	struct sigaction sa {};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);

	const bool exec_op = op == "exec";
	const uint64_t duration_ns = static_cast<uint64_t>(seconds * 1e9);
	const uint64_t start_rt = clock_ns(CLOCK_REALTIME);
	const uint64_t start = clock_ns(CLOCK_MONOTONIC);
	std::vector<uint64_t> counts(threads, 0);
	std::atomic<bool> failed{false};
	std::vector<std::thread> workers;
	for (unsigned t = 0; t < threads; t++)
		workers.emplace_back([&, t] {
			if (!run_calls(exec_op, rate / threads, start, duration_ns, counts[t]))
				failed = true;
		});
	for (auto &w : workers)
		w.join();
	if (failed)
		return 1;
	uint64_t calls = 0;
	for (uint64_t c : counts)
		calls += c;
	uint64_t now;
	now = clock_ns(CLOCK_MONOTONIC);
	const uint64_t end_rt = clock_ns(CLOCK_REALTIME);
	double elapsed_s = static_cast<double>(now - start) / 1e9;
	std::printf("{\"pid\":%d,\"target_rate\":%.0f,\"seconds\":%.3f,\"calls\":%llu,\"elapsed_s\":%.3f,"
		    "\"achieved_rate\":%.1f,\"start_realtime_ns\":%llu,\"end_realtime_ns\":%llu,"
		    "\"stopped\":%s,\"op\":\"%s\",\"threads\":%u}\n",
		    static_cast<int>(getpid()), rate, seconds, static_cast<unsigned long long>(calls),
		    elapsed_s, elapsed_s > 0 ? static_cast<double>(calls) / elapsed_s : 0.0,
		    static_cast<unsigned long long>(start_rt), static_cast<unsigned long long>(end_rt),
		    g_stop.load() ? "true" : "false", op.c_str(), threads);
	return 0;
}
