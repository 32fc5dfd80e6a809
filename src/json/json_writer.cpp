#include "json/json_writer.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace smith::json {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t utf8_sequence_length(std::string_view s, size_t i)
{
	const auto b0 = static_cast<unsigned char>(s[i]);
	const size_t left = s.size() - i;
	auto cont = [&](size_t k) { return (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80; };
	if (b0 >= 0xC2 && b0 <= 0xDF)
		return left >= 2 && cont(1) ? 2 : 0;
	if (b0 >= 0xE0 && b0 <= 0xEF) {
		if (left < 3 || !cont(1) || !cont(2))
			return 0;
		const auto b1 = static_cast<unsigned char>(s[i + 1]);
		if (b0 == 0xE0 && b1 < 0xA0)
			return 0; // overlong
		if (b0 == 0xED && b1 >= 0xA0)
			return 0; // UTF-16 surrogate
		return 3;
	}
	if (b0 >= 0xF0 && b0 <= 0xF4) {
		if (left < 4 || !cont(1) || !cont(2) || !cont(3))
			return 0;
		const auto b1 = static_cast<unsigned char>(s[i + 1]);
		if (b0 == 0xF0 && b1 < 0x90)
			return 0; // overlong
		if (b0 == 0xF4 && b1 >= 0x90)
			return 0; // above U+10FFFF
		return 4;
	}
	return 0;
}

} // namespace

namespace {

// Escaping looks at 16 input bytes at a time: it stores them to the output as they are, finds the
// first one that needs attention (a control character, '"', '\\' or a byte >= 0x80 that starts or
// continues a multi-byte UTF-8 sequence) and keeps the bytes before it. Runs of plain bytes thus
// cost one load, one store and a few compares per 16 bytes; the bytes that need attention take
// the exact byte-at-a-time rules below.

constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighs = 0x8080808080808080ull;

// The high bit of each byte of `w` that needs attention. Flags above the lowest one may be false
// (borrows), so only the lowest is exact; a zero result is exact.
inline uint64_t needs_attention(uint64_t w)
{
	const uint64_t below_space = (w - kOnes * 0x20) & ~w;
	const uint64_t x_quote = w ^ (kOnes * '"');
	const uint64_t x_backslash = w ^ (kOnes * '\\');
	const uint64_t quote = (x_quote - kOnes) & ~x_quote;
	const uint64_t backslash = (x_backslash - kOnes) & ~x_backslash;
	return (w | below_space | quote | backslash) & kHighs;
}

inline uint64_t load64(const char *p)
{
	uint64_t w;
	std::memcpy(&w, p, 8);
	return w;
}

inline uint32_t load32(const char *p)
{
	uint32_t w;
	std::memcpy(&w, p, 4);
	return w;
}

// 16 bytes: the `n` (< 16) bytes at p, then spaces (which need no attention), read without going
// past p + n. Little-endian byte order, as x86-64 and arm64 Linux use.
struct Block16 {
	uint64_t lo, hi;
};
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);

inline Block16 load_short(const char *p, size_t n)
{
	constexpr uint64_t kSpaces = kOnes * ' ';
	if (n >= 8) {
		const uint64_t lo = load64(p);
		if (n == 8)
			return {lo, kSpaces};
		const uint64_t hi = load64(p + n - 8) >> (8 * (16 - n)); // bytes 8..n-1, then zeros
		return {lo, hi | (kSpaces << (8 * (n - 8)))};
	}
	uint64_t lo;
	if (n >= 4) {
		const uint64_t a = load32(p);
		const uint64_t b = static_cast<uint64_t>(load32(p + n - 4)) >> (8 * (8 - n)); // bytes 4..n-1
		lo = a | (b << 32);
	} else if (n > 0) {
		// Bytes 0, n / 2 and n - 1: all three bytes of 3, both of 2 (twice), the one of 1 (thrice).
		const auto at = [p](size_t i) {
			return static_cast<uint64_t>(static_cast<unsigned char>(p[i]));
		};
		lo = at(0) | at(n / 2) << (8 * (n / 2)) | at(n - 1) << (8 * (n - 1));
	} else {
		return {kSpaces, kSpaces};
	}
	return {lo | (kSpaces << (8 * n)), kSpaces};
}

