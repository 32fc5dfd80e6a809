// A step of the wall clock (NTP at boot, `date -s`): events made after it carry the new time. Records
// are stamped with the kernel's boot time; smithd turns that into epoch time with an offset it
// measures again at least every 100 ms, so within a second of a step `ts` follows the wall clock.
//
// Tagged [guest]: stepping the clock disturbs everything else on the machine, so it runs in the QEMU
// guests (tests/vm), against every backend there, and the host's CTest leaves it out.
#include "backends.h"

#include <catch2/catch.hpp>

#include <time.h>
#include <unistd.h>

#include <thread>

using namespace smith::e2e;

namespace {

void step_clock(std::chrono::seconds by)
{
	timespec now{};
	REQUIRE(clock_gettime(CLOCK_REALTIME, &now) == 0);
	now.tv_sec += by.count();
	REQUIRE(clock_settime(CLOCK_REALTIME, &now) == 0);
}

// Execs /bin/true `word` after the step settled and checks its ts in every backend against the wall
// clock around the exec.
void check_exec_after_step(const std::string &word)
{
	std::this_thread::sleep_for(1s);
	const uint64_t before = now_ns();
	const pid_t child = spawn([&] { execl("/bin/true", "/bin/true", word.c_str(), nullptr); });
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 0);
	const uint64_t after = now_ns();
	expect_in_every_backend(
		"exec " + word + " after a clock step",
		[&](const Event &e) { return e.type() == "execve" && e.pid() == child; },
		[&](const Event &e, const Smithd &) {
			const uint64_t ts = e.u64("ts");
			INFO("ts " << ts << ", wall clock " << before << ".." << after);
			CHECK(ts + 1000000000ull >= before);
			CHECK(ts <= after + 1000000000ull);
		},
		child);
}

} // namespace

TEST_CASE("clock: after the wall clock is stepped, ts follows it within a second", "[e2e][guest]")
{
	const auto ds = shared_daemons();
	REQUIRE_FALSE(ds.empty());
	step_clock(std::chrono::hours(25));
	check_exec_after_step("smith-e2e-clock-forward");
	step_clock(-std::chrono::hours(25));
	check_exec_after_step("smith-e2e-clock-back");
}
