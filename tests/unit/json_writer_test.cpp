#include "json/json_writer.h"
#include "hostile_strings.h"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <charconv>
#include <iterator>
#include <limits>
#include <random>

using namespace smith::json;
using namespace smith::test;

namespace {

// Writes {"k":<s>} and returns what a JSON parser reads back as k.
std::string round_trip(const std::string &s, std::string *json = nullptr)
{
	std::string out;
	JsonWriter w(out);
	w.begin_object();
	w.field("k", std::string_view(s));
	w.end_object();
	if (json)
		*json = out;
	simdjson::dom::parser parser;
	simdjson::dom::element doc;
	INFO(out);
	REQUIRE(parser.parse(out).get(doc) == simdjson::SUCCESS);
	std::string_view v;
	REQUIRE(doc["k"].get(v) == simdjson::SUCCESS);
	return std::string(v);
}

} // namespace

TEST_CASE("JSON strings: hostile bytes come back exactly as specified", "[unit]")
{
	for (const auto &[in, expect] : hostile_cases()) {
		std::string json;
		const std::string got = round_trip(in, &json);
		INFO("json " << json);
		CHECK(got == expect);
		bool raw_control = false;
		for (const char c : json)
			raw_control |= static_cast<unsigned char>(c) < 0x20;
		CHECK_FALSE(raw_control);
	}
}

TEST_CASE("JSON strings: escapes are the short forms where JSON has them", "[unit]")
{
	std::string out;
	append_json_string_content(out, std::string("\"\\\n\r\t\b\f\x01\x1f", 9));
	CHECK(out == "\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f");
}

TEST_CASE("JSON strings: 100 KB of mixed bytes", "[unit]")
{
	std::mt19937 rng(7);
	std::string in;
	std::string expect;
	const auto cases = hostile_cases();
	while (in.size() < 100 * 1024) {
		const auto &c = cases[rng() % cases.size()];
		// Keep sequences from merging across pieces: an ASCII separator.
		in += c.first + "|";
		expect += c.second + "|";
	}
	CHECK(round_trip(in) == expect);
	const std::string ascii(100 * 1024, 'x');
	CHECK(round_trip(ascii) == ascii);
}

TEST_CASE("JSON writer: structure and numbers", "[unit]")
{
	std::string out = "prefix ";
	JsonWriter w(out);
	w.begin_object();
	w.field("a", int64_t{-5});
	w.field("b", uint64_t{18446744073709551615ull});
	w.key("arr");
	w.begin_array();
	w.value("x");
	w.value(true);
	w.begin_array();
	w.end_array();
	w.end_array();
	w.key("o");
	w.begin_object();
	w.end_object();
	w.field("n", false);
	w.end_object();
	CHECK(out == R"(prefix {"a":-5,"b":18446744073709551615,"arr":["x",true,[]],"o":{},"n":false})");
}

namespace {

// The escaping rules, one byte at a time, as the specification that the fast routine must match
// byte for byte: '"' '\\' and the short escapes, other control bytes as \u00xx (lower-case hex),
// valid UTF-8 sequences as they are, every byte of anything else as U+FFFD.
std::string reference_escape(std::string_view s)
{
	static constexpr char hex[] = "0123456789abcdef";
	std::string out;
	size_t i = 0;
	while (i < s.size()) {
		const auto c = static_cast<unsigned char>(s[i]);
		const auto at = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
		const auto cont = [&](size_t k) { return i + k < s.size() && (at(k) & 0xC0) == 0x80; };
		if (c < 0x80) {
			switch (c) {
			case '"': out += "\\\""; break;
			case '\\': out += "\\\\"; break;
			case '\n': out += "\\n"; break;
			case '\r': out += "\\r"; break;
			case '\t': out += "\\t"; break;
			case '\b': out += "\\b"; break;
			case '\f': out += "\\f"; break;
			default:
				if (c < 0x20) {
					out += "\\u00";
					out += hex[c >> 4];
					out += hex[c & 15];
				} else {
					out += static_cast<char>(c);
				}
			}
			++i;
			continue;
		}
		size_t len = 0;
		if (c >= 0xC2 && c <= 0xDF && cont(1))
			len = 2;
		else if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2) && !(c == 0xE0 && at(1) < 0xA0) &&
			 !(c == 0xED && at(1) >= 0xA0))
			len = 3;
		else if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3) &&
			 !(c == 0xF0 && at(1) < 0x90) && !(c == 0xF4 && at(1) >= 0x90))
			len = 4;
		if (len == 0) {
			out += "\xEF\xBF\xBD";
			++i;
		} else {
			out.append(s.substr(i, len));
			i += len;
		}
	}
	return out;
}

