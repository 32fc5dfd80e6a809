// The connect budget's arithmetic (include/smith/budget.h), which both producers run in the kernel.
#include "smith/budget.h"

#include <catch2/catch.hpp>

#include <cstdint>

namespace {

constexpr uint64_t kSecond = 1000000000ULL;

struct Budget {
	smith_budget b{};
	uint64_t interval;
	uint64_t tolerance;
	Budget(uint32_t rate, uint32_t burst)
	    : interval(SMITH_BUDGET_INTERVAL_NS(rate)), tolerance(SMITH_BUDGET_TOLERANCE_NS(rate, burst))
	{}
	bool take(uint64_t now) { return smith_budget_take(&b, now, interval, tolerance) != 0; }
	// Calls at `now`, all at once; how many were allowed.
	int burst_at(uint64_t now, int calls)
	{
		int ok = 0;
		for (int i = 0; i < calls; ++i)
			ok += take(now);
		return ok;
	}
};

} // namespace

TEST_CASE("budget: the burst at once, then the rate", "[unit]")
{
	Budget b(1000, 10); // 1 ms apart, 10 at once
	const uint64_t t0 = 100 * kSecond;
	CHECK(b.burst_at(t0, 50) == 10);
	CHECK(b.burst_at(t0 + 999999, 5) == 0);	     // the next interval is not over yet
	CHECK(b.burst_at(t0 + 1000000, 5) == 1);     // one interval later: one more
	CHECK(b.burst_at(t0 + 5 * 1000000, 5) == 4); // four more intervals: four more
	// Idle for a long time: the whole burst again, no more.
	CHECK(b.burst_at(t0 + 60 * kSecond, 50) == 10);
}

TEST_CASE("budget: a steady rate at or under the budget is never held back", "[unit]")
{
	Budget b(SMITH_BUDGET_RATE_DEFAULT, SMITH_BUDGET_BURST_DEFAULT);
	uint64_t now = kSecond;
	int held = 0;
	for (int i = 0; i < 100000; ++i, now += SMITH_BUDGET_INTERVAL_NS(SMITH_BUDGET_RATE_DEFAULT))
		held += !b.take(now);
	CHECK(held == 0);
}

TEST_CASE("budget: a flood gets the burst plus the rate, whatever its speed", "[unit]")
{
	Budget b(SMITH_BUDGET_RATE_DEFAULT, SMITH_BUDGET_BURST_DEFAULT);
	// 1 000 000 calls in one second, evenly spread.
	uint64_t now = 10 * kSecond, allowed = 0;
	for (int i = 0; i < 1000000; ++i, now += 1000)
		allowed += b.take(now);
	CHECK(allowed >= SMITH_BUDGET_BURST_DEFAULT + SMITH_BUDGET_RATE_DEFAULT - 1);
	CHECK(allowed <= SMITH_BUDGET_BURST_DEFAULT + SMITH_BUDGET_RATE_DEFAULT + 1);
}

TEST_CASE("budget: a count is due before the next reported call, or a second after it began", "[unit]")
{
	smith_budget b{};
	CHECK_FALSE(smith_budget_report_due(&b, kSecond, 1)); // nothing counted: nothing to say
	b.suppressed = 3;
	b.first_ts = kSecond;
	CHECK(smith_budget_report_due(&b, kSecond + 1, 1)); // this call is reported: the count goes first
	CHECK_FALSE(smith_budget_report_due(&b, kSecond + SMITH_BUDGET_REPORT_NS - 1, 0));
	CHECK(smith_budget_report_due(&b, kSecond + SMITH_BUDGET_REPORT_NS, 0));
}
