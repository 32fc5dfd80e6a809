// A stopped reader: while smithd does not read, the kernel side fills its ring and then drops. Every call
// made in that time is then either an event or one drop counted for its hook, exactly, and smithd goes
// on once it reads again. Checked against each backend, with a daemon of its own and a small ring:
//   ebpf  --backend=auto with a one-page ring buffer;
//   ebpf-percpu  the same with --bpf-ring=percpu: each CPU's ring is then the smallest, 256 KiB;
//   lkm   --backend=auto on a kernel whose BTF is hidden, so that auto must choose the module, which
//         smithd loads itself with 64 KiB rings (lkm_ring_kb) and unloads when it stops.
// The calls are ones nothing else on the machine makes (a failed execveat, or a failed finit_module
// where the kernel lacks execveat), so that the hook's drop counter counts only this test's calls.
#include "backends.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <iostream>
#include <thread>

using namespace smith::e2e;

namespace {

// A call that fails at once and makes one record of `hook`, told apart by `marker`.
struct MarkedCall {
	std::string hook;
	std::function<bool(const std::string &marker)> call; // true when it failed as it must
	std::function<bool(const Event &e, const std::string &marker)> is;
};

MarkedCall marked_call()
{
	if (kernel_has_execveat())
		return {"execveat",
			[](const std::string &marker) {
				const std::string path = "/nonexistent/" + marker;
				char arg0[] = "smith-drops";
				char *argv[] = {arg0, nullptr};
				char *envp[] = {nullptr};
				return syscall(SYS_execveat, AT_FDCWD, path.c_str(), argv, envp, 0) == -1 &&
				       errno == ENOENT;
			},
			[](const Event &e, const std::string &marker) {
				return e.type() == "execve" && e.str("filename") == "/nonexistent/" + marker;
			}};
	// No fd: EBADF, or ENOEXEC on 3.10.
	return {"finit_module",
		[](const std::string &marker) {
			return syscall(SYS_finit_module, -1, marker.c_str(), 0) == -1;
		},
		[](const Event &e, const std::string &marker) {
			return e.type() == "finit_module" && e.str("params") == marker;
		}};
}

// The daemon of `backend` with a small ring, and anything it needs set up first.
SmithdOptions small_ring_options(const std::string &backend, const TempDir &conf_dir)
{
	SmithdOptions o = daemon_options(backend);
	o.label = backend + "-small-ring";
	if (backend == "ebpf") {
		o.extra = {"--ringbuf-bytes=4096"};
		return o;
	}
	if (backend == "ebpf-percpu") {
		o = daemon_options("ebpf");
		o.label = backend + "-small-rings";
		o.extra = {"--ringbuf-bytes=4096", "--bpf-ring=percpu"};
		return o;
	}
	if (module_loaded("smith"))
		REQUIRE(unload_module("smith") == 0);
	const std::string conf = conf_dir.file("smithd.yaml");
	std::ofstream(conf) << "lkm_ring_kb: 64\n";
	o.label = "lkm-auto-without-btf";
	o.backend = "auto";
	o.hide_btf = true;
	o.config = conf;
	o.events_backend = "lkm";
	o.extra = {"--lkm-module=" + smith_ko()};
	return o;
}

} // namespace

