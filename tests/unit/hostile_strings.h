// Byte strings a hostile or broken process can put in argv, paths, comm or
// nodename, each with what must come back out of the JSON (after a JSON
// parser decodes it). Invalid UTF-8 becomes U+FFFD once per invalid byte.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace smith::test {

inline const std::string kFFFD = "\xEF\xBF\xBD";

inline std::string all_control_bytes()
{
	std::string s;
	for (int c = 0; c < 0x20; ++c)
		s.push_back(static_cast<char>(c));
	return s;
}

// {input bytes, expected decoded value}
inline std::vector<std::pair<std::string, std::string>> hostile_cases()
{
	using namespace std::string_literals;
	return {
		{"plain", "plain"},
		{"quote\" backslash\\ slash/", "quote\" backslash\\ slash/"},
		{"line1\nline2\r\n\tend", "line1\nline2\r\n\tend"},
		{all_control_bytes(),
		 all_control_bytes()}, // 0x00..0x1f escaped, decode back to the same bytes
		{"del\x7f", "del\x7f"},
		{"caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x82\xAC \xF4\x8F\xBF\xBF",
		 "caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x82\xAC \xF4\x8F\xBF\xBF"},
		{"\x80", kFFFD}, // lone continuation byte
		{"a\xBF\x80z", "a" + kFFFD + kFFFD + "z"},
		{"\xC0\xAF", kFFFD + kFFFD},			     // overlong '/'
		{"\xE0\x80\xAF", kFFFD + kFFFD + kFFFD},	     // overlong, 3 bytes
		{"\xF0\x80\x80\xAF", kFFFD + kFFFD + kFFFD + kFFFD}, // overlong, 4 bytes
		{"\xED\xA0\x80", kFFFD + kFFFD + kFFFD},	     // UTF-16 surrogate D800
		{"\xED\xBF\xBF", kFFFD + kFFFD + kFFFD},	     // surrogate DFFF
		{"\xF4\x90\x80\x80", kFFFD + kFFFD + kFFFD + kFFFD}, // above U+10FFFF
		{"\xFE\xFF", kFFFD + kFFFD},
		{"end\xC3", "end" + kFFFD},			    // truncated 2-byte sequence at the end
		{"end\xE2\x82", "end" + kFFFD + kFFFD},		    // truncated 3-byte
		{"end\xF0\x9F\x98", "end" + kFFFD + kFFFD + kFFFD}, // truncated 4-byte
		{"\xE2\x82"
		 "A",
		 kFFFD + kFFFD + "A"}, // sequence broken by ASCII
		{"\xC3\xA9\xC3", "\xC3\xA9" + kFFFD},
		{"nul\0inside"s, "nul\0inside"s},
		{"\\u0000 literally", "\\u0000 literally"},
		{"", ""},
	};
}

} // namespace smith::test
