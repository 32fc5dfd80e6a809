// The lkm backend without a kernel: a regular file laid out like /dev/smith's
// mapping (info page, then per-CPU rings) stands in for the device, so start()
// maps and checks it, poll() drains its rings, hooks() reads its hook bits
// and drop counters. And the auto choice with stand-in backends: eBPF first,
// the module when eBPF cannot run, both reasons in the log and the status.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <thread>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend_choice.h"
#include "backend/lkm_backend.h"
#include "lkm_ring_builder.h"
#include "record_builder.h"

namespace {

using namespace smith;
using backend::BackendError;

constexpr uint64_t kRingBytes = 64 * 1024;

// A file holding an info page and `nr_rings` rings, mapped here so the test can produce records.
struct FakeDevice {
	std::string path;
	smith_lkm_info *info = nullptr;
	std::byte *map = nullptr;
	size_t bytes = 0;

	// `layout` replaces the info page a module with `nr_rings` rings would write.
	explicit FakeDevice(uint32_t nr_rings, std::optional<smith_lkm_info> layout = std::nullopt)
	{
		char tmpl[] = "/tmp/smith-fake-dev-XXXXXX";
		int fd = mkstemp(tmpl);
		REQUIRE(fd >= 0);
		path = tmpl;
		const smith_lkm_info want = layout.value_or(test::make_lkm_info(nr_rings, kRingBytes));
		bytes = std::max<size_t>(want.map_bytes, test::page_size());
		REQUIRE(ftruncate(fd, static_cast<off_t>(bytes)) == 0);
		void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		REQUIRE(p != MAP_FAILED);
		map = static_cast<std::byte *>(p);
		info = reinterpret_cast<smith_lkm_info *>(map);
		*info = want;
	}
	~FakeDevice()
	{
		munmap(map, bytes);
		unlink(path.c_str());
	}
	test::RingProducer producer(uint32_t ring)
	{
		std::byte *base = map + info->ring_offset + ring * info->ring_stride;
		return test::RingProducer(reinterpret_cast<smith_lkm_ring_ctl *>(base),
					  base + info->page_size, info->ring_bytes);
	}
	smith_lkm_ring_ctl *ctl(uint32_t ring)
	{
		return reinterpret_cast<smith_lkm_ring_ctl *>(map + info->ring_offset +
							      ring * info->ring_stride);
	}
};

struct Collect final : backend::RecordHandler {
	std::vector<std::vector<std::byte>> records;
	void on_record(std::span<const std::byte> r) override { records.emplace_back(r.begin(), r.end()); }
};

backend::LkmOptions options_for(const FakeDevice &dev)
{
	backend::LkmOptions o;
	o.device = dev.path;
	o.module_name = "smith-test-not-a-module"; // never loaded, never unloaded
	return o;
}

std::vector<std::byte> connect_record(uint16_t port, uint64_t ts = 123456789)
{
	test::ConnectSpec c;
	c.hdr.ts = ts;
	c.inet = test::inet4(6, {10, 0, 0, 1}, 40000, {10, 0, 0, 2}, port);
	return test::build_connect(c);
}

uint64_t boottime_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

const control::HookStatus &hook(const std::vector<control::HookStatus> &hooks, const std::string &name)
{
	for (const auto &h : hooks)
		if (h.name == name)
			return h;
	FAIL("no hook " << name);
	return hooks.front();
}

} // namespace