#if defined(__SSE2__)
using Vec = __m128i;
inline Vec load_vec(const char *p)
{
	return _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
}
inline Vec to_vec(Block16 b)
{
	return _mm_set_epi64x(static_cast<long long>(b.hi), static_cast<long long>(b.lo));
}
inline void store_vec(char *d, Vec v)
{
	_mm_storeu_si128(reinterpret_cast<__m128i *>(d), v);
}
// One bit per byte that needs attention (bit i for byte i), exact.
inline unsigned attention_mask(Vec v)
{
	// Signed compare: bytes >= 0x80 are negative, so "< 0x20" also catches them.
	const __m128i low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
	const __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
	const __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
	return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(low, _mm_or_si128(quote, backslash))));
}
// Index of the first byte that needs attention, or 16.
inline unsigned first_attention(Vec v)
{
	const unsigned m = attention_mask(v);
	return m == 0 ? 16 : static_cast<unsigned>(__builtin_ctz(m));
}
#else
using Vec = Block16;
inline Vec load_vec(const char *p)
{
	return {load64(p), load64(p + 8)};
}
inline Vec to_vec(Block16 b)
{
	return b;
}
inline void store_vec(char *d, Vec v)
{
	std::memcpy(d, &v.lo, 8);
	std::memcpy(d + 8, &v.hi, 8);
}
inline unsigned first_attention(Vec v)
{
	if (const uint64_t m = needs_attention(v.lo))
		return static_cast<unsigned>(__builtin_ctzll(m)) / 8;
	if (const uint64_t m = needs_attention(v.hi))
		return 8 + static_cast<unsigned>(__builtin_ctzll(m)) / 8;
	return 16;
}
#endif

// The byte at p[i] (of p[0, n)), one that needs attention, and the rest of its UTF-8 sequence, if
// valid, escaped or replaced at d. Returns the end of what it wrote (at most 6 bytes) and advances
// i past what it consumed. Out of line: runs of plain bytes, the common case, stay a short loop
// whose callers need not save registers for this.
[[gnu::noinline]] char *escape_one(const char *p, size_t n, size_t &i, char *d)
{
	const auto c = static_cast<unsigned char>(p[i]);
	if (c >= 0x80) {
		const size_t len = utf8_sequence_length(std::string_view(p, n), i);
		if (len == 0) {
			std::memcpy(d, kReplacement.data(), 3);
			++i;
			return d + 3;
		}
		for (size_t j = 0; j < len; ++j)
			d[j] = p[i + j];
		i += len;
		return d + len;
	}
	++i;
	d[0] = '\\';
	switch (c) {
	case '"': d[1] = '"'; break;
	case '\\': d[1] = '\\'; break;
	case '\n': d[1] = 'n'; break;
	case '\r': d[1] = 'r'; break;
	case '\t': d[1] = 't'; break;
	case '\b': d[1] = 'b'; break;
	case '\f': d[1] = 'f'; break;
	default:
		d[1] = 'u';
		d[2] = d[3] = '0';
		d[4] = kHex[c >> 4];
		d[5] = kHex[c & 0xF];
		return d + 6;
	}
	return d + 2;
}

// Escapes s[0, n) into buf[used, cap) and returns the new fill. When fewer than kRoom bytes are
// left it calls flush(fill), which must take buf[0, fill) away, and goes on from buf[0]. On
// return at least 2 bytes are left (room for a closing quote), or for an empty s as many as on
// entry.
constexpr size_t kRoom = 24; // a 16-byte store plus the longest escape (6), rounded up
template <class Flush>
inline size_t escape_into(const char *p, size_t n, char *buf, size_t cap, size_t used, Flush &&flush)
{
	char *d = buf + used;
	char *const limit = buf + cap - kRoom;
	size_t i = 0;
	while (i < n) {
		if (d > limit) [[unlikely]] {
			flush(static_cast<size_t>(d - buf));
			d = buf;
		}
		const size_t left = n - i;
		const Vec v = left >= 16 ? load_vec(p + i) : to_vec(load_short(p + i, left));
		store_vec(d, v); // as they are; only the plain ones are kept
		const unsigned k = first_attention(v);
		if (k == 16) { // padding of a short block is spaces: k < left when it is not 16
			const size_t take = left < 16 ? left : 16;
			i += take;
			d += take;
			continue;
		}
		i += k;
		d = escape_one(p, n, i, d + k);
	}
	return static_cast<size_t>(d - buf);
}

