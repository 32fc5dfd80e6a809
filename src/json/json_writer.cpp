#include "json/json_writer.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>

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

constexpr uint64_t kOnes = 0x0101010101010101ull;
constexpr uint64_t kHighs = 0x8080808080808080ull;

// Non-zero when one of the 8 bytes in `w` needs attention: a control character,
// '"', '\\' or a byte of a multi-byte UTF-8 sequence (>= 0x80). False positives
// are possible only after a true one, so a zero result is exact.
inline uint64_t needs_attention(uint64_t w)
{
	const uint64_t below_space = (w - kOnes * 0x20) & ~w;
	const uint64_t x_quote = w ^ (kOnes * '"');
	const uint64_t x_backslash = w ^ (kOnes * '\\');
	const uint64_t quote = (x_quote - kOnes) & ~x_quote;
	const uint64_t backslash = (x_backslash - kOnes) & ~x_backslash;
	return (w | below_space | quote | backslash) & kHighs;
}

inline bool plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\' && c < 0x80;
}

// Length of the leading run of `s` from `i` that can be copied as it is.
inline size_t plain_run_end(std::string_view s, size_t i)
{
	const char *p = s.data();
	const size_t n = s.size();
	while (i + 8 <= n) {
		uint64_t w;
		std::memcpy(&w, p + i, 8);
		if (needs_attention(w))
			break;
		i += 8;
	}
	if (i < n && n - i < 8) {
		// The last 1-7 bytes, padded with spaces (which need nothing) to a word.
		uint64_t w = kOnes * ' ';
		std::memcpy(&w, p + i, n - i);
		if (!needs_attention(w))
			return n;
	}
	while (i < n && plain(static_cast<unsigned char>(p[i])))
		++i;
	return i;
}

// Escapes `s` into `out` (std::string or JsonWriter's stage) with out.put().
template <typename Out> void escape_into(Out &out, std::string_view s)
{
	size_t i = 0;
	while (i < s.size()) {
		// Copy the longest run that needs no attention in one piece.
		const size_t run = plain_run_end(s, i);
		out.put(s.data() + i, run - i);
		i = run;
		if (i == s.size())
			break;
		const auto c = static_cast<unsigned char>(s[i]);
		if (c >= 0x80) {
			const size_t n = utf8_sequence_length(s, i);
			if (n == 0) {
				out.put(kReplacement.data(), kReplacement.size());
				++i;
			} else {
				out.put(s.data() + i, n);
				i += n;
			}
			continue;
		}
		char esc[6] = {'\\', 0, 0, 0, 0, 0};
		size_t n = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u';
			esc[2] = esc[3] = '0';
			esc[4] = kHex[c >> 4];
			esc[5] = kHex[c & 0xF];
			n = 6;
		}
		out.put(esc, n);
		++i;
	}
}

struct StringOut {
	std::string &s;
	void put(const char *p, size_t n) { s.append(p, n); }
};

} // namespace

void append_json_string_content(std::string &out, std::string_view s)
{
	StringOut o{out};
	escape_into(o, s);
}

void JsonWriter::string_content(std::string_view s)
{
	StageOut o{*this};
	escape_into(o, s);
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
	assert(plain_run_end(k, 0) == k.size());
	put('"');
	put(k);
	put("\":", 2);
	after_key_ = true;
	need_comma_ = true;
}

void JsonWriter::value(std::string_view s)
{
	separate();
	put('"');
	string_content(s);
	put('"');
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
