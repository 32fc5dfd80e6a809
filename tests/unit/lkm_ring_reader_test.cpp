// The reader's side of the /dev/smith transport over rings built in memory
// exactly as include/smith/lkm_ring.h lays them out: delivery in order and
// exactly once across pad records and wraps, the published tail, corrupt
// sizes and info pages that must be refused with a clear error.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backend/lkm_ring_reader.h"
#include "lkm_ring_builder.h"
#include "record_builder.h"

namespace {

using namespace smith;
using smith::backend::BackendError;
using smith::backend::LkmRingReader;

constexpr uint64_t kRingBytes = 8192;

// A control page (zeroed) and a data area (filled with junk), page-aligned like the module's mapping.
std::byte *alloc_ring(uint64_t ring_bytes)
{
	auto *mem = static_cast<std::byte *>(std::aligned_alloc(4096, 4096 + ring_bytes));
	std::memset(mem, 0, 4096);
	std::memset(mem + 4096, 0xa5, ring_bytes);
	return mem;
}

struct MemRing {
	struct Free {
		void operator()(std::byte *p) const { std::free(p); }
	};
	std::unique_ptr<std::byte, Free> mem;
	smith_lkm_ring_ctl *ctl;
	std::byte *data;
	test::RingProducer producer;

	explicit MemRing(uint64_t ring_bytes = kRingBytes)
	    : mem(alloc_ring(ring_bytes)), ctl(reinterpret_cast<smith_lkm_ring_ctl *>(mem.get())),
	      data(mem.get() + 4096), producer(ctl, data, ring_bytes)
	{}
	LkmRingReader reader(uint64_t ring_bytes = kRingBytes)
	{
		return LkmRingReader(ctl, data, ring_bytes, 3);
	}
	uint64_t tail() const { return std::atomic_ref<__u64>(ctl->tail).load(); }
	// Writes 8 bytes of a record header (type and size) at position `pos`.
	void write_prefix(uint64_t pos, uint16_t type, uint32_t size)
	{
		uint64_t off = pos & (kRingBytes - 1);
		std::memcpy(data + off + offsetof(smith_rec_hdr, type), &type, 2);
		std::memcpy(data + off + offsetof(smith_rec_hdr, size), &size, 4);
	}
};

// Copies every record it is handed.
struct Collect final : backend::RecordHandler {
	std::vector<std::vector<std::byte>> records;
	void on_record(std::span<const std::byte> r) override { records.emplace_back(r.begin(), r.end()); }
};

// An execve record whose size varies with `i` (and is not always a multiple of 8).
std::vector<std::byte> exec_record(int i)
{
	test::ExecSpec e;
	e.argv = {"/bin/echo", std::string(static_cast<size_t>(i % 37), 'x'), std::to_string(i)};
	e.hdr.ts = 1000 + static_cast<uint64_t>(i);
	return test::build_execve(e);
}

} // namespace

TEST_CASE("lkm ring: every record is delivered once, in order, across pads and wraps", "[unit][lkm]")
{
	MemRing ring;
	// Far past ring_bytes, and close to the end of the data area, so the first records already wrap.
	const uint64_t start = 1000 * kRingBytes + kRingBytes - 48;
	ring.producer.set_position(start);
	LkmRingReader reader = ring.reader();

	std::vector<std::vector<std::byte>> sent;
	Collect got;
	int next = 0;
	for (int round = 0; round < 200; round++) {
		// A few records per round: as many as fit, up to 1 + round % 5.
		for (int k = 0; k <= round % 5; k++) {
			auto rec = exec_record(next);
			if (!ring.producer.push(rec))
				break;
			sent.push_back(std::move(rec));
			next++;
		}
		long n = reader.drain(got);
		CHECK(n >= 0);
		REQUIRE(ring.tail() == ring.producer.head());
		REQUIRE(reader.unread_bytes() == 0);
	}
	REQUIRE(got.records.size() == sent.size());
	for (size_t i = 0; i < sent.size(); i++) {
		INFO("record " << i);
		REQUIRE(got.records[i] == sent[i]);
	}
	CHECK(ring.producer.pads() > 10);
	CHECK(ring.producer.head() > start + 20 * kRingBytes);
	CHECK(reader.drain(got) == 0);
}