TEST_CASE("drops: while the reader is stopped every call is an event or a counted drop, exactly",
	  "[e2e][heavy]")
{
	const MarkedCall calls = marked_call();
	std::vector<std::string> variants = backends_under_test();
	if (testing_backend("ebpf"))
		variants.push_back("ebpf-percpu");
	for (const std::string &backend : variants) {
		INFO("backend " << backend << ", calls: failed " << calls.hook);
		TempDir conf_dir("smith-e2e-conf-");
		Smithd d(small_ring_options(backend, conf_dir));
		Status st = d.status();
		CHECK(st.backend == d.expected_backend());
		CHECK(st.hook_state[calls.hook] == "attached");
		if (backend == "lkm") {
			// auto fell back to the module, said why, and loaded it with the configured rings.
			CHECK(st.backend_reason.find("ebpf") != std::string::npos);
			CHECK(module_loaded("smith"));
			CHECK(read_file("/sys/module/smith/parameters/ring_kb") == "64\n");
		}
		std::cout << "e2e: [" << d.label() << "] backend " << st.backend << " (" << st.backend_reason
			  << ")" << std::endl;

		const std::string marker = "smith-drops-" + backend + "-" + std::to_string(getpid());
		const std::string after = marker + "-after";
		constexpr int kCalls = 3000;
		REQUIRE(kill(d.pid(), SIGSTOP) == 0);
		int failed = 0;
		for (int i = 0; i < kCalls; ++i)
			failed += !calls.call(marker);
		REQUIRE(kill(d.pid(), SIGCONT) == 0);
		REQUIRE(failed == 0);

		// It reads again. Until it has emptied the ring, a new call may be dropped too (and counted),
		// so the call is repeated until one arrives; every attempt is a call to account for. A
		// caller's records reach a ring in the order of its calls, so an attempt that shows up
		// late is still counted below: the wait for each need not be long.
		const auto attempt_wait = std::min<std::chrono::milliseconds>(event_timeout() / 5, 3s);
		int attempts = 0;
		std::optional<Event> seen_after;
		while (!seen_after && attempts < 100) {
			REQUIRE(calls.call(after));
			++attempts;
			seen_after = d.find([&](const Event &e) { return calls.is(e, after); }, attempt_wait);
		}
		REQUIRE(seen_after);
		std::this_thread::sleep_for(1s); // what other CPUs' rings still held

		st = d.status();
		const uint64_t drops = st.drops[calls.hook];
		const size_t seen = d.count([&](const Event &e) { return calls.is(e, marker); });
		const size_t seen_afters = d.count([&](const Event &e) { return calls.is(e, after); });
		INFO("events " << seen << " of " << kCalls << " calls, " << seen_afters << " of " << attempts
			       << " later calls, " << drops << " counted drops");
		std::cout << "e2e: [" << d.label() << "] stopped reader: " << seen << " events of " << kCalls
			  << " calls, " << seen_afters << " of " << attempts << " later calls, " << drops
			  << " counted drops" << std::endl;
		CHECK(drops > 0);
		CHECK(seen < static_cast<size_t>(kCalls));
		CHECK(seen + seen_afters + drops == static_cast<size_t>(kCalls + attempts));
		CHECK(st.decode_errors == 0);
		// Drops happen before numbering: what arrived is contiguous.
		check_contiguous_seq(d);

		const int code = d.terminate();
		INFO("---- log ----\n" << d.log());
		CHECK(code == 0);

		// The stream says it too: loss records whose counts add up to the status counters, and a
		// run_end that sums them.
		std::map<std::string, uint64_t> lost;
		uint64_t lost_total = 0, loss_records = 0, run_end_dropped = 0, run_ends = 0;
		for (const Event &e : d.poll()) {
			if (e.type() == "loss") {
				++loss_records;
				CHECK(e.keys() == expected_keys("loss"));
				CHECK(e.i64("data_type") == 2003);
				uint64_t by_hook = 0;
				for (const auto &[hook, n] : st.drops) {
					lost[hook] += e.u64("dropped_" + hook);
					by_hook += e.u64("dropped_" + hook);
				}
				CHECK(e.u64("dropped") == by_hook);
				lost_total += e.u64("dropped");
				CHECK(e.u64("dropped_since_start") == lost_total);
			} else if (e.type() == "run_end") {
				++run_ends;
				run_end_dropped = e.u64("dropped_since_start");
			}
		}
		CHECK(loss_records >= 1);
		CHECK(lost[calls.hook] == drops);
		CHECK(run_ends == 1);
		CHECK(run_end_dropped == lost_total);
		if (backend == "lkm")
			CHECK(!module_loaded("smith")); // smithd loaded it, smithd unloaded it
	}
}

