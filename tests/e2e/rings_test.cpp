// The eBPF backend's per-CPU rings (--bpf-ring=percpu): one BPF ring buffer per possible CPU, each
// ringbuf_bytes / CPUs (a power of two, at least 256 KiB), so that no CPU waits on another's
// reservation lock. Records of one stream then sit in several rings; smithd must read them as one
// stream, in the order they happened:
//   - calls made one after another on alternating CPUs come out in that order (seq and ts);
//   - a child that connects on another CPU than the one its parent forked it on is known by the
//     fork record (its exe is its parent's), which sits in the parent CPU's ring;
//   - a SIGKILLed smithd leaves every CPU's ring pinned, and the next smithd (in the shared mode)
//     reads them all, each record once, in order.
// The drop accounting of the per-CPU mode is in drops_test.cpp.
#include "backends.h"

#include <catch2/catch.hpp>

#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

using namespace smith::e2e;

namespace {

constexpr uint64_t kRingBytes = 8u << 20; // --ringbuf-bytes: the default
// Records are ordered by their CPU's boot-time clock. Emulated vCPUs (QEMU TCG) disagree by
// milliseconds (6.5 ms seen in the 6.12 guest), which real CPUs' synchronized clocks do not:
// calls that must come out in call order are made further apart than that.
constexpr auto kClockSkew = std::chrono::milliseconds(25);

void skip_without_ebpf()
{
	require_root();
	if (!testing_backend("ebpf"))
		skip_test("the ebpf backend is not under test here (SMITH_TEST_BACKENDS)");
}

// The CPUs the kernel may ever run (/sys/devices/system/cpu/possible: "0-3", "0,2-5", ...).
size_t possible_cpus()
{
	std::istringstream in(read_file("/sys/devices/system/cpu/possible"));
	size_t n = 0;
	std::string range;
	while (std::getline(in, range, ',')) {
		const size_t dash = range.find('-');
		const unsigned long first = std::stoul(range.substr(0, dash));
		const unsigned long last =
			dash == std::string::npos ? first : std::stoul(range.substr(dash + 1));
		n += last - first + 1;
	}
	return n;
}

// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus()
{
	cpu_set_t set;
	CPU_ZERO(&set);
	REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
	std::vector<int> cpus;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			cpus.push_back(c);
	return cpus;
}

bool pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof set, &set) == 0;
}

// Restores this thread's CPUs when it goes.
class AffinityGuard {
public:
	AffinityGuard() { sched_getaffinity(0, sizeof saved_, &saved_); }
	~AffinityGuard() { sched_setaffinity(0, sizeof saved_, &saved_); }
	AffinityGuard(const AffinityGuard &) = delete;
	AffinityGuard &operator=(const AffinityGuard &) = delete;

private:
	cpu_set_t saved_{};
};

// A UDP connect to 127.0.0.1:9; returns its source port.
uint16_t udp_connect()
{
	Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	REQUIRE(s.get() >= 0);
	REQUIRE(connect_to(s.get(), AF_INET, "127.0.0.1", 9) == 0);
	return local_endpoint(s.get()).port;
}

Event wait_connect(Smithd &d, uint16_t sport, pid_t pid)
{
	return d.wait_for(
		"udp connect from port " + std::to_string(sport),
		[sport](const Event &e) { return e.type() == "connect" && e.i64("sport") == sport; },
		event_timeout(), pid);
}

SmithdOptions percpu_options(const std::string &label)
{
	SmithdOptions o;
	o.label = label;
	o.backend = "ebpf";
	o.extra = {"--bpf-ring=percpu", "--ringbuf-bytes=" + std::to_string(kRingBytes)};
	return o;
}

} // namespace

