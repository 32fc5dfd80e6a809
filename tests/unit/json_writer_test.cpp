#include "json/json_writer.h"
#include "hostile_strings.h"

#include <catch2/catch.hpp>
#include <simdjson.h>

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
