#include "backend/kallsyms.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using smith::backend::function_extents;

TEST_CASE("kallsyms: a function runs up to the next symbol, in address order", "[unit]")
{
	// Not in address order, a symbol of a module named like a kernel one, and a duplicate name.
	std::istringstream in("ffffffff81002000 T do_fast_syscall_32\n"
			      "ffffffff81001000 T do_int80_syscall_32\n"
			      "ffffffff81001180 t helper_between\n"
			      "ffffffff81003000 T do_SYSENTER_32\n"
			      "ffffffffc0001000 t do_int80_emulation\t[evil]\n"
			      "ffffffff81004000 t do_fast_syscall_32\n"
			      "ffffffff81005000 T _etext\n");
	const auto f = function_extents(in, {"do_int80_syscall_32", "do_int80_emulation",
					     "do_fast_syscall_32", "do_SYSENTER_32", "_etext"});
	REQUIRE(f.size() == 5);
	CHECK(f[0].start == 0xffffffff81001000);
	CHECK(f[0].end == 0xffffffff81001180);
	CHECK(f[1].start == 0); // only a module has it
	CHECK(f[1].end == 0);
	CHECK(f[2].start == 0xffffffff81002000); // the first of two
	CHECK(f[2].end == 0xffffffff81003000);
	CHECK(f[3].start == 0xffffffff81003000);
	CHECK(f[3].end == 0xffffffff81004000);
	CHECK(f[4].start == 0); // nothing after it: no extent
}

TEST_CASE("kallsyms: hidden addresses (kptr_restrict) give no extent", "[unit]")
{
	std::istringstream in("0000000000000000 T do_int80_syscall_32\n"
			      "0000000000000000 T do_fast_syscall_32\n");
	const auto f = function_extents(in, {"do_int80_syscall_32"});
	REQUIRE(f.size() == 1);
	CHECK(f[0].start == 0);
	CHECK(f[0].end == 0);
}

TEST_CASE("kallsyms: this kernel has a 32-bit syscall entry function with an extent", "[unit]")
{
	std::ifstream in("/proc/kallsyms");
	REQUIRE(in);
	const auto f =
		function_extents(in, {"do_int80_syscall_32", "do_int80_emulation", "do_fast_syscall_32"});
	size_t with_extent = 0;
	for (const auto &e : f) {
		CHECK(e.end >= e.start);
		with_extent += e.start != 0 && e.end > e.start && e.end - e.start < (1u << 20);
	}
	CHECK(with_extent >= 1);
}
