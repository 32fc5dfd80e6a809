#include "backend/hook_timing.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>

using namespace smith::backend;

TEST_CASE("hook timing: each duration falls in the bucket whose floor and next floor bound it", "[unit]")
{
	// The producers' bucket function (abi.h) and the reader's floors describe the same buckets.
	CHECK(smith_timing_bucket(0) == 0);
	CHECK(smith_timing_bucket(3) == 3);
	CHECK(smith_timing_bucket(4) == 4);
	CHECK(smith_timing_bucket(7) == 7);
	CHECK(smith_timing_bucket(8) == 8);
	CHECK(smith_timing_bucket(9) == 8);
	CHECK(smith_timing_bucket(10) == 9);
	CHECK(smith_timing_bucket(1000) == 4 + 4 * 7 + 3); // 1000 = 0b1111101000: m 9, quarter 3
	CHECK(smith_timing_bucket(UINT64_MAX) == SMITH_TIMING_BUCKETS - 1);
	CHECK(timing_bucket_floor(SMITH_TIMING_BUCKETS - 1) == 7ull << 18); // 1.75 * 2^20
	for (uint32_t b = 0; b + 1 < SMITH_TIMING_BUCKETS; ++b) {
		INFO("bucket " << b);
		const uint64_t lo = timing_bucket_floor(b), hi = timing_bucket_floor(b + 1);
		REQUIRE(lo < hi);
		CHECK(smith_timing_bucket(lo) == b);
		CHECK(smith_timing_bucket(hi - 1) == b);
		CHECK(hi - lo <= std::max<uint64_t>(1, lo / 4)); // at most a quarter wide
	}
	std::mt19937_64 rng(7);
	for (int i = 0; i < 100000; ++i) {
		const uint64_t ns = rng() >> (rng() % 64);
		const uint32_t b = smith_timing_bucket(ns);
		REQUIRE(b < SMITH_TIMING_BUCKETS);
		REQUIRE(timing_bucket_floor(b) <= ns);
		if (b + 1 < SMITH_TIMING_BUCKETS)
			REQUIRE(ns < timing_bucket_floor(b + 1));
	}
}

TEST_CASE("hook timing: calls, mean and the bucket of the 99th percentile", "[unit]")
{
	smith_timing t{};
	CHECK(summarize(t).calls == 0);
	CHECK(summarize(t).avg_ns == 0);
	CHECK(summarize(t).p99_ns == 0);
	const auto add = [&t](uint64_t ns, int n) {
		for (int i = 0; i < n; ++i) {
			t.calls++;
			t.sum_ns += ns;
			t.buckets[smith_timing_bucket(ns)]++;
		}
	};
	add(500, 990); // bucket [448, 512)
	add(5000, 10); // bucket [4096, 5120)
	TimingSummary s = summarize(t);
	CHECK(s.calls == 1000);
	CHECK(s.avg_ns == (500 * 990 + 5000 * 10) / 1000);
	CHECK(s.p99_ns == 512); // the 990th call is the last at 500 ns
	add(5000, 1);		// now the 99th percentile is the 991st of 1001 calls: 5000 ns
	CHECK(summarize(t).p99_ns == 5120);
	add(UINT64_C(1) << 40, 100); // far past the last bucket: its floor
	CHECK(summarize(t).p99_ns == timing_bucket_floor(SMITH_TIMING_BUCKETS - 1));

	// A call counted whose bucket is not yet (a read between the producer's two stores): the
	// percentile is of what the buckets hold.
	smith_timing racing{};
	racing.calls = 3;
	racing.sum_ns = 3000;
	racing.buckets[smith_timing_bucket(1000)] = 2;
	CHECK(summarize(racing).p99_ns == 1024);

	// What a run counted: the counters now less the counters at its start.
	smith_timing before{};
	before.calls = 990;
	before.sum_ns = 990 * 500;
	before.buckets[smith_timing_bucket(500)] = 990;
	const smith_timing since = timing_since(t, before);
	CHECK(since.calls == 111);
	CHECK(summarize(since).p99_ns == timing_bucket_floor(SMITH_TIMING_BUCKETS - 1));
	smith_timing sum{};
	timing_add(sum, before);
	timing_add(sum, since);
	CHECK(sum.calls == t.calls);
	CHECK(sum.buckets[smith_timing_bucket(500)] == t.buckets[smith_timing_bucket(500)]);
}
