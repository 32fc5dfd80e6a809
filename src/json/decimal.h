// Decimal text of integers, byte for byte as std::to_chars writes it (no leading zeros, '-' for
// negatives), without a division per two digits: below 10^8 two-digit lookups, and each further
// block of 8 digits in one 64-bit word by a few multiplications. The JSON writer formats over a
// dozen integers per event; a 19-digit ns timestamp takes a third of std::to_chars's time
// (tests/bench/pipeline_bench.cpp, BM_JsonInteger).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace smith::json {

namespace decimal_detail {

// The 8 decimal digits of x < 10^8, leading zeros included, as 8 bytes holding 0..9, the most
// significant digit in the lowest byte (so the first in memory on a little-endian machine).
inline uint64_t digits8(uint32_t x)
{
	// Two 4-digit halves in two 32-bit lanes, then /100 and %100 in each lane (four 16-bit lanes),
	// then /10 and %10 (eight bytes). Each lane's multiplication stays within its lane, and
	// (y * 10486) >> 20 == y / 100 for y < 10^4, (z * 103) >> 10 == z / 10 for z < 100.
	uint64_t merged = (x / 10000) | (static_cast<uint64_t>(x % 10000) << 32);
	const uint64_t hundreds = ((merged * 10486) >> 20) & 0x0000007F0000007Full;
	merged = hundreds | ((merged - hundreds * 100) << 16);
	const uint64_t tens = ((merged * 103) >> 10) & 0x000F000F000F000Full;
	return tens | ((merged - tens * 10) << 8);
}

constexpr uint64_t kZeros = 0x3030303030303030ull;

// "00" to "99": numbers below 10^4, the most common ones (pids, ports, errnos), take one or two
// lookups instead of the multiplications.
inline constexpr char kPairs[201] = "0001020304050607080910111213141516171819"
				    "2021222324252627282930313233343536373839"
				    "4041424344454647484950515253545556575859"
				    "6061626364656667686970717273747576777879"
				    "8081828384858687888990919293949596979899";

// x < 10^4 without leading zeros. Stores up to 4 bytes at d; returns the end.
inline char *tiny(char *d, uint32_t x)
{
	if (x < 100) {
		if (x < 10) {
			*d = static_cast<char>('0' + x);
			return d + 1;
		}
		std::memcpy(d, kPairs + 2 * x, 2);
		return d + 2;
	}
	const uint32_t hi = x / 100;
	const uint32_t lo = x - hi * 100;
	if (hi < 10) {
		*d = static_cast<char>('0' + hi);
		std::memcpy(d + 1, kPairs + 2 * lo, 2);
		return d + 3;
	}
	std::memcpy(d, kPairs + 2 * hi, 2);
	std::memcpy(d + 2, kPairs + 2 * lo, 2);
	return d + 4;
}

// x < 10^4 as exactly 4 digits. Stores 4 bytes at d.
inline char *full4(char *d, uint32_t x)
{
	const uint32_t hi = x / 100;
	std::memcpy(d, kPairs + 2 * hi, 2);
	std::memcpy(d + 2, kPairs + 2 * (x - hi * 100), 2);
	return d + 4;
}

// x < 10^8 without leading zeros. Stores up to 8 bytes at d; returns the end.
inline char *small(char *d, uint32_t x)
{
	if (x < 10000)
		return tiny(d, x);
	const uint32_t hi = x / 10000;
	return full4(tiny(d, hi), x - hi * 10000);
}

// x < 10^8 as exactly 8 digits. Stores 8 bytes at d.
inline char *full8(char *d, uint32_t x)
{
	const uint64_t text = digits8(x) + kZeros;
	std::memcpy(d, &text, 8);
	return d + 8;
}

} // namespace decimal_detail

// Room that write_decimal() needs at d: it stores up to this many bytes (its text is at most 20).
inline constexpr size_t kDecimalRoom = 24;

// Writes v in decimal at d and returns the end of the text; bytes up to d + kDecimalRoom may
// be overwritten.
inline char *write_decimal(char *d, uint64_t v)
{
	static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
	using namespace decimal_detail;
	constexpr uint64_t k8 = 100000000ull;
	if (v < k8)
		return small(d, static_cast<uint32_t>(v));
	if (v < k8 * k8) {
		const uint64_t hi = v / k8;
		d = small(d, static_cast<uint32_t>(hi));
		return full8(d, static_cast<uint32_t>(v - hi * k8));
	}
	const uint64_t top = v / (k8 * k8); // at most 1844
	const uint64_t rest = v - top * (k8 * k8);
	const uint64_t mid = rest / k8;
	d = tiny(d, static_cast<uint32_t>(top));
	d = full8(d, static_cast<uint32_t>(mid));
	return full8(d, static_cast<uint32_t>(rest - mid * k8));
}

inline char *write_decimal(char *d, int64_t v)
{
	if (v >= 0)
		return write_decimal(d, static_cast<uint64_t>(v));
	*d = '-';
	return write_decimal(d + 1, uint64_t{0} - static_cast<uint64_t>(v));
}

} // namespace smith::json