TEST_CASE("lkm backend: maps the device, drains every ring, reports hooks and drops", "[unit][lkm]")
{
	FakeDevice dev(3);
	dev.info->hooks_armed = (1u << SMITH_HOOK_EXECVE) | (1u << SMITH_HOOK_CONNECT);
	dev.info->hooks_disabled = 1u << SMITH_HOOK_EXECVEAT;
	dev.info->hooks_failed = 1u << SMITH_HOOK_INIT_MODULE;
	dev.info->hooks_unavailable = 1u << SMITH_HOOK_FINIT_MODULE;
	auto r0 = dev.producer(0);
	auto r2 = dev.producer(2);
	r2.set_position(12345 * kRingBytes + 8);
	REQUIRE(r0.push(connect_record(1)));
	REQUIRE(r2.push(connect_record(2)));
	REQUIRE(r2.push(connect_record(3)));
	// Drops left by an earlier reader are not this run's.
	dev.ctl(1)->drops[SMITH_HOOK_CONNECT] = 40;
	dev.ctl(2)->drops[SMITH_HOOK_CONNECT] = 30;

	backend::LkmBackend b(options_for(dev));
	CHECK(b.hooks().empty());
	b.start();
	CHECK(b.name() == "lkm");
	CHECK(b.event_backend() == "lkm");
	CHECK_FALSE(b.loaded_module());
	CHECK(b.origin() == "smith.ko 0.0-test (already loaded)");
	const auto at_start = b.hooks();
	CHECK(hook(at_start, "connect").kernel_drops == 0);
	dev.ctl(1)->drops[SMITH_HOOK_CONNECT] += 4;
	dev.ctl(2)->drops[SMITH_HOOK_CONNECT] += 3;

	Collect got;
	CHECK(b.poll(std::chrono::milliseconds(10), got) == 3);
	REQUIRE(got.records.size() == 3);
	CHECK(got.records[0] == connect_record(1)); // ring order, then record order
	CHECK(got.records[2] == connect_record(3));
	CHECK(dev.ctl(2)->tail == r2.head());
	CHECK(b.poll(std::chrono::milliseconds(0), got) == 0);

	auto hooks = b.hooks();
	REQUIRE(hooks.size() == SMITH_HOOK_MAX);
	CHECK(hook(hooks, "execve").state == "attached");
	CHECK(hook(hooks, "execve").reason.empty());
	CHECK(hook(hooks, "connect").state == "attached");
	CHECK(hook(hooks, "connect").kernel_drops == 7);
	CHECK(hook(hooks, "execveat").state == "disabled");
	CHECK(hook(hooks, "execveat").reason == "disabled by module parameter");
	CHECK(hook(hooks, "init_module").state == "failed");
	CHECK_THAT(hook(hooks, "init_module").reason, Catch::Contains("probe failed to register"));
	CHECK(hook(hooks, "finit_module").state == "unavailable");
	CHECK(hook(hooks, "finit_module").reason ==
	      "kernel has no finit_module syscall to probe (none in the kernel tree smith.ko was built for)");

	// Orderly stop: what was there at detach() comes out, what came later stays.
	REQUIRE(r0.push(connect_record(4)));
	b.detach();
	REQUIRE(r0.push(connect_record(5)));
	got.records.clear();
	CHECK(b.poll(std::chrono::milliseconds(1000), got) == 1);
	CHECK(b.poll(std::chrono::milliseconds(1000), got) == 0);
	REQUIRE(got.records.size() == 1);
	CHECK(got.records[0] == connect_record(4));
	CHECK(hook(b.hooks(), "execve").state == "detached");

	b.stop();
	b.stop(); // idempotent
	CHECK(b.hooks().empty());
	CHECK_THROWS_AS(b.poll(std::chrono::milliseconds(0), got), BackendError);
}

TEST_CASE("lkm backend: with hook_timing, each hook's timing since open, summed over the CPUs' rings",
	  "[unit][lkm]")
{
	FakeDevice dev(2);
	dev.info->hooks_armed = (1u << SMITH_HOOK_EXECVE) | (1u << SMITH_HOOK_CONNECT);
	const auto count = [&](uint32_t ring, unsigned hook, uint64_t ns, uint64_t n) {
		smith_timing &t = dev.ctl(ring)->timing[hook];
		t.calls += n;
		t.sum_ns += ns * n;
		t.buckets[smith_timing_bucket(ns)] += n;
	};
	count(0, SMITH_HOOK_CONNECT, 100000, 50); // an earlier run's, before this one opened the device
	backend::LkmOptions o = options_for(dev);
	o.hook_timing = true;
	backend::LkmBackend b(o);
	b.start();
	CHECK(b.hook_timing());
	CHECK(hook(b.hooks(), "connect").calls == 0);
	count(0, SMITH_HOOK_CONNECT, 1000, 60);
	count(1, SMITH_HOOK_CONNECT, 3000, 40);
	count(1, SMITH_HOOK_EXECVE, 20000, 1);
	const auto hooks = b.hooks();
	CHECK(hook(hooks, "connect").calls == 100);
	CHECK(hook(hooks, "connect").avg_ns == (1000 * 60 + 3000 * 40) / 100);
	CHECK(hook(hooks, "connect").p99_ns == 3072); // 3000 ns lies in [2560, 3072)
	CHECK(hook(hooks, "execve").calls == 1);
	CHECK(hook(hooks, "execve").avg_ns == 20000);
	CHECK(hook(hooks, "execveat").calls == 0);
	CHECK(b.programs().empty()); // BPF programs only

	// Without hook_timing, nothing is shown, whatever the module counted.
	b.stop();
	backend::LkmBackend off(options_for(dev));
	off.start();
	CHECK_FALSE(off.hook_timing());
	count(0, SMITH_HOOK_CONNECT, 1000, 5);
	CHECK(hook(off.hooks(), "connect").calls == 0);
}