[[maybe_unused]] bool plain_key(std::string_view k)
{
	for (const char ch : k) {
		const auto c = static_cast<unsigned char>(ch);
		if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
			return false;
	}
	return true;
}

} // namespace

void append_json_string_content(std::string &out, std::string_view s)
{
	char buf[512];
	const size_t used = escape_into(s.data(), s.size(), buf, sizeof(buf), 0,
					[&](size_t fill) { out.append(buf, fill); });
	out.append(buf, used);
}

[[gnu::noinline]] void JsonWriter::flush()
{
	out_.append(stage_, staged_);
	staged_ = 0;
}

void JsonWriter::open(char c)
{
	separate();
	put(c);
	need_comma_ = false;
	++depth_;
}

void JsonWriter::close(char c)
{
	put(c);
	if (depth_ > 0)
		--depth_;
	end_value();
}

void JsonWriter::key(std::string_view k)
{
	separate();
	assert(plain_key(k));
	put('"');
	put(k);
	put("\":", 2);
	after_key_ = true;
	need_comma_ = true;
}

void JsonWriter::value(std::string_view s)
{
	separate();
	// Most strings are short and plain (names, arguments): one block, quoted, without the loop.
	if (s.size() < 16 && kStage - staged_ >= 18) {
		const Vec v = to_vec(load_short(s.data(), s.size()));
		if (first_attention(v) == 16) {
			char *const d = stage_ + staged_;
			d[0] = '"';
			store_vec(d + 1, v);
			d[1 + s.size()] = '"';
			staged_ += s.size() + 2;
			end_value();
			return;
		}
	}
	escaped_value(s);
}

void JsonWriter::escaped_value(std::string_view s)
{
	if (kStage - staged_ < 2)
		flush();
	stage_[staged_++] = '"';
	staged_ = escape_into(s.data(), s.size(), stage_, kStage, staged_, [this](size_t fill) {
		staged_ = fill;
		flush();
	});
	stage_[staged_++] = '"'; // escape_into() leaves room for it
	end_value();
}

void JsonWriter::plain_value(std::string_view s)
{
	assert(plain_key(s));
	separate();
	if (kStage - staged_ < s.size() + 2)
		flush();
	if (s.size() + 2 > kStage) { // not what it is for, but still right
		out_.push_back('"');
		out_.append(s);
		out_.push_back('"');
	} else {
		stage_[staged_] = '"';
		std::memcpy(stage_ + staged_ + 1, s.data(), s.size());
		stage_[staged_ + 1 + s.size()] = '"';
		staged_ += s.size() + 2;
	}
	end_value();
}

void JsonWriter::value(bool b)
{
	separate();
	put(b ? std::string_view("true") : std::string_view("false"));
	end_value();
}

template <typename T> void JsonWriter::number(T v)
{
	separate();
	char buf[32];
	auto r = std::to_chars(buf, buf + sizeof(buf), v);
	put(buf, static_cast<size_t>(r.ptr - buf));
	end_value();
}

void JsonWriter::value(double v)
{
	if (std::isfinite(v)) {
		number(v);
		return;
	}
	separate();
	put(std::string_view("null")); // JSON has no NaN or infinity
	end_value();
}

void JsonWriter::null()
{
	separate();
	put(std::string_view("null"));
	end_value();
}

void JsonWriter::raw(std::string_view json)
{
	separate();
	put(json);
	end_value();
}

} // namespace smith::json
