// status_to_json and the control library's JSON string escaping.
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cmath>
#include <limits>
#include <string>

#include "json/json_writer.h"
#include "control/protocol.h"
#include "control/status.h"

using namespace smith::control;

namespace {

StatusSnapshot known_snapshot()
{
	StatusSnapshot s;
	s.version = "0.1.0";
	s.pid = 123;
	s.uptime_seconds = 1.5;
	s.time = 1764753313.25;
	s.heartbeat_interval_seconds = 30;
	s.hostname = "h";
	s.host_id = "0123456789abcdef0123456789abcdef";
	s.run_id = "9f8e7d6c";
	s.kernel = "6.18.44";
	s.backend = "ebpf";
	s.backend_reason = "BTF and ring buffer available";
	s.rings = {"percpu", 2, 4194304};
	s.previous_run_id = "0badc0de";
	s.previous_run_clean = false;
	s.hook_timing = true;
	s.hooks = {{"execve", "attached", "", "fexit", 0, 40, 1500, 4096},
		   {"init_module", "unavailable", "kernel built without modules", "fexit", 7}};
	s.programs = {{"fexit___x64_sys_execve", 40, 61234}};
	s.received = {10, 20, 0, 0};
	s.sent = {9, 20, 0, 0};
	s.decode_errors = 1;
	s.suppressed_connects = 6;
	s.last_seq = 29;
	s.own_records = 3;
	s.queue_depth = 2;
	s.spool_bytes = 4096;
	s.sink = {"file", "/var/log/smith/events.json", true, "", 29, 0};
	s.rss_bytes = 12582912;
	s.cpu_seconds = 0.1;
	s.cpu_percent = 0.5;
	return s;
}

std::string json_quoted(std::string_view s)
{
	std::string out;
	smith::json::JsonWriter w(out);
	w.value(s);
	return out;
}

// The string value the JSON text `json` (a quoted string) decodes to.
std::string decoded(const std::string &json)
{
	simdjson::dom::parser parser;
	std::string_view v;
	REQUIRE(parser.parse(simdjson::padded_string(json)).get(v) == simdjson::SUCCESS);
	return std::string(v);
}

} // namespace

TEST_CASE("status_to_json writes the documented shape, fields in order", "[unit][control]")
{
	const std::string expected =
		R"({"version":"0.1.0","pid":123,"uptime_seconds":1.5,"time":1764753313.25,)"
		R"("heartbeat_interval_seconds":30,"hostname":"h",)"
		R"("host_id":"0123456789abcdef0123456789abcdef","run_id":"9f8e7d6c","kernel":"6.18.44",)"
		R"("backend":"ebpf","backend_reason":"BTF and ring buffer available",)"
		R"("previous_run":{"run_id":"0badc0de","clean_stop":false},"stopping":false,)"
		R"("rings":{"mode":"percpu","count":2,"bytes":4194304},)"
		R"("hook_timing":true,)"
		R"("hooks":[{"name":"execve","state":"attached","reason":"","attach":"fexit","kernel_drops":0,)"
		R"("calls":40,"avg_ns":1500,"p99_ns":4096},)"
		R"({"name":"init_module","state":"unavailable","reason":"kernel built without modules","attach":"fexit",)"
		R"("kernel_drops":7,"calls":0,"avg_ns":0,"p99_ns":0}],)"
		R"("programs":[{"name":"fexit___x64_sys_execve","run_cnt":40,"run_time_ns":61234}],)"
		R"("events":{"received":{"execve":10,"connect":20,"init_module":0,"finit_module":0,"connect_suppressed":0},)"
		R"("sent":{"execve":9,"connect":20,"init_module":0,"finit_module":0,"connect_suppressed":0}},)"
		R"("decode_errors":1,"suppressed_connects":6,"last_seq":29,"own_records":3,"queue_depth":2,"spool_bytes":4096,)"
		R"("sink":{"type":"file","target":"/var/log/smith/events.json","connected":true,"last_error":"",)"
		R"("written":29,"failed":0,"in_flight":0,"spooled":0,"replayed":0,"spool_bytes":0,)"
		R"("spool_records":0,"spool_dropped":0,"spool_corrupt":0,"dead_lettered":0,"producer_rebuilds":0},)"
		R"("rss_bytes":12582912,"cpu_seconds":0.1,"cpu_percent":0.5})";
	CHECK(status_to_json(known_snapshot()) == expected);
}