// Both ways in (the writer's stage and the std::string form) against the reference.
void check_escape(std::string_view s)
{
	const std::string expect = reference_escape(s);
	std::string direct = "x";
	append_json_string_content(direct, s);
	std::string written;
	{
		JsonWriter w(written);
		w.value(s);
	}
	const bool same = direct == "x" + expect && written == "\"" + expect + "\"";
	if (!same) {
		INFO("input size " << s.size());
		CHECK(direct == "x" + expect);
		CHECK(written == "\"" + expect + "\"");
	}
}

// `s` written by a writer whose buffer already holds a string of `fill` bytes, against the reference.
void check_after_fill(const std::string &s, size_t fill)
{
	std::string out;
	{
		JsonWriter w(out);
		w.begin_array();
		w.value(std::string_view(std::string(fill, 'f')));
		w.value(s);
		w.end_array();
	}
	REQUIRE(out == "[\"" + std::string(fill, 'f') + "\",\"" + reference_escape(s) + "\"]");
}

// Bytes at the edges of the rules: controls, quote, backslash, DEL, continuation ranges, lead bytes.
constexpr unsigned char kEdgeBytes[] = {0x00, 0x01, 0x08, 0x09, 0x0a, 0x1f, 0x20, 0x22, 0x2f,
					0x5c, 0x61, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
					0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee,
					0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff};

} // namespace

TEST_CASE("JSON strings: the fast escaping gives the reference's bytes", "[unit]")
{
	SECTION("every byte, alone and at every position of strings up to 40 bytes")
	{
		for (int b = 0; b < 256; ++b)
			for (size_t len = 1; len <= 40; ++len)
				for (size_t pos = 0; pos < len; ++pos) {
					std::string s(len, 'a');
					s[pos] = static_cast<char>(b);
					check_escape(s);
				}
	}
	SECTION("every pair of bytes")
	{
		for (int a = 0; a < 256; ++a)
			for (int b = 0; b < 256; ++b) {
				const char s[2] = {static_cast<char>(a), static_cast<char>(b)};
				check_escape({s, 2});
			}
	}
	SECTION("every string of 3 edge bytes and of 4 UTF-8 edge bytes, at offsets across a 16-byte block")
	{
		std::string s;
		const auto check_at_offsets = [&](const char *bytes, size_t n) {
			for (const size_t pad : {0, 13}) {
				s.assign(pad, 'p');
				s.append(bytes, n);
				check_escape(s);
			}
		};
		for (const unsigned char a : kEdgeBytes)
			for (const unsigned char b : kEdgeBytes)
				for (const unsigned char c : kEdgeBytes) {
					const char bytes[3] = {static_cast<char>(a), static_cast<char>(b),
							       static_cast<char>(c)};
					check_at_offsets(bytes, 3);
				}
		constexpr unsigned char utf8_edges[] = {0x00, 0x22, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
							0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xff};
		for (const unsigned char a : utf8_edges)
			for (const unsigned char b : utf8_edges)
				for (const unsigned char c : utf8_edges)
					for (const unsigned char d : utf8_edges) {
						const char bytes[4] = {
							static_cast<char>(a), static_cast<char>(b),
							static_cast<char>(c), static_cast<char>(d)};
						check_at_offsets(bytes, 4);
					}
	}
	SECTION("hostile cases behind and before runs of every length up to 40")
	{
		for (const auto &[in, expect] : hostile_cases())
			for (size_t pre = 0; pre <= 40; ++pre) {
				check_escape(std::string(pre, 'q') + in);
				check_escape(in + std::string(pre, 'q'));
			}
	}
	SECTION("random strings up to 200 bytes")
	{
		std::mt19937 rng(15);
		std::string s;
		for (int n = 0; n < 20000; ++n) {
			s.clear();
			const size_t len = rng() % 200;
			for (size_t i = 0; i < len; ++i) {
				const unsigned r = rng();
				// Mostly plain text, with edge bytes and valid sequences among it.
				if (r % 8 == 0)
					s.push_back(static_cast<char>(
						kEdgeBytes[(r >> 8) % std::size(kEdgeBytes)]));
				else if (r % 8 == 1)
					s += "\xE2\x82\xAC";
				else if (r % 8 == 2)
					s += "\xF0\x9F\x98\x80";
				else
					s.push_back(static_cast<char>(0x20 + (r >> 8) % 95));
			}
			check_escape(s);
		}
	}
	SECTION("100 KB strings")
	{
		std::mt19937 rng(16);
		std::string random(100 * 1024, '\0');
		for (char &c : random)
			c = static_cast<char>(rng());
		check_escape(random);
		check_escape(std::string(100 * 1024, 'x'));
		check_escape(std::string(100 * 1024, '"'));
		check_escape(std::string(100 * 1024, '\x01'));
		std::string euros;
		while (euros.size() < 100 * 1024)
			euros += "\xE2\x82\xAC";
		check_escape(euros);
		check_escape(euros.substr(1));
	}
	SECTION("strings written after every fill of the writer's buffer")
	{
		const std::string s = "a\"b\\c\n\x01\xC3\xA9\xFF" + std::string(37, 'z') + "\xF0\x9F\x98";
		for (size_t fill = 0; fill < 1100; ++fill)
			check_after_fill(s, fill);
	}
	SECTION("short strings of every length, plain and not, after every fill of the writer's buffer")
	{
		// value()'s one-block path takes strings under 16 bytes while the buffer has room for them.
		for (const unsigned char edge : kEdgeBytes)
			for (size_t len = 0; len < 18; ++len) {
				std::string s(len, 's');
				if (len > 0)
					s[len - 1] = static_cast<char>(edge);
				for (size_t fill = 990; fill < 1030; ++fill)
					check_after_fill(s, fill);
			}
	}
}