TEST_CASE("lkm ring: the tail moves during a long drain, so the producer has room before it ends",
	  "[unit][lkm]")
{
	MemRing ring;
	ring.producer.set_position(9 * kRingBytes + 64);
	int pushed = 0;
	while (ring.producer.push(exec_record(pushed)))
		pushed++;
	REQUIRE(pushed > 8);

	// Sees the published tail at each record.
	struct Watch final : backend::RecordHandler {
		MemRing *ring;
		std::vector<uint64_t> tails;
		void on_record(std::span<const std::byte>) override { tails.push_back(ring->tail()); }
	} watch;
	watch.ring = &ring;
	LkmRingReader reader = ring.reader();
	CHECK(reader.drain(watch) == pushed);
	REQUIRE(watch.tails.size() == static_cast<size_t>(pushed));
	CHECK(watch.tails.front() == 9 * kRingBytes + 64);
	CHECK(watch.tails.back() > watch.tails.front());
	CHECK(watch.tails.back() - watch.tails.front() >= kRingBytes / 2);
	CHECK(ring.tail() == ring.producer.head());
}

TEST_CASE("lkm ring: no record's space is given back before on_batch_end() made it safe", "[unit][lkm]")
{
	MemRing ring;
	const uint64_t start = 5 * kRingBytes + 128;
	ring.producer.set_position(start);
	int pushed = 0;
	while (ring.producer.push(exec_record(pushed)))
		pushed++;
	REQUIRE(pushed > 8);

	// Watches the published tail: it may move only between an on_batch_end() and the next record.
	struct Persist final : backend::RecordHandler {
		MemRing *ring;
		uint64_t tail = 0, handed = 0, safe = 0, batches = 0, early_moves = 0;
		bool may_move = false, fail = false;
		void on_record(std::span<const std::byte>) override
		{
			if (ring->tail() != tail) {
				if (!may_move)
					early_moves++;
				tail = ring->tail();
			}
			may_move = false;
			handed++;
		}
		void on_batch_end() override
		{
			if (fail)
				throw std::runtime_error("disk full");
			batches++;
			safe = handed;
			may_move = true;
		}
	} h;
	h.tail = start;
	h.ring = &ring;

	SECTION("a handler that cannot make them safe leaves every record in the ring")
	{
		h.fail = true;
		LkmRingReader reader = ring.reader();
		CHECK_THROWS(reader.drain(h));
		CHECK(ring.tail() == start);
		// The next reader gets them all again.
		Collect again;
		CHECK(ring.reader().drain(again) == pushed);
		CHECK(ring.tail() == ring.producer.head());
	}
	SECTION("batches of 1/16 of the ring, then the rest")
	{
		LkmRingReader reader = ring.reader();
		CHECK(reader.drain(h) == pushed);
		CHECK(h.batches >= 2);
		CHECK(h.early_moves == 0);
		CHECK(h.tail > start); // given back during the drain, not only at its end
		CHECK(h.safe == static_cast<uint64_t>(pushed));
		CHECK(ring.tail() == ring.producer.head());
	}
}

TEST_CASE("lkm ring: a full ring drops and counts, and the reader still gets what was kept", "[unit][lkm]")
{
	MemRing ring;
	ring.producer.set_position(7 * kRingBytes + 512);
	std::vector<std::vector<std::byte>> sent;
	int dropped = 0;
	for (int i = 0; i < 100; i++) {
		auto rec = exec_record(i);
		if (ring.producer.push(rec, SMITH_HOOK_CONNECT))
			sent.push_back(rec);
		else
			dropped++;
	}
	REQUIRE(dropped > 0);
	LkmRingReader reader = ring.reader();
	CHECK(reader.drops(SMITH_HOOK_CONNECT) == static_cast<uint64_t>(dropped));
	CHECK(reader.drops(SMITH_HOOK_EXECVE) == 0);
	CHECK(reader.drops(SMITH_HOOK_MAX) == 0);
	// Full: what is free would not hold one more record, or two with the pad at the ring's end.
	CHECK(reader.unread_bytes() + 2 * (exec_record(36).size() + 8) > kRingBytes);
	Collect got;
	CHECK(reader.drain(got) == static_cast<long>(sent.size()));
	CHECK(got.records == sent);
	CHECK(ring.tail() == ring.producer.head());
	// Room again.
	CHECK(ring.producer.push(exec_record(1)));
	CHECK(reader.drain(got) == 1);
}