TEST_CASE("status_to_json of an empty snapshot is valid JSON", "[unit][control]")
{
	const std::string json = status_to_json(StatusSnapshot{});
	CHECK(json.find(R"("hooks":[])") != std::string::npos);
	CHECK(json.find(R"("connected":false)") != std::string::npos);
	simdjson::dom::parser parser;
	CHECK(parser.parse(simdjson::padded_string(json)).error() == simdjson::SUCCESS);
}

TEST_CASE("status_to_json stays one line of valid JSON whatever the strings hold", "[unit][control]")
{
	StatusSnapshot s = known_snapshot();
	const std::string hostile = "say \"hi\"\\\n\r\t\x01\x1f\x7f end \xff\xc3(\xed\xa0\x80 caf\xc3\xa9";
	s.sink.last_error = hostile;
	s.hooks[0].reason = hostile;
	s.hostname = std::string("nul\0inside", 10);
	s.uptime_seconds = std::numeric_limits<double>::quiet_NaN();
	s.cpu_percent = std::numeric_limits<double>::infinity();
	s.pid = -1;
	s.last_seq = std::numeric_limits<uint64_t>::max();

	const std::string json = status_to_json(s);
	CHECK(json.find('\n') == std::string::npos);

	simdjson::dom::parser parser;
	simdjson::dom::element root;
	REQUIRE(parser.parse(simdjson::padded_string(json)).get(root) == simdjson::SUCCESS);
	std::string_view last_error;
	REQUIRE(root["sink"]["last_error"].get(last_error) == simdjson::SUCCESS);
	CHECK(last_error == "say \"hi\"\\\n\r\t\x01\x1f\x7f end \xEF\xBF\xBD\xEF\xBF\xBD("
			    "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD caf\xc3\xa9");
	std::string_view hostname;
	REQUIRE(root["hostname"].get(hostname) == simdjson::SUCCESS);
	CHECK(hostname == std::string_view("nul\0inside", 10));
	double uptime = -1, cpu = -1;
	REQUIRE(root["uptime_seconds"].get(uptime) == simdjson::SUCCESS);
	REQUIRE(root["cpu_percent"].get(cpu) == simdjson::SUCCESS);
	CHECK(uptime == 0);
	CHECK(cpu == 0);
	int64_t pid = 0;
	REQUIRE(root["pid"].get(pid) == simdjson::SUCCESS);
	CHECK(pid == -1);
	uint64_t last_seq = 0;
	REQUIRE(root["last_seq"].get(last_seq) == simdjson::SUCCESS);
	CHECK(last_seq == std::numeric_limits<uint64_t>::max());
}

TEST_CASE("status strings are escaped and invalid UTF-8 replaced", "[unit][control]")
{
	CHECK(json_quoted("") == R"("")");
	CHECK(json_quoted("plain") == R"("plain")");
	CHECK(json_quoted("a\"b\\c") == R"("a\"b\\c")");
	CHECK(json_quoted("\n\r\t\b\f") == R"("\n\r\t\b\f")");
	CHECK(json_quoted(std::string("\x00\x01\x1f", 3)) == R"("\u0000\u0001\u001f")");
	CHECK(json_quoted("\x7f") == "\"\x7f\"");

	const std::string fffd = "\xEF\xBF\xBD";
	// Well-formed sequences of every length pass unchanged.
	for (const char *ok :
	     {"\xc3\xa9", "\xe2\x82\xac", "\xed\x9f\xbf", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"})
		CHECK(decoded(json_quoted(ok)) == ok);
	// Each byte that starts no well-formed sequence becomes one U+FFFD.
	CHECK(decoded(json_quoted("\xc0\x80")) == fffd + fffd);			      // overlong NUL
	CHECK(decoded(json_quoted("\xe0\x80\xaf")) == fffd + fffd + fffd);	      // overlong '/'
	CHECK(decoded(json_quoted("\xed\xa0\x80")) == fffd + fffd + fffd);	      // surrogate
	CHECK(decoded(json_quoted("\xf4\x90\x80\x80")) == fffd + fffd + fffd + fffd); // above U+10FFFF
	CHECK(decoded(json_quoted("\xf5\x80")) == fffd + fffd);
	CHECK(decoded(json_quoted("\x80x")) == fffd + "x");	       // lone continuation
	CHECK(decoded(json_quoted("x\xe2\x82")) == "x" + fffd + fffd); // truncated at the end
	CHECK(decoded(json_quoted("\xe2\x82x")) == fffd + fffd + "x"); // truncated in the middle
}

TEST_CASE("error_answer is an escaped error object", "[unit][control]")
{
	CHECK(error_answer("unknown request: x") == R"({"error":"unknown request: x"})");
	CHECK(error_answer("a\"b\n\xff") == "{\"error\":\"a\\\"b\\n\xEF\xBF\xBD\"}");
}