TEST_CASE("rings: --bpf-ring=percpu gives each CPU a ring and reads them as one stream, in time order",
	  "[e2e][rings][ebpf][heavy]")
{
	skip_without_ebpf();
	Smithd d(percpu_options("percpu"));

	// One ring per possible CPU, the default 8 MiB shared out.
	const size_t cpus = possible_cpus();
	const uint64_t each = std::max<uint64_t>(
		{std::bit_floor(kRingBytes / cpus), static_cast<uint64_t>(sysconf(_SC_PAGESIZE)), 4 * 65536});
	const Status st = d.status();
	CHECK(st.backend == "ebpf");
	CHECK(st.rings_mode == "percpu");
	CHECK(st.rings_count == cpus);
	CHECK(st.rings_bytes == each);
	{
		const std::string log = d.log();
		INFO(log);
		CHECK(log.find("ring: one ring buffer of " + std::to_string(each) + " bytes per CPU, " +
			       std::to_string(cpus) + " CPUs possible") != std::string::npos);
	}

	const std::vector<int> allowed = allowed_cpus();
	if (allowed.size() < 2)
		skip_test("this process may run on one CPU only: there is no order across CPUs to check");
	AffinityGuard restore;

	// The parent as smithd knows it, before anything is held back.
	const Event parent = wait_connect(d, udp_connect(), getpid());
	const std::string exe = parent.str("exe");
	REQUIRE(!exe.empty());

	// While smithd does not read, calls one after another, each on the next CPU, then a child forked
	// on the last CPU that connects on the first. Nothing is being written when smithd resumes: the
	// rings hold complete records only, and their order is the order of the calls.
	constexpr int kCalls = 40;
	std::vector<uint16_t> sports;
	REQUIRE(kill(d.pid(), SIGSTOP) == 0);
	for (int i = 0; i < kCalls; i++) {
		REQUIRE(pin_to(allowed[static_cast<size_t>(i) % allowed.size()]));
		std::this_thread::sleep_for(kClockSkew);
		sports.push_back(udp_connect());
	}
	REQUIRE(pin_to(allowed.back()));
	int ports[2];
	REQUIRE(pipe(ports) == 0);
	const int first_cpu = allowed.front();
	const pid_t child = spawn([&] {
		if (!pin_to(first_cpu))
			_exit(2);
		std::this_thread::sleep_for(kClockSkew);
		const int s = socket(AF_INET, SOCK_DGRAM, 0);
		if (s < 0 || connect_to(s, AF_INET, "127.0.0.1", 9) != 0)
			_exit(3);
		const uint16_t port = local_endpoint(s).port;
		_exit(write(ports[1], &port, sizeof port) == sizeof port ? 0 : 4);
	});
	close(ports[1]);
	uint16_t child_sport = 0;
	REQUIRE(read(ports[0], &child_sport, sizeof child_sport) == sizeof child_sport);
	close(ports[0]);
	REQUIRE(wait_exit(child) == 0);
	REQUIRE(kill(d.pid(), SIGCONT) == 0);

	uint64_t last_seq = 0;
	int64_t last_ts = 0;
	for (int i = 0; i < kCalls; i++) {
		INFO("call " << i << " on CPU " << allowed[static_cast<size_t>(i) % allowed.size()]);
		const Event e = wait_connect(d, sports[static_cast<size_t>(i)], getpid());
		CHECK(e.pid() == getpid());
		CHECK(e.str("daddr") == "127.0.0.1");
		CHECK(e.i64("dport") == 9);
		CHECK(e.str("protocol") == "udp");
		CHECK(e.str("exe") == exe);
		CHECK(e.u64("seq") > last_seq);
		CHECK(e.i64("ts") > last_ts);
		last_seq = e.u64("seq");
		last_ts = e.i64("ts");
	}
	const Event c = wait_connect(d, child_sport, child);
	CHECK(c.pid() == child);
	CHECK(c.i64("ppid") == getpid());
	CHECK(c.str("exe") == exe); // from the fork record, in the parent CPU's ring
	CHECK(c.u64("seq") > last_seq);
	CHECK(d.status().decode_errors == 0);
	check_contiguous_seq(d);
	std::cout << "e2e: [" << d.label() << "] " << cpus << " rings of " << each << " bytes; " << kCalls
		  << " connects on " << allowed.size() << " CPUs in turn and a child's on another CPU than "
		  << "its fork, in order" << std::endl;
	CHECK(d.terminate() == 0);
}

TEST_CASE("rings: a SIGKILLed smithd's per-CPU rings are read by the next smithd, each record once, in order",
	  "[e2e][rings][ebpf][heavy]")
{
	skip_without_ebpf();
	PinDir pins;
	SmithdOptions o = percpu_options("percpu-killed");
	o.bpf_pin_dir = pins.path();
	const std::vector<int> allowed = allowed_cpus();
	AffinityGuard restore;
	constexpr int kCalls = 30;
	std::vector<uint16_t> sports;
	{
		Smithd killed(o);
		CHECK(pins.rings() == possible_cpus());
		wait_connect(killed, udp_connect(), getpid());
		REQUIRE(kill(killed.pid(), SIGSTOP) == 0);
		for (int i = 0; i < kCalls; i++) {
			REQUIRE(pin_to(allowed[static_cast<size_t>(i) % allowed.size()]));
			std::this_thread::sleep_for(kClockSkew);
			sports.push_back(udp_connect());
		}
		REQUIRE(kill(killed.pid(), SIGKILL) == 0);
		int code = 0;
		for (int k = 0; k < 200 && !killed.exited(&code); ++k)
			std::this_thread::sleep_for(50ms);
		REQUIRE(code == 128 + SIGKILL);
		CHECK(pins.rings() == possible_cpus()); // every CPU's ring, with its records
	}

	// The next one runs the shared mode: what a killed smithd left is read whatever the mode.
	SmithdOptions next_options = o;
	next_options.label = "shared-after-percpu";
	next_options.extra = {};
	Smithd next(next_options);
	CHECK(next.status().rings_mode == "shared");
	uint64_t last_seq = 0;
	for (int i = 0; i < kCalls; i++) {
		INFO("call " << i);
		const Event e = wait_connect(next, sports[static_cast<size_t>(i)], getpid());
		CHECK(e.i64("dport") == 9);
		CHECK(e.u64("seq") > last_seq);
		last_seq = e.u64("seq");
	}
	std::this_thread::sleep_for(500ms);
	for (int i = 0; i < kCalls; i++)
		CHECK(next.count([&](const Event &e) {
			return e.type() == "connect" && e.i64("sport") == sports[static_cast<size_t>(i)];
		}) == 1);
	check_contiguous_seq(next);
	if (possible_cpus() > 1) {
		const std::string log = next.log();
		INFO(log);
		CHECK(log.find("and its other CPUs' rings") != std::string::npos);
	}
	std::cout << "e2e: [" << next.label() << "] " << kCalls << " connects left in " << possible_cpus()
		  << " per-CPU rings by a killed smithd, reported once each, in order" << std::endl;
	REQUIRE(next.terminate() == 0);
	CHECK(pins.rings() == 0);
}