TEST_CASE("lkm backend: records of every ring come in the order of their stamps, as one ring would give them",
	  "[unit][lkm]")
{
	// A process forks on CPU 1 and its child connects on CPU 0: the rings hold them in the other order.
	FakeDevice dev(3);
	auto r0 = dev.producer(0), r1 = dev.producer(1), r2 = dev.producer(2);
	const uint64_t now = boottime_ns();
	REQUIRE(r0.push(connect_record(2, now - 800)));
	REQUIRE(r0.push(connect_record(5, now - 100)));
	REQUIRE(r1.push(connect_record(1, now - 900)));
	REQUIRE(r1.push(connect_record(4, now - 300)));
	REQUIRE(r2.push(connect_record(3, now - 500)));
	// Stamped after poll() read the clock: it waits for a later pass, which it is then part of.
	REQUIRE(r2.push(connect_record(7, now + 300'000'000)));
	// A stamp no clock gives is not held back.
	REQUIRE(r1.push(connect_record(9, now + 3'600'000'000'000ULL)));

	backend::LkmBackend b(options_for(dev));
	b.start();
	Collect got;
	CHECK(b.poll(std::chrono::milliseconds(0), got) == 6);
	REQUIRE(got.records.size() == 6);
	for (uint16_t i = 0; i < 5; ++i)
		CHECK(got.records[i] ==
		      connect_record(i + 1, now - std::vector<uint64_t>{900, 800, 500, 300, 100}[i]));
	CHECK(got.records[5] == connect_record(9, now + 3'600'000'000'000ULL));
	REQUIRE(r0.push(connect_record(6, now + 200'000'000)));
	while (boottime_ns() < now + 300'000'000)
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	got.records.clear();
	CHECK(b.poll(std::chrono::milliseconds(0), got) == 2);
	REQUIRE(got.records.size() == 2);
	CHECK(got.records[0] == connect_record(6, now + 200'000'000));
	CHECK(got.records[1] == connect_record(7, now + 300'000'000));
	// Every ring's tail moved past what was delivered.
	CHECK(dev.ctl(0)->tail == r0.head());
	CHECK(dev.ctl(1)->tail == r1.head());
	CHECK(dev.ctl(2)->tail == r2.head());
}

TEST_CASE("lkm backend: a corrupt ring stops poll with the ring's position", "[unit][lkm]")
{
	FakeDevice dev(2);
	dev.ctl(1)->cpu = 1;
	auto r1 = dev.producer(1);
	REQUIRE(r1.push(connect_record(1)));
	// The record's size now claims more than was produced.
	uint32_t size = 4096;
	std::memcpy(dev.map + dev.info->ring_offset + dev.info->ring_stride + dev.info->page_size +
			    offsetof(smith_rec_hdr, size),
		    &size, sizeof(size));
	backend::LkmBackend b(options_for(dev));
	b.start();
	Collect got;
	CHECK_THROWS_WITH(b.poll(std::chrono::milliseconds(0), got),
			  Catch::Contains("ring 1 (cpu 1) is corrupt at position 0") &&
				  Catch::Contains("size 4096 runs past head"));
}

