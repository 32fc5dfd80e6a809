#include "event/normalizer.h"

#include <catch2/catch.hpp>

#include <climits>
#include <ctime>
#include <fstream>
#include <unistd.h>

using namespace smith::event;

TEST_CASE("detect_host_info", "[unit]")
{
	const HostInfo a = detect_host_info("ebpf");
	const HostInfo b = detect_host_info("lkm");
	CHECK(a.backend == "ebpf");
	CHECK(b.backend == "lkm");

	char name[HOST_NAME_MAX + 1] = {};
	REQUIRE(gethostname(name, sizeof(name) - 1) == 0);
	CHECK(a.hostname == name);

	std::ifstream mid("/etc/machine-id");
	std::string expect_id;
	if (mid)
		mid >> expect_id;
	CHECK(a.host_id == expect_id);

	CHECK(a.run_id.size() == 32);
	CHECK(a.run_id.find_first_not_of("0123456789abcdef") == std::string::npos);
	CHECK(a.run_id != b.run_id);

	timespec rt{}, bt{};
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	const int64_t offset = (rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec);
	CHECK(std::llabs(a.boot_to_epoch_ns - offset) < 50'000'000);   // 50 ms
	CHECK(a.boot_to_epoch_ns > 1'000'000'000LL * 1'000'000'000LL); // after 2001
}