// A killed reader: records smithd had not yet made safe when SIGKILL came (here all of them: it was
// stopped first) stay in the kernel, and the next smithd reports them, each once. ebpf keeps them in
// the ring pinned in bpffs (--bpf-pin-dir), lkm in smith.ko's rings, which outlive the reader.
TEST_CASE("crash: records a SIGKILLed smithd had not read are reported by the next one, each once",
	  "[e2e][heavy]")
{
	for (const std::string &backend : backends_under_test()) {
		INFO("backend " << backend);
		TempDir conf_dir("smith-e2e-conf-");
		PinDir pins;
		SmithdOptions o = small_ring_options(backend, conf_dir);
		o.label = backend + "-killed";
		o.bpf_pin_dir = pins.path();
		if (backend == "ebpf")
			o.extra.clear(); // the default ring
		const std::string marker = "smith-crash-" + backend + "-" + std::to_string(getpid());
		constexpr int kExecs = 20;
		auto is_marker = [&](const Event &e, int i) {
			if (e.type() != "execve")
				return false;
			const auto argv = e.strings("argv");
			return argv.size() == 2 && argv[1] == marker + "-" + std::to_string(i);
		};
		auto run_true = [](const std::string &arg) {
			pid_t child = spawn([&] { execl("/bin/true", "/bin/true", arg.c_str(), nullptr); });
			return wait_exit(child) == 0;
		};
		{
			Smithd killed(o);
			REQUIRE(run_true(marker + "-ready"));
			killed.wait_for(
				"its own marker",
				[&](const Event &e) {
					const auto argv = e.type() == "execve" ? e.strings("argv")
									       : std::vector<std::string>{};
					return argv.size() == 2 && argv[1] == marker + "-ready";
				},
				event_timeout());
			REQUIRE(kill(killed.pid(), SIGSTOP) == 0);
			for (int i = 0; i < kExecs; ++i)
				REQUIRE(run_true(marker + "-" + std::to_string(i)));
			REQUIRE(kill(killed.pid(), SIGKILL) == 0);
			int code = 0;
			for (int k = 0; k < 200 && !killed.exited(&code); ++k)
				std::this_thread::sleep_for(50ms);
			REQUIRE(code == 128 + SIGKILL);
			for (int i = 0; i < kExecs; ++i)
				CHECK(killed.count([&](const Event &e) { return is_marker(e, i); }) == 0);
			if (backend == "ebpf")
				CHECK(pins.rings() == 1); // the killed one's ring, with its records
		}
		Smithd next(o);
		const std::string run_id =
			next.wait_for(
				    "run_start", [](const Event &e) { return e.type() == "run_start"; },
				    event_timeout())
				.str("run_id");
		for (int i = 0; i < kExecs; ++i) {
			INFO("marker " << i);
			const Event e = next.wait_for(
				marker + "-" + std::to_string(i),
				[&](const Event &ev) { return is_marker(ev, i); }, event_timeout());
			CHECK(e.str("run_id") == run_id);
		}
		std::this_thread::sleep_for(500ms);
		for (int i = 0; i < kExecs; ++i)
			CHECK(next.count([&](const Event &e) { return is_marker(e, i); }) == 1);
		check_contiguous_seq(next);
		std::cout << "e2e: [" << next.label() << "] " << kExecs
			  << " execs made while the killed smithd was stopped, reported by the next"
			  << std::endl;
		REQUIRE(next.terminate() == 0);
		if (backend == "ebpf")
			CHECK(pins.rings() == 0); // the leftover read, and a clean stop leaves no pin
		if (backend == "lkm" && module_loaded("smith"))
			CHECK(unload_module("smith") ==
			      0); // the killed smithd could not unload what it loaded
	}
}
