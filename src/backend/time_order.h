// Reading several per-CPU rings as one stream, in the order of the records' time stamps.
//
// A record's cause may sit in another CPU's ring: the fork record of the process that
// connects, a connect_suppressed count. Read ring by ring, the effect could come first.
// The merge hands the rings' records over by their stamps (smith_rec_hdr.ts, boot-time
// clock), up to a horizon read before any ring's position: a record stamped before it whose
// cause was written on another CPU finds that cause already committed, since the cause was
// committed before the record was stamped. Records stamped at or after the horizon wait for
// the next pass, unless their stamp is too far ahead to be a clock's. A record still being
// written when the pass reaches it waits for the next pass too, behind records stamped after
// it in other rings: the order holds between records whose writing did not overlap, as a
// cause's and its effect's cannot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <functional>
#include <queue>
#include <span>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "smith/abi.h"

namespace smith::backend {

// How far ahead of the clock a stamp may be and still wait for a later pass.
inline constexpr uint64_t kHoldAhead = 1000000000ULL;

inline uint64_t boottime_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// Hands the records of one ring to `handler`, in ring order, up to the end of one pass, giving
// their space back every time pop() says so and at the end, each time right after
// handler.on_batch_end() returned; on an error, what was handed before it. Ring as below, with
// pending(): whether the pass has moved past records (handed or skipped) not yet given back.
template <typename Ring> long drain_ring(Ring &ring, RecordHandler &handler)
{
	auto finish = [&] {
		if (!ring.pending())
			return;
		handler.on_batch_end();
		ring.publish();
	};
	ring.begin();
	FinishOnUnwind guard(finish);
	long handed = 0;
	for (auto rec = ring.next(); !rec.empty(); rec = ring.next()) {
		handler.on_record(rec);
		handed++;
		if (ring.pop())
			finish();
	}
	finish();
	return handed;
}

// Hands the records of `rings` to `handler` in stamp order, those stamped before `horizon`
// (UINT64_MAX: all, for a reader whose hooks are gone). Each ring gives back what was taken
// from it once the handler has made it safe: when one ring has 1/16 of itself waiting, at the
// end, and on the way out of an error. Ring has begin(), next() (a span starting at a
// smith_rec_hdr, empty at the end of the pass), pop() and publish(), as LkmRingReader and
// BpfRing. Returns the records handed.
template <typename Ring>
long drain_in_time_order(std::span<Ring> rings, RecordHandler &handler, uint64_t horizon)
{
	const uint64_t hold_until = horizon > UINT64_MAX - kHoldAhead ? UINT64_MAX : horizon + kHoldAhead;
	auto stamp = [](std::span<const std::byte> rec) {
		uint64_t ts;
		std::memcpy(&ts, rec.data() + offsetof(smith_rec_hdr, ts), sizeof(ts));
		return ts;
	};
	auto due = [&](std::span<const std::byte> rec) {
		if (rec.size() < sizeof(smith_rec_hdr))
			return !rec.empty(); // the decoder reports it; it has no stamp to wait on
		const uint64_t ts = stamp(rec);
		return ts < horizon || ts >= hold_until;
	};
	auto key = [&](std::span<const std::byte> rec) {
		return rec.size() < sizeof(smith_rec_hdr) ? uint64_t{0} : stamp(rec);
	};
	auto give_back = [&] {
		handler.on_batch_end();
		for (auto &ring : rings)
			ring.publish();
	};
	// A min-heap of (stamp, ring) over the rings' next records.
	using Entry = std::pair<uint64_t, size_t>;
	std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heads;
	for (auto &ring : rings)
		ring.begin();
	FinishOnUnwind guard(give_back);
	for (size_t i = 0; i < rings.size(); i++)
		if (auto rec = rings[i].next(); due(rec))
			heads.emplace(key(rec), i);
	long delivered = 0;
	while (!heads.empty()) {
		const size_t i = heads.top().second;
		heads.pop();
		Ring &ring = rings[i];
		handler.on_record(ring.next());
		delivered++;
		if (ring.pop())
			give_back();
		if (auto rec = ring.next(); due(rec))
			heads.emplace(key(rec), i);
	}
	give_back();
	return delivered;
}

} // namespace smith::backend
