// What a hook's timing counters (abi.h, struct smith_timing, summed over CPUs) say: calls, mean and
// 99th percentile. Both producers count into the same histogram; this is its one reader.
#pragma once

#include <cstdint>

#include "smith/abi.h"

namespace smith::backend {

// The least duration bucket `b` of struct smith_timing holds, in ns.
constexpr uint64_t timing_bucket_floor(uint32_t b)
{
	if (b < 4)
		return b;
	const uint32_t m = 2 + (b - 4) / 4, q = (b - 4) % 4;
	return uint64_t{4 + q} << (m - 2);
}

// `into` += `t`.
inline void timing_add(smith_timing &into, const smith_timing &t)
{
	into.calls += t.calls;
	into.sum_ns += t.sum_ns;
	for (uint32_t b = 0; b < SMITH_TIMING_BUCKETS; ++b)
		into.buckets[b] += t.buckets[b];
}

// `now` - `before`, counter by counter: what was counted since `before` was read.
inline smith_timing timing_since(const smith_timing &now, const smith_timing &before)
{
	smith_timing d{};
	d.calls = now.calls - before.calls;
	d.sum_ns = now.sum_ns - before.sum_ns;
	for (uint32_t b = 0; b < SMITH_TIMING_BUCKETS; ++b)
		d.buckets[b] = now.buckets[b] - before.buckets[b];
	return d;
}

struct TimingSummary {
	uint64_t calls = 0;
	uint64_t avg_ns = 0;
	// The 99th percentile, as the upper end of the bucket it falls in (at most 25% above it); in the
	// last bucket, which has no upper end, that bucket's floor.
	uint64_t p99_ns = 0;
};

inline TimingSummary summarize(const smith_timing &t)
{
	TimingSummary s;
	s.calls = t.calls;
	if (t.calls == 0)
		return s;
	s.avg_ns = t.sum_ns / t.calls;
	// The smallest bucket by which at least 99% of the counted durations lie. The rank comes from the
	// buckets' own total, not from calls: a reader can see a call counted whose bucket is not yet.
	uint64_t total = 0;
	for (uint32_t b = 0; b < SMITH_TIMING_BUCKETS; ++b)
		total += t.buckets[b];
	const uint64_t want = total - total / 100;
	uint64_t seen = 0;
	for (uint32_t b = 0; b < SMITH_TIMING_BUCKETS && total > 0; ++b) {
		seen += t.buckets[b];
		if (seen >= want) {
			s.p99_ns = b + 1 < SMITH_TIMING_BUCKETS ? timing_bucket_floor(b + 1)
								: timing_bucket_floor(b);
			break;
		}
	}
	return s;
}

} // namespace smith::backend
