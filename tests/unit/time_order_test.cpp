// drain_in_time_order (src/backend/time_order.h): several rings read as one stream, by stamp, up to a
// horizon, each ring's space given back only after the handler made its records safe.
#include "backend/time_order.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using smith::backend::drain_in_time_order;
using smith::backend::kHoldAhead;

// A ring of whole records, each a smith_rec_hdr whose ts is given; a record at `busy_from` and after
// is still being written (next() stops there, as BpfRing at a record with the busy bit).
class FakeRing {
public:
	explicit FakeRing(std::vector<uint64_t> stamps, size_t busy_from = SIZE_MAX) : busy_from_(busy_from)
	{
		for (uint64_t ts : stamps) {
			smith_rec_hdr h{};
			h.ts = ts;
			h.size = sizeof h;
			records_.push_back(h);
		}
	}
	void begin() { pos_ = published_; }
	std::span<const std::byte> next()
	{
		if (pos_ >= records_.size() || pos_ >= busy_from_)
			return {};
		return std::as_bytes(std::span(&records_[pos_], 1));
	}
	bool pop()
	{
		pos_++;
		return pos_ - published_ >= 4; // gives back every 4 records
	}
	void publish()
	{
		if (*handler_batches_ < batches_needed_for_publish_)
			throw std::logic_error("published before the handler made the records safe");
		published_ = pos_;
	}
	void finish_writing() { busy_from_ = SIZE_MAX; }
	size_t published() const { return published_; }
	// The handler's count of on_batch_end() calls, and how many it must have made before the next
	// publish() that moves.
	void watch(const size_t *batches) { handler_batches_ = batches; }
	void expect_batches(size_t n) { batches_needed_for_publish_ = n; }

private:
	std::vector<smith_rec_hdr> records_;
	size_t busy_from_;
	size_t pos_ = 0;
	size_t published_ = 0;
	const size_t *handler_batches_ = &zero_;
	size_t batches_needed_for_publish_ = 0;
	static inline const size_t zero_ = 0;
};

struct Collect final : smith::backend::RecordHandler {
	std::vector<uint64_t> stamps;
	size_t batches = 0;
	void on_record(std::span<const std::byte> record) override
	{
		smith_rec_hdr h;
		REQUIRE(record.size() >= sizeof h);
		std::memcpy(&h, record.data(), sizeof h);
		stamps.push_back(h.ts);
	}
	void on_batch_end() override { batches++; }
};

} // namespace

TEST_CASE("time order: rings are merged by stamp", "[unit][time_order]")
{
	std::vector<FakeRing> rings{FakeRing({1, 4, 5, 9}), FakeRing({2, 3, 8}), FakeRing({}),
				    FakeRing({6, 7})};
	Collect c;
	CHECK(drain_in_time_order(std::span(rings), c, 100) == 9);
	CHECK(c.stamps == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9});
	// All given back.
	CHECK(rings[0].published() == 4);
	CHECK(rings[1].published() == 3);
	CHECK(rings[3].published() == 2);
}

TEST_CASE("time order: records stamped at or after the horizon wait, unless too far ahead",
	  "[unit][time_order]")
{
	const uint64_t horizon = 1000;
	std::vector<FakeRing> rings{FakeRing({10, 1000, 1001}), FakeRing({20, horizon + kHoldAhead + 5})};
	Collect c;
	// Ring 1's far stamp is no clock's: it goes now, so that it cannot hold its ring back for ever.
	CHECK(drain_in_time_order(std::span(rings), c, horizon) == 3);
	CHECK(c.stamps == std::vector<uint64_t>{10, 20, horizon + kHoldAhead + 5});
	CHECK(rings[0].published() == 1);
	// The next pass, with the horizon past them, takes the rest.
	CHECK(drain_in_time_order(std::span(rings), c, 2000) == 2);
	CHECK(c.stamps.back() == 1001);
	// With the hooks gone (UINT64_MAX) everything is due.
	std::vector<FakeRing> last{FakeRing({UINT64_MAX - 1}), FakeRing({5})};
	Collect all;
	CHECK(drain_in_time_order(std::span(last), all, UINT64_MAX) == 2);
	CHECK(all.stamps == std::vector<uint64_t>{5, UINT64_MAX - 1});
}

TEST_CASE("time order: a record still being written stops its ring until a later pass", "[unit][time_order]")
{
	std::vector<FakeRing> rings{FakeRing({1, 3, 5}, 1), FakeRing({2, 4})};
	Collect c;
	CHECK(drain_in_time_order(std::span(rings), c, 100) == 3);
	CHECK(c.stamps == std::vector<uint64_t>{1, 2, 4});
	rings[0].finish_writing();
	CHECK(drain_in_time_order(std::span(rings), c, 100) == 2);
	CHECK(c.stamps == std::vector<uint64_t>{1, 2, 4, 3, 5});
}

TEST_CASE("time order: space is given back only after the handler's batch end, also on an error",
	  "[unit][time_order]")
{
	std::vector<FakeRing> rings{FakeRing({1, 2, 3, 4, 5, 6}), FakeRing({7})};
	struct Failing final : smith::backend::RecordHandler {
		size_t batches = 0, seen = 0;
		void on_record(std::span<const std::byte>) override
		{
			if (++seen == 6)
				throw std::runtime_error("sink failed");
		}
		void on_batch_end() override { batches++; }
	} h;
	for (FakeRing &r : rings) {
		r.watch(&h.batches);
		r.expect_batches(1);
	}
	CHECK_THROWS_WITH(drain_in_time_order(std::span(rings), h, 100), "sink failed");
	// Four records were given back after the first batch end, the fifth on the way out of the
	// error; the sixth, whose handling threw, stays.
	CHECK(h.batches == 2);
	CHECK(rings[0].published() == 5);
	CHECK(rings[1].published() == 0);
}
