#include "event/tty.h"

#include <catch2/catch.hpp>

#include <string>

using namespace smith::event;

namespace {

std::string from_name(std::string_view name)
{
	std::string out = "stale";
	tty_from_kernel_name(name, out);
	return out;
}

std::string from_dev(uint32_t major, uint32_t minor)
{
	// new_encode_dev()
	const uint32_t dev = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
	std::string out = "stale";
	tty_from_dev(dev, out);
	return out;
}

} // namespace

TEST_CASE("tty from the kernel's tty_struct.name", "[unit]")
{
	CHECK(from_name("pts0") == "pts/0");
	CHECK(from_name("pts123") == "pts/123");
	CHECK(from_name("tty1") == "tty1");
	CHECK(from_name("ttyS0") == "ttyS0");
	CHECK(from_name("console") == "console");
	CHECK(from_name("") == "");
	CHECK(from_name("pts") == "pts");
	CHECK(from_name("ptsx1") == "ptsx1");
	CHECK(from_name("pts1a") == "pts1a");
	CHECK(from_name(std::string_view("pts7\0junk", 9)) == "pts/7");
}

TEST_CASE("tty from /proc stat tty_nr", "[unit]")
{
	std::string out = "stale";
	tty_from_dev(0, out);
	CHECK(out == "");
	CHECK(from_dev(136, 0) == "pts/0");
	CHECK(from_dev(136, 5) == "pts/5");
	CHECK(from_dev(137, 2) == "pts/258");
	CHECK(from_dev(143, 255) == "pts/2047");
	CHECK(from_dev(136, 300) == "pts/300"); // minor above 255
	CHECK(from_dev(4, 1) == "tty1");
	CHECK(from_dev(4, 63) == "tty63");
	CHECK(from_dev(4, 64) == "ttyS0");
	CHECK(from_dev(4, 65) == "ttyS1");
	CHECK(from_dev(5, 1) == "");
	CHECK(from_dev(188, 0) == "");
	tty_from_dev(34816, out); // as /proc shows pts/0
	CHECK(out == "pts/0");
}
