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

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "smith/budget.h"

using namespace smith::e2e;

namespace {

// The budget the flood test's daemons run with: the defaults, unless SMITH_TEST_FLOOD_BUDGET says
// "rate:burst" (the guests do: smithd on an emulated CPU writes a few thousand events a second).
struct FloodBudget {
	uint64_t rate = SMITH_BUDGET_RATE_DEFAULT;
	uint64_t burst = SMITH_BUDGET_BURST_DEFAULT;
	bool configured = false;
};

FloodBudget flood_budget()
{
	FloodBudget b;
	const char *env = std::getenv("SMITH_TEST_FLOOD_BUDGET");
	if (env && *env) {
		REQUIRE(std::sscanf(env, "%lu:%lu", &b.rate, &b.burst) == 2);
		b.configured = true;
	}
	return b;
}

SmithdOptions flood_daemon_options(const std::string &backend, const FloodBudget &budget)
{
	SmithdOptions o = daemon_options(backend);
	o.label = backend + "-flood";
	if (budget.configured)
		o.extra = {"--connect-budget-rate=" + std::to_string(budget.rate),
			   "--connect-budget-burst=" + std::to_string(budget.burst)};
	if (backend == "lkm") {
		// smithd loads smith.ko itself, with the budget it is configured with.
		if (module_loaded("smith"))
			REQUIRE(unload_module("smith") == 0);
		o.extra.push_back("--lkm-module=" + smith_ko());
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

TEST_CASE("attack: three processes flooding connects push no other exec or connect out, and every call is "
	  "counted",
	  "[e2e][attack][heavy]")
{
	constexpr int kFlooders = 3;
	constexpr int kMarkers = 20;
	constexpr double kSeconds = 3;
	for (const std::string &backend : backends_under_test()) {
		const FloodBudget budget = flood_budget();
		INFO("backend " << backend << ", budget " << budget.rate << "/s, " << budget.burst
				<< " at once");
		Smithd d(flood_daemon_options(backend, budget));

		int pipefd[2];
		REQUIRE(pipe(pipefd) == 0);
		Fd rd(pipefd[0]), wr(pipefd[1]);
		const double start = monotonic_seconds();
		std::vector<pid_t> flooders;
		for (int i = 0; i < kFlooders; ++i)
			flooders.push_back(start_flooder(wr.get(), kSeconds));
		// Meanwhile, execs of another process, and connects of this one, spread over the flood.
		const std::string tag = "smith-flood-" + backend + "-" + std::to_string(getpid()) + "-";
		std::vector<Fd> marker_sockets; // open to the end: each source port names one marker
		std::set<int64_t> marker_ports;
		for (int i = 0; i < kMarkers; ++i) {
			const std::string word = tag + std::to_string(i);
			const pid_t p = spawn([&] {
				execl("/bin/true", "/bin/true", word.c_str(), static_cast<char *>(nullptr));
			});
			REQUIRE(wait_exit(p) == 0);
			Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
			REQUIRE(connect_to(s.get(), AF_INET, "127.0.0.1", 9) == 0);
			marker_ports.insert(local_endpoint(s.get()).port);
			marker_sockets.push_back(std::move(s));
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
		std::set<int64_t> connects_arrived;
		d.find(
			[&](const Event &ev) {
				if (ev.type() == "connect" && ev.pid() == getpid() &&
				    ev.str("protocol") == "udp" && ev.i64("dport") == 9 &&
				    marker_ports.count(ev.i64("sport")))
					connects_arrived.insert(ev.i64("sport"));
				return connects_arrived.size() == marker_ports.size();
			},
			event_timeout());
		std::cout << "e2e: [" << d.label() << "] " << kFlooders << " flooders, "
			  << "connect calls:";
		for (auto &[f, n] : calls)
			std::cout << " " << n;
		std::cout << " in " << elapsed << " s; " << arrived << " of " << kMarkers << " marker execs, "
			  << connects_arrived.size() << " of " << kMarkers << " marker connects" << std::endl;
		CHECK(arrived == kMarkers);
		CHECK(marker_ports.size() == static_cast<size_t>(kMarkers));
		CHECK(connects_arrived.size() == marker_ports.size());

		// Each flooder: events and counted calls add up to its calls, once its exit sent the last
		// count.
		std::map<pid_t, uint64_t> events, held;
		std::vector<Event> reports;
		size_t scanned = 0;
		auto scan = [&] {
			const auto &all = d.poll();
			for (; scanned < all.size(); ++scanned) {
				const Event &e = all[scanned];
				if (!calls.count(static_cast<pid_t>(e.pid())))
					continue;
				if (e.type() == "connect")
					++events[static_cast<pid_t>(e.pid())];
				if (e.type() == "connect_suppressed") {
					held[static_cast<pid_t>(e.pid())] += e.u64("suppressed");
					reports.push_back(e);
				}
			}
		};
		auto all_accounted = [&] {
			for (auto &[f, n] : calls)
				if (events[f] + held[f] != n)
					return false;
			return true;
		};
		const auto deadline = std::chrono::steady_clock::now() + event_timeout();
		for (scan(); !all_accounted() && std::chrono::steady_clock::now() < deadline; scan())
			std::this_thread::sleep_for(200ms);
		for (const Event &e : reports) {
			INFO(e.line());
			check_common(e, "connect_suppressed", d);
			CHECK(e.str("exe") == self_exe());
			CHECK(e.str("comm") == self_comm());
			CHECK(e.i64("ppid") == getpid());
			CHECK(e.u64("suppressed") > 0);
			CHECK(e.u64("first_ts") <= e.u64("last_ts"));
			CHECK(e.u64("last_ts") <= e.u64("ts"));
			CHECK(e.u64("budget_rate") == budget.rate);
			CHECK(e.u64("budget_burst") == budget.burst);
			CHECK(e.i64("retval") == 0);
		}
		for (auto &[f, n] : calls) {
			INFO("flooder " << f << ": " << n << " calls, " << events[f] << " events, " << held[f]
					<< " counted in connect_suppressed");
			CHECK(events[f] + held[f] == n);
			// The budget: at most its burst at once and its rate after that.
			const double allowed = static_cast<double>(budget.burst) +
					       static_cast<double>(budget.rate) * (elapsed + 1);
			CHECK(static_cast<double>(events[f]) <= allowed);
			if (static_cast<double>(n) > allowed)
				CHECK(held[f] > 0);
		}
		const Status st = d.status();
		for (auto &[hook, drops] : st.drops) {
			INFO("hook " << hook);
			CHECK(drops == 0);
		}
		check_contiguous_seq(d);
	}
}