TEST_CASE("lkm ring: a producer thread and the reader in parallel lose and repeat nothing", "[unit][lkm]")
{
	MemRing ring;
	ring.producer.set_position(uint64_t{1} << 40);
	constexpr int kRecords = 50000;
	std::atomic<bool> done{false};
	std::thread producer([&] {
		for (int i = 0; i < kRecords; i++) {
			auto rec = exec_record(i);
			while (!ring.producer.push(rec))
				std::this_thread::yield();
		}
		done.store(true);
	});

	// Checks each record as it comes, without keeping them.
	struct Check final : backend::RecordHandler {
		int next = 0;
		bool ok = true;
		void on_record(std::span<const std::byte> r) override
		{
			const auto want = exec_record(next++);
			ok = ok && std::equal(r.begin(), r.end(), want.begin(), want.end());
		}
	} check;
	LkmRingReader reader = ring.reader();
	while (!done.load() || reader.unread_bytes() > 0)
		reader.drain(check);
	producer.join();
	// The producer retried whenever the ring was full: every record arrived, once, in order.
	CHECK(check.next == kRecords);
	CHECK(check.ok);
}

TEST_CASE("lkm ring: freeze stops the drain at the head of that moment", "[unit][lkm]")
{
	MemRing ring;
	ring.producer.set_position(3 * kRingBytes);
	for (int i = 0; i < 3; i++)
		REQUIRE(ring.producer.push(exec_record(i)));
	LkmRingReader reader = ring.reader();
	reader.freeze();
	REQUIRE(ring.producer.push(exec_record(3)));
	Collect got;
	CHECK(reader.drain(got) == 3);
	CHECK(reader.drain(got) == 0);
	CHECK(got.records.size() == 3);
	CHECK(reader.unread_bytes() > 0);
}

TEST_CASE("lkm ring: a corrupt size is an error that names ring, position and size", "[unit][lkm]")
{
	MemRing ring;
	const uint64_t start = 5 * kRingBytes;
	ring.producer.set_position(start);
	auto good = exec_record(1);
	REQUIRE(ring.producer.push(good));
	const uint64_t bad = ring.producer.head();
	REQUIRE(ring.producer.push(exec_record(2)));
	REQUIRE(ring.producer.push(exec_record(3)));
	LkmRingReader reader = ring.reader();
	Collect got;

	auto expect_corrupt = [&](const std::string &what) {
		INFO(what);
		std::string error;
		try {
			reader.drain(got);
		} catch (const BackendError &e) {
			error = e.what();
		}
		CHECK_THAT(error, Catch::Contains("ring 3") && Catch::Contains("corrupt") &&
					  Catch::Contains("position " + std::to_string(bad)) &&
					  Catch::Contains(what));
		// The good record before it was delivered, and the tail stops after it.
		REQUIRE(got.records.size() == 1);
		CHECK(got.records[0] == good);
		CHECK(ring.tail() == bad);
		// Nothing moves on the next attempt either.
		CHECK_THROWS_AS(reader.drain(got), BackendError);
		CHECK(got.records.size() == 1);
	};
	SECTION("zero")
	{
		ring.write_prefix(bad, SMITH_REC_EXECVE, 0);
		expect_corrupt("size 0");
	}
	SECTION("shorter than a record header")
	{
		ring.write_prefix(bad, SMITH_REC_EXECVE, 12);
		expect_corrupt("size 12");
	}
	SECTION("larger than SMITH_REC_MAX")
	{
		ring.write_prefix(bad, SMITH_REC_EXECVE, SMITH_REC_MAX + 8);
		expect_corrupt("size " + std::to_string(SMITH_REC_MAX + 8));
	}
	SECTION("past the end of the data area")
	{
		ring.write_prefix(bad, SMITH_REC_CONNECT, 8000);
		expect_corrupt("wraps past the end");
	}
	SECTION("past head")
	{
		ring.write_prefix(bad, SMITH_REC_CONNECT, 3000);
		expect_corrupt("runs past head");
	}
	SECTION("a pad record that does not end at the end of the data area")
	{
		ring.write_prefix(bad, SMITH_LKM_REC_PAD, 64);
		expect_corrupt("pad record of size 64");
	}
}