TEST_CASE("lkm backend: start refuses a device whose info page does not match", "[unit][lkm]")
{
	SECTION("record ABI")
	{
		smith_lkm_info info = test::make_lkm_info(1, kRingBytes);
		info.record_abi = SMITH_ABI_VERSION + 1;
		FakeDevice dev(1, info);
		backend::LkmBackend b(options_for(dev));
		CHECK_THROWS_WITH(
			b.start(),
			Catch::StartsWith(dev.path + ": smith.ko 0.0-test produces records of ABI version " +
					  std::to_string(SMITH_ABI_VERSION + 1)) &&
				Catch::Contains("decodes ABI version " + std::to_string(SMITH_ABI_VERSION)));
	}
	SECTION("magic")
	{
		smith_lkm_info info = test::make_lkm_info(1, kRingBytes);
		info.magic = 0x11;
		FakeDevice dev(1, info);
		backend::LkmBackend b(options_for(dev));
		CHECK_THROWS_WITH(b.start(), Catch::Contains("magic is 0x11"));
	}
	SECTION("no hook armed")
	{
		smith_lkm_info info = test::make_lkm_info(1, kRingBytes);
		info.hooks_armed = 0;
		info.hooks_disabled = (1u << SMITH_HOOK_MAX) - 1;
		FakeDevice dev(1, info);
		backend::LkmBackend b(options_for(dev));
		CHECK_THROWS_WITH(
			b.start(),
			Catch::Contains("smith.ko armed no hook") &&
				Catch::Contains("connect: disabled (disabled by module parameter)"));
	}
}

namespace {

// A backend that only has a name.
struct Named final : backend::Backend {
	std::string n;
	explicit Named(std::string name) : n(std::move(name)) {}
	std::string name() const override { return n; }
	void start() override {}
	long poll(std::chrono::milliseconds, backend::RecordHandler &) override { return 0; }
	std::vector<control::HookStatus> hooks() const override { return {}; }
	void stop() override {}
};

backend::BackendStarters starters(const char *ebpf_error, const char *lkm_error, int &lkm_tries)
{
	backend::BackendStarters s;
	s.ebpf = [ebpf_error] {
		if (ebpf_error)
			throw BackendError(ebpf_error);
		return backend::BackendChoice{std::make_unique<Named>("ebpf"), "programs loaded"};
	};
	s.lkm = [lkm_error, &lkm_tries] {
		lkm_tries++;
		if (lkm_error)
			throw BackendError(lkm_error);
		return backend::BackendChoice{std::make_unique<Named>("lkm"),
					      "smith.ko 1.0 (already loaded)"};
	};
	return s;
}

} // namespace

TEST_CASE("backend choice: auto prefers ebpf and falls back to lkm with both reasons", "[unit][lkm]")
{
	int lkm_tries = 0;
	auto ebpf = backend::choose_backend("auto", starters(nullptr, nullptr, lkm_tries));
	CHECK(ebpf.backend->name() == "ebpf");
	CHECK(ebpf.reason == "auto: programs loaded");
	CHECK(lkm_tries == 0);

	auto lkm = backend::choose_backend("auto", starters("kernel has no BTF", nullptr, lkm_tries));
	CHECK(lkm.backend->name() == "lkm");
	CHECK(lkm.reason == "auto: ebpf cannot run (kernel has no BTF); lkm: smith.ko 1.0 (already loaded)");

	CHECK_THROWS_WITH(
		backend::choose_backend("auto", starters("kernel has no BTF", "no /dev/smith", lkm_tries)),
		"no backend can run on this kernel: ebpf: kernel has no BTF; lkm: no /dev/smith");
}

TEST_CASE("backend choice: a requested backend runs or fails alone", "[unit][lkm]")
{
	int lkm_tries = 0;
	auto lkm = backend::choose_backend("lkm", starters(nullptr, nullptr, lkm_tries));
	CHECK(lkm.backend->name() == "lkm");
	CHECK(lkm.reason == "requested with --backend=lkm; smith.ko 1.0 (already loaded)");

	CHECK_THROWS_WITH(backend::choose_backend("lkm", starters(nullptr, "no /dev/smith", lkm_tries)),
			  "--backend=lkm: no /dev/smith");

	lkm_tries = 0;
	CHECK_THROWS_WITH(backend::choose_backend("ebpf", starters("kernel has no BTF", nullptr, lkm_tries)),
			  "kernel has no BTF");
	CHECK(lkm_tries == 0);
	CHECK_THROWS_WITH(backend::choose_backend("bogus", starters(nullptr, nullptr, lkm_tries)),
			  Catch::Contains("unknown backend 'bogus'"));
}
