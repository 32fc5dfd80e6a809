// Flooding the ring: a few processes connecting as fast as they can must not push other processes'
// events out of it (CVE-2019-8339 did this to Falco). Each backend's budget for connect events
// (include/smith/budget.h, with its defaults) holds each flooder back, counts what it holds back, and
// names the flooder in connect_suppressed events, so that the flood itself stays visible: every connect
// call of a flooder is a connect event or counted, exactly. Checked against each backend with a daemon
// of its own (the shared daemons have stopped by now).
#include "backends.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <thread>

#include "smith/budget.h"

using namespace smith::e2e;

namespace {

SmithdOptions flood_daemon_options(const std::string &backend)
{
	SmithdOptions o = daemon_options(backend);
	o.label = backend + "-flood";
	if (backend == "lkm") {
		// smithd loads smith.ko itself, with the budget it is configured with (the defaults).
		if (module_loaded("smith"))
			REQUIRE(unload_module("smith") == 0);
		o.extra = {"--lkm-module=" + smith_ko()};
	}
	return o;
}

double monotonic_seconds()
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct FloodReport {
	pid_t pid = 0;
	uint64_t calls = 0;
};

// A process that makes UDP connects to 127.0.0.1:9 for `seconds`, as fast as it can, then writes its
// pid and how many calls it made to `out` and exits.
pid_t start_flooder(int out, double seconds)
{
	return spawn([out, seconds] {
		const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		sockaddr_in to{};
		to.sin_family = AF_INET;
		to.sin_port = htons(9);
		to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		FloodReport r{getpid(), 0};
		const double end = monotonic_seconds() + seconds;
		while (monotonic_seconds() < end) {
			for (int i = 0; i < 64; ++i, ++r.calls)
				connect(s, reinterpret_cast<const sockaddr *>(&to), sizeof(to));
		}
		_exit(write(out, &r, sizeof(r)) == sizeof(r) ? 0 : 1);
	});
}

} // namespace

TEST_CASE("attack: three processes flooding connects push no exec out, and every call is counted",
	  "[e2e][attack]")
{
	constexpr int kFlooders = 3;
	constexpr int kMarkers = 20;
	constexpr double kSeconds = 3;
	for (const std::string &backend : backends_under_test()) {
		INFO("backend " << backend);
		Smithd d(flood_daemon_options(backend));

		int pipefd[2];
		REQUIRE(pipe(pipefd) == 0);
		Fd rd(pipefd[0]), wr(pipefd[1]);
		const double start = monotonic_seconds();
		std::vector<pid_t> flooders;
		for (int i = 0; i < kFlooders; ++i)
			flooders.push_back(start_flooder(wr.get(), kSeconds));
		// Meanwhile, execs of another process, spread over the flood.
		const std::string tag = "smith-flood-" + backend + "-" + std::to_string(getpid()) + "-";
		for (int i = 0; i < kMarkers; ++i) {
			const std::string word = tag + std::to_string(i);
			const pid_t p = spawn([&] {
				execl("/bin/true", "/bin/true", word.c_str(), static_cast<char *>(nullptr));
			});
			REQUIRE(wait_exit(p) == 0);
			std::this_thread::sleep_for(std::chrono::duration<double>(kSeconds / kMarkers));
		}
		std::map<pid_t, uint64_t> calls;
		for (pid_t f : flooders) {
			REQUIRE(wait_exit(f) == 0);
			FloodReport r;
			REQUIRE(read(rd.get(), &r, sizeof(r)) == sizeof(r));
			calls[r.pid] = r.calls;
		}
		REQUIRE(calls.size() == kFlooders);
		const double elapsed = monotonic_seconds() - start;

		int arrived = 0;
		for (int i = 0; i < kMarkers; ++i) {
			const std::string word = tag + std::to_string(i);
			const auto e = d.find(
				[&](const Event &ev) {
					return ev.type() == "execve" && ev.strings("argv").size() == 2 &&
					       ev.strings("argv")[1] == word;
				},
				event_timeout());
			arrived += e.has_value();
		}
		std::cout << "e2e: [" << d.label() << "] " << kFlooders << " flooders, "
			  << "connect calls:";
		for (auto &[f, n] : calls)
			std::cout << " " << n;
		std::cout << " in " << elapsed << " s; " << arrived << " of " << kMarkers << " marker execs"
			  << std::endl;
		CHECK(arrived == kMarkers);

		// Each flooder: events and counted calls add up to its calls, once its exit sent the last
		// count.
		uint64_t total_calls = 0;
		for (auto &[f, n] : calls)
			total_calls += n;
		auto events_of = [&](pid_t f) {
			return d.count([f](const Event &e) { return e.type() == "connect" && e.pid() == f; });
		};
		auto suppressed_of = [&](pid_t f) {
			uint64_t sum = 0;
			for (const Event &e : d.poll())
				if (e.type() == "connect_suppressed" && e.pid() == f)
					sum += e.u64("suppressed");
			return sum;
		};
		uint64_t accounted = 0;
		const auto deadline = std::chrono::steady_clock::now() + event_timeout();
		do {
			accounted = 0;
			d.poll();
			for (auto &[f, n] : calls)
				accounted += events_of(f) + suppressed_of(f);
			if (accounted == total_calls)
				break;
			std::this_thread::sleep_for(200ms);
		} while (std::chrono::steady_clock::now() < deadline);
		CHECK(accounted == total_calls);

		for (auto &[f, n] : calls) {
			INFO("flooder " << f);
			const uint64_t events = events_of(f), held = suppressed_of(f);
			CHECK(events + held == n);
			// The budget: at most its burst at once and its rate after that.
			const double allowed =
				SMITH_BUDGET_BURST_DEFAULT + SMITH_BUDGET_RATE_DEFAULT * (elapsed + 1);
			CHECK(static_cast<double>(events) <= allowed);
			if (static_cast<double>(events + held) > allowed)
				CHECK(held > 0);
			for (const Event &e : d.poll()) {
				if (e.type() != "connect_suppressed" || e.pid() != f)
					continue;
				INFO(e.line());
				check_common(e, "connect_suppressed", d);
				CHECK(e.str("exe") == self_exe());
				CHECK(e.str("comm") == self_comm());
				CHECK(e.i64("ppid") == getpid());
				CHECK(e.u64("suppressed") > 0);
				CHECK(e.u64("first_ts") <= e.u64("last_ts"));
				CHECK(e.u64("last_ts") <= e.u64("ts"));
				CHECK(e.u64("budget_rate") == SMITH_BUDGET_RATE_DEFAULT);
				CHECK(e.u64("budget_burst") == SMITH_BUDGET_BURST_DEFAULT);
				CHECK(e.i64("retval") == 0);
			}
		}
		const Status st = d.status();
		for (auto &[hook, drops] : st.drops) {
			INFO("hook " << hook);
			CHECK(drops == 0);
		}
		check_contiguous_seq(d);
	}
}