TEST_CASE("lkm ring: impossible head and tail positions are errors", "[unit][lkm]")
{
	MemRing ring;
	ring.producer.set_position(2 * kRingBytes);
	REQUIRE(ring.producer.push(exec_record(1)));
	LkmRingReader reader = ring.reader();
	Collect got;

	std::atomic_ref<__u64>(ring.ctl->tail).store(ring.producer.head() - kRingBytes - 8);
	CHECK_THROWS_WITH(reader.drain(got), Catch::Contains("more than the ring's 8192 bytes"));
	std::atomic_ref<__u64>(ring.ctl->tail).store(ring.producer.head() + 8); // head behind tail
	CHECK_THROWS_WITH(reader.drain(got), Catch::Contains("bytes ahead of tail"));
	std::atomic_ref<__u64>(ring.ctl->tail).store(2 * kRingBytes + 4);
	CHECK_THROWS_WITH(reader.drain(got), Catch::Contains("not 8-byte aligned"));
	CHECK(got.records.empty());
}

TEST_CASE("lkm info page: a consistent page passes", "[unit][lkm]")
{
	for (uint32_t rings : {1u, 2u, 64u})
		for (uint64_t bytes : {test::page_size(), uint64_t{1} << 20})
			CHECK_NOTHROW(backend::lkm_check_info(test::make_lkm_info(rings, bytes),
							      test::page_size()));
	CHECK(backend::lkm_module_version(test::make_lkm_info(1, 65536)) == "0.0-test");
	smith_lkm_info unterminated = test::make_lkm_info(1, 65536);
	std::memset(unterminated.version, 'v', sizeof(unterminated.version));
	CHECK(backend::lkm_module_version(unterminated) == std::string(32, 'v'));
}

TEST_CASE("lkm info page: magic, transport and ABI mismatches name both versions", "[unit][lkm]")
{
	const uint64_t page = test::page_size();
	smith_lkm_info info = test::make_lkm_info(4, 65536);

	SECTION("magic")
	{
		info.magic = 0x1234;
		CHECK_THROWS_WITH(backend::lkm_check_info(info, page),
				  Catch::Contains("magic is 0x1234") &&
					  Catch::Contains("expected 0x314d4b48544d53") &&
					  Catch::Contains("not a smith.ko transport"));
	}
	SECTION("transport version")
	{
		info.transport_version = SMITH_LKM_TRANSPORT_VERSION + 1;
		CHECK_THROWS_WITH(backend::lkm_check_info(info, page),
				  Catch::Contains("smith.ko 0.0-test") &&
					  Catch::Contains(fmt::format("transport version {}",
								      SMITH_LKM_TRANSPORT_VERSION + 1)) &&
					  Catch::Contains(fmt::format("speaks version {}",
								      SMITH_LKM_TRANSPORT_VERSION)));
	}
	SECTION("record ABI")
	{
		info.record_abi = SMITH_ABI_VERSION + 6;
		CHECK_THROWS_WITH(
			backend::lkm_check_info(info, page),
			Catch::Contains(fmt::format("records of ABI version {}", SMITH_ABI_VERSION + 6)) &&
				Catch::Contains(fmt::format("decodes ABI version {}", SMITH_ABI_VERSION)));
	}
}

TEST_CASE("lkm info page: a geometry that does not add up is refused", "[unit][lkm]")
{
	const uint64_t page = test::page_size();
	smith_lkm_info info = test::make_lkm_info(4, 65536);
	std::string field;
	SECTION("page size")
	{
		info.page_size = 65536;
		field = "page_size 65536";
	}
	SECTION("no rings")
	{
		info.nr_rings = 0;
		field = "nr_rings 0";
	}
	SECTION("ring size not a power of two")
	{
		info.ring_bytes = 65536 + 4096;
		field = "ring_bytes 69632";
	}
	SECTION("ring offset inside the info page")
	{
		info.ring_offset = 0;
		field = "ring_offset 0";
	}
	SECTION("stride")
	{
		info.ring_stride = 65536;
		field = "ring_stride 65536";
	}
	SECTION("map size")
	{
		info.map_bytes -= page;
		field = "map_bytes";
	}
	INFO(field);
	CHECK_THROWS_WITH(backend::lkm_check_info(info, page),
			  Catch::Contains("impossible ring layout") && Catch::Contains(field));
}
