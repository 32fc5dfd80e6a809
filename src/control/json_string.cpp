#include "control/json_string.h"

namespace smith::control {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD

bool is_continuation(unsigned char b)
{
	return (b & 0xC0) == 0x80;
}

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
size_t utf8_sequence_length(std::string_view s, size_t i)
{
	auto byte = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
	const unsigned char b0 = byte(0);
	const size_t left = s.size() - i;
	size_t len = 0;
	unsigned char lo = 0x80, hi = 0xBF; // allowed range of the second byte
	if (b0 >= 0xC2 && b0 <= 0xDF) {
		len = 2;
	} else if (b0 >= 0xE0 && b0 <= 0xEF) {
		len = 3;
		if (b0 == 0xE0)
			lo = 0xA0; // overlong
		else if (b0 == 0xED)
			hi = 0x9F; // UTF-16 surrogates
	} else if (b0 >= 0xF0 && b0 <= 0xF4) {
		len = 4;
		if (b0 == 0xF0)
			lo = 0x90; // overlong
		else if (b0 == 0xF4)
			hi = 0x8F; // above U+10FFFF
	} else {
		return 0;
	}
	if (left < len || byte(1) < lo || byte(1) > hi)
		return 0;
	for (size_t k = 2; k < len; ++k)
		if (!is_continuation(byte(k)))
			return 0;
	return len;
}

} // namespace

void append_json_string(std::string &out, std::string_view s)
{
	out.push_back('"');
	size_t i = 0;
	while (i < s.size()) {
		const auto c = static_cast<unsigned char>(s[i]);
		if (c >= 0x80) {
			const size_t n = utf8_sequence_length(s, i);
			if (n == 0) {
				out.append(kReplacement);
				++i;
			} else {
				out.append(s.substr(i, n));
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
		default:
			if (c < 0x20) {
				const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
				out.append(esc, sizeof(esc));
			} else {
				out.push_back(static_cast<char>(c));
			}
		}
		++i;
	}
	out.push_back('"');
}

} // namespace smith::control
