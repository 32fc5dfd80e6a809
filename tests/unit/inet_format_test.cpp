#include "event/inet_format.h"
#include "record_builder.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <cstring>

using namespace smith::event;
using namespace smith::test;

namespace {

std::string ip(uint16_t family, std::array<uint8_t, 16> a)
{
	uint8_t raw[16];
	std::memcpy(raw, a.data(), 16);
	char buf[kIpTextMax];
	return std::string(format_ip(family, raw, buf));
}

std::string fd_text(const smith_fd &fd, std::string_view path = {})
{
	std::string out = "stale";
	format_fd(fd, path, out);
	return out;
}

smith_fd fd_of(uint32_t kind, uint64_t ino = 0, smith_inet in = {})
{
	smith_fd fd{};
	fd.kind = kind;
	fd.ino = ino;
	fd.inet = in;
	return fd;
}

} // namespace

TEST_CASE("IP addresses in canonical text form", "[unit]")
{
	CHECK(ip(2, {192, 168, 1, 20}) == "192.168.1.20");
	CHECK(ip(2, {0, 0, 0, 0}) == "0.0.0.0");
	CHECK(ip(10, ip6_loopback()) == "::1");
	CHECK(ip(10, {}) == "::");
	CHECK(ip(10, ip6_mapped(1, 2, 3, 4)) == "::ffff:1.2.3.4");
	CHECK(ip(10, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}) == "2001:db8::1");
	CHECK(ip(10, {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55}) ==
	      "fe80::211:22ff:fe33:4455");
	CHECK(ip(1, {1, 2, 3, 4}) == "");
	CHECK(ip(0, {}) == "");
	CHECK(family_name(2) == "ipv4");
	CHECK(family_name(10) == "ipv6");
	CHECK(family_name(1) == "");
	CHECK(protocol_name(6) == "tcp");
	CHECK(protocol_name(17) == "udp");
	CHECK(protocol_name(1) == "");
}

TEST_CASE("stdin/stdout descriptions", "[unit]")
{
	CHECK(fd_text(fd_of(SMITH_FD_NONE)) == "");
	CHECK(fd_text(fd_of(SMITH_FD_PATH), "/dev/pts/0") == "/dev/pts/0");
	CHECK(fd_text(fd_of(SMITH_FD_PIPE, 123456)) == "pipe:[123456]");
	CHECK(fd_text(fd_of(SMITH_FD_SOCKET, 99)) == "socket:[99]");
	CHECK(fd_text(fd_of(SMITH_FD_OTHER, 7)) == "anon_inode:[7]");
	CHECK(fd_text(fd_of(SMITH_FD_INET, 5, inet4(6, {10, 0, 0, 5}, 51234, {203, 0, 113, 9}, 4444))) ==
	      "tcp:10.0.0.5:51234->203.0.113.9:4444");
	CHECK(fd_text(fd_of(SMITH_FD_INET, 5, inet4(17, {127, 0, 0, 1}, 53, {127, 0, 0, 53}, 65535))) ==
	      "udp:127.0.0.1:53->127.0.0.53:65535");
	CHECK(fd_text(fd_of(SMITH_FD_INET, 5, inet6(6, ip6_loopback(), 40000, ip6_loopback(), 8080))) ==
	      "tcp:[::1]:40000->[::1]:8080");
	CHECK(fd_text(fd_of(SMITH_FD_INET, 5,
			    inet6(6, ip6_mapped(10, 1, 1, 1), 1, ip6_mapped(10, 2, 2, 2), 2))) ==
	      "tcp:[::ffff:10.1.1.1]:1->[::ffff:10.2.2.2]:2");
	smith_inet odd = inet4(6, {1, 1, 1, 1}, 1, {2, 2, 2, 2}, 2);
	odd.family = 1; // not an IP family: only the inode is meaningful
	CHECK(fd_text(fd_of(SMITH_FD_INET, 42, odd)) == "socket:[42]");
	CHECK(fd_text(fd_of(99, 42)) == "");
}

TEST_CASE("format_ip writes what inet_ntop writes, for every shape of address")
{
	// Each group is zero or not, in all 256 patterns, with varied non-zero values (1 digit to 4,
	// 0xffff for the IPv4-mapped form), plus every IPv4 byte pattern of interest.
	const uint16_t values[] = {1, 0xffff, 0xab, 0x1234, 0xf00};
	char want[INET6_ADDRSTRLEN];
	for (unsigned zeros = 0; zeros < 256; zeros++) {
		for (size_t v = 0; v < std::size(values); v++) {
			uint8_t raw[16];
			for (int g = 0; g < 8; g++) {
				const uint16_t word =
					(zeros >> g & 1) ? 0 : values[(v + g) % std::size(values)];
				raw[2 * g] = static_cast<uint8_t>(word >> 8);
				raw[2 * g + 1] = static_cast<uint8_t>(word);
			}
			REQUIRE(inet_ntop(AF_INET6, raw, want, sizeof(want)) != nullptr);
			char buf[kIpTextMax];
			INFO("zero groups mask " << zeros << ", values from " << v);
			CHECK(std::string(format_ip(AF_INET6, raw, buf)) == want);
		}
	}
	for (const auto &a : {std::array<uint8_t, 4>{0, 0, 0, 0},
			      {255, 255, 255, 255},
			      {10, 0, 100, 9},
			      {127, 0, 0, 1},
			      {1, 22, 133, 4}}) {
		uint8_t raw[16] = {};
		std::memcpy(raw, a.data(), 4);
		REQUIRE(inet_ntop(AF_INET, raw, want, sizeof(want)) != nullptr);
		char buf[kIpTextMax];
		CHECK(std::string(format_ip(AF_INET, raw, buf)) == want);
		// ::ffff:a.b.c.d and ::a.b.c.d
		uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		std::memcpy(mapped + 12, a.data(), 4);
		REQUIRE(inet_ntop(AF_INET6, mapped, want, sizeof(want)) != nullptr);
		CHECK(std::string(format_ip(AF_INET6, mapped, buf)) == want);
		mapped[10] = mapped[11] = 0;
		REQUIRE(inet_ntop(AF_INET6, mapped, want, sizeof(want)) != nullptr);
		CHECK(std::string(format_ip(AF_INET6, mapped, buf)) == want);
	}
}