TEST_CASE("JSON numbers: integers as std::to_chars writes them", "[unit]")
{
	const auto check = [](auto v) {
		char expect[32];
		const auto end = std::to_chars(expect, expect + sizeof(expect), v).ptr;
		std::string out;
		{
			JsonWriter w(out);
			w.value(v);
		}
		if (out != std::string_view(expect, static_cast<size_t>(end - expect)))
			CHECK(out == std::string_view(expect, static_cast<size_t>(end - expect)));
	};
	for (uint64_t v = 0; v < 200000; ++v) {
		check(v);
		check(-static_cast<int64_t>(v));
	}
	// Around every power of ten, and the ends of each type.
	uint64_t p = 1;
	for (int k = 0; k <= 19; ++k, p *= 10)
		for (uint64_t d = 0; d < 3; ++d) {
			check(p - d);
			check(p + d);
			check(static_cast<int64_t>(p - d));
			check(-static_cast<int64_t>(p - d));
			check(static_cast<uint64_t>(p * 9 + d));
		}
	check(std::numeric_limits<uint64_t>::max());
	check(std::numeric_limits<int64_t>::max());
	check(std::numeric_limits<int64_t>::min());
	check(std::numeric_limits<int32_t>::min());
	check(std::numeric_limits<uint32_t>::max());
	std::mt19937_64 rng(17);
	for (int n = 0; n < 200000; ++n) {
		const uint64_t v = rng() >> (rng() % 64);
		check(v);
		check(static_cast<int64_t>(v));
	}
}

TEST_CASE("JSON writer: members copied in as rendered", "[unit]")
{
	std::string out;
	{
		JsonWriter w(out);
		w.begin_object();
		w.members(R"("a":1,"b":"x")");
		w.field("c", int64_t{2});
		w.members("");
		w.members(R"("d":[])");
		w.end_object();
	}
	CHECK(out == R"({"a":1,"b":"x","c":2,"d":[]})");
}

TEST_CASE("JSON writer: members copied out as written, across fills of the writer's buffer", "[unit]")
{
	for (size_t fill = 0; fill < 1100; fill += 7) {
		std::string out;
		std::string copy;
		{
			JsonWriter w(out);
			w.begin_object();
			w.field("f", std::string_view(std::string(fill, 'f')));
			const size_t mark = w.begin_members();
			w.field("a", int64_t{1});
			w.field("b", std::string_view(std::string(fill % 300, 'b')));
			w.copy_since(mark, copy);
			w.end_object();
		}
		const std::string members = R"("a":1,"b":")" + std::string(fill % 300, 'b') + "\"";
		REQUIRE(copy == members);
		REQUIRE(out == R"({"f":")" + std::string(fill, 'f') + "\"," + members + "}");
	}
}

TEST_CASE("JSON writer: integer and boolean fields after every fill of the writer's buffer", "[unit]")
{
	for (size_t fill = 980; fill < 1030; ++fill) {
		std::string out;
		{
			JsonWriter w(out);
			w.begin_object();
			w.field("f", std::string_view(std::string(fill, 'f')));
			w.field("i64", std::numeric_limits<int64_t>::min());
			w.field("u64", std::numeric_limits<uint64_t>::max());
			w.field("i32", int32_t{-7});
			w.field("u32", uint32_t{4026531836u});
			w.field("t", true);
			w.field("false", false);
			w.end_object();
		}
		REQUIRE(out == R"({"f":")" + std::string(fill, 'f') +
				       R"(","i64":-9223372036854775808,"u64":18446744073709551615,"i32":-7,)"
				       R"("u32":4026531836,"t":true,"false":false})");
	}
}
