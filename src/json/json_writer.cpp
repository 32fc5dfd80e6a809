#include "json/json_writer.h"

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
	while (i < n && plain(static_cast<unsigned char>(p[i])))
		++i;
	return i;
}

} // namespace

void append_json_string_content(std::string &out, std::string_view s)
{
	size_t i = 0;
	while (i < s.size()) {
		// Copy the longest run that needs no attention in one append.
		const size_t run = plain_run_end(s, i);
		out.append(s.data() + i, run - i);
		i = run;
		if (i == s.size())
			break;
		const auto c = static_cast<unsigned char>(s[i]);
		if (c >= 0x80) {
			const size_t n = utf8_sequence_length(s, i);
			if (n == 0) {
				out.append(kReplacement);
				++i;
			} else {
				out.append(s.data() + i, n);
				i += n;
			}
			continue;
		}
		switch (c) {
		case '"': out.append("\\\""); break;
		case '\\': out.append("\\\\"); break;
		case '\n': out.append("\\n"); break;
		case '\r': out.append("\\r"); break;
		case '\t': out.append("\\t"); break;
		case '\b': out.append("\\b"); break;
		case '\f': out.append("\\f"); break;
		default: {
			const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
			out.append(esc, sizeof(esc));
		}
		}
		++i;
	}
}

void JsonWriter::separate()
{
	if (after_key_) {
		after_key_ = false;
		return;
	}
	if (need_comma_)
		out_.push_back(',');
}

void JsonWriter::open(char c)
{
	separate();
	out_.push_back(c);
	need_comma_ = false;
}

void JsonWriter::close(char c)
{
	out_.push_back(c);
	need_comma_ = true;
}

void JsonWriter::key(std::string_view k)
{
	// Keys are nearly always the schema's own short ASCII names: one append.
	char buf[64];
	if (k.size() + 4 > sizeof(buf) || plain_run_end(k, 0) != k.size()) {
		separate();
		out_.push_back('"');
		append_json_string_content(out_, k);
		out_.append("\":");
	} else {
		size_t n = 0;
		if (!after_key_ && need_comma_)
			buf[n++] = ',';
		buf[n++] = '"';
		std::memcpy(buf + n, k.data(), k.size());
		n += k.size();
		buf[n++] = '"';
		buf[n++] = ':';
		out_.append(buf, n);
	}
	after_key_ = true;
	need_comma_ = true;
}

void JsonWriter::value(std::string_view s)
{
	separate();
	out_.push_back('"');
	append_json_string_content(out_, s);
	out_.push_back('"');
	need_comma_ = true;
}

void JsonWriter::value(bool b)
{
	separate();
	out_.append(b ? "true" : "false");
	need_comma_ = true;
}

template <typename T> void JsonWriter::number(T v)
{
	separate();
	char buf[32];
	auto r = std::to_chars(buf, buf + sizeof(buf), v);
	out_.append(buf, r.ptr);
	need_comma_ = true;
}

void JsonWriter::value(int64_t v)
{
	number(v);
}

void JsonWriter::value(uint64_t v)
{
	number(v);
}

void JsonWriter::value(double v)
{
	if (std::isfinite(v)) {
		number(v);
		return;
	}
	separate();
	out_.append("null"); // JSON has no NaN or infinity
	need_comma_ = true;
}

void JsonWriter::null()
{
	separate();
	out_.append("null");
	need_comma_ = true;
}

void JsonWriter::raw(std::string_view json)
{
	separate();
	out_.append(json);
	need_comma_ = true;
}

} // namespace smith::json
