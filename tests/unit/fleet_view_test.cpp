// smithctl fleet's rows, from heartbeats (status objects as smithd sends them) and a given clock:
// the newest heartbeat per host, staleness, order, and the text and JSON views. The status parser
// and printable() it builds on are compiled into this binary by control_smithctl_test.cpp.
#include "../../src/ctl/fleet_view.cpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <string>
#include <vector>

#include "control/status.h"

using namespace smith;
using ctl::Fleet;
using ctl::FleetRow;

namespace {

constexpr double kNow = 1764753310.75; // the reader's clock in every case below

// A heartbeat as smithd would send it.
control::StatusSnapshot beat(std::string hostname, std::string host_id, double time, uint64_t interval = 1)
{
	control::StatusSnapshot s;
	s.version = "0.1.0";
	s.pid = 4242;
	s.uptime_seconds = 12.5;
	s.time = time;
	s.heartbeat_interval_seconds = interval;
	s.hostname = std::move(hostname);
	s.host_id = std::move(host_id);
	s.run_id = "run-" + s.hostname;
	s.kernel = "6.18.44";
	s.backend = "ebpf";
	s.backend_reason = "requested";
	s.hooks = {{"execve", "attached", "", "fexit", 3}, {"connect", "attached", "", "fexit", 4}};
	s.sink = {"kafka", "127.0.0.1:9092", true, "", 10, 0};
	return s;
}

std::string message_of(const control::StatusSnapshot &s)
{
	return control::status_to_json(s);
}

std::vector<std::string> hostnames(const std::vector<FleetRow> &rows)
{
	std::vector<std::string> out;
	for (const auto &r : rows)
		out.push_back(r.hostname + "/" + r.host_id);
	return out;
}

} // namespace

TEST_CASE("fleet: one row per host, its newest heartbeat, stale hosts first", "[unit][ctl][fleet]")
{
	Fleet fleet;
	auto web_new = beat("web-1", "aaaa", kNow - 0.5);
	web_new.run_id = "run-new";
	web_new.sink.connected = false;
	web_new.sink.last_error = "Connect to ipv4#10.0.0.1:9092 failed";
	web_new.sink.spool_records = 17;
	web_new.sink.spool_bytes = 8192;
	web_new.previous_run_id = "run-old";
	web_new.previous_run_clean = false;
	auto web_old = beat("web-1", "aaaa", kNow - 2);
	web_old.run_id = "run-old";
	// Partitions interleave: an older heartbeat can come after a newer one.
	CHECK(fleet.add(message_of(web_new)) == "");
	CHECK(fleet.add(message_of(web_old)) == "");
	CHECK(fleet.add(message_of(beat("db-2", "bbbb", kNow - 3.25))) == "");	 // 3.25 intervals: stale
	CHECK(fleet.add(message_of(beat("edge", "", kNow - 60, 30))) == "");	 // keyed by hostname
	CHECK(fleet.add(message_of(beat("web-1", "cccc", kNow - 1))) == "");	 // same name, another host
	CHECK(fleet.add(message_of(beat("api", "dddd", kNow - 100, 30))) == ""); // 3.33 intervals of 30 s
	CHECK(fleet.hosts() == 5);
	CHECK(fleet.unreadable() == 0);

	const std::vector<FleetRow> rows = fleet.rows(kNow);
	CHECK(hostnames(rows) ==
	      std::vector<std::string>{"api/dddd", "db-2/bbbb", "edge/", "web-1/aaaa", "web-1/cccc"});
	CHECK(rows[0].stale);
	CHECK(rows[1].stale);
	CHECK_FALSE(rows[2].stale);
	CHECK_FALSE(rows[3].stale);
	CHECK_FALSE(rows[4].stale);

	const FleetRow &web = rows[3];
	CHECK(web.run_id == "run-new");
	CHECK(web.version == "0.1.0");
	CHECK(web.backend == "ebpf");
	CHECK(web.kernel == "6.18.44");
	CHECK(web.pid == 4242);
	CHECK(web.uptime_seconds == 12.5);
	CHECK(web.time == kNow - 0.5);
	CHECK(web.last_seen_seconds == 0.5);
	CHECK(web.heartbeat_interval_seconds == 1);
	CHECK(web.kernel_drops == 7);
	CHECK(web.spool_records == 17);
	CHECK(web.spool_bytes == 8192);
	CHECK_FALSE(web.sink_connected);
	CHECK(web.sink_last_error == "Connect to ipv4#10.0.0.1:9092 failed");
	CHECK(web.previous_run_id == "run-old");
	CHECK_FALSE(web.previous_run_clean_stop);
	CHECK_FALSE(web.stopping);
	CHECK(rows[1].last_seen_seconds == 3.25);
	CHECK(rows[2].heartbeat_interval_seconds == 30);
}

TEST_CASE("fleet: stale means silent for more than three of the host's intervals", "[unit][ctl][fleet]")
{
	Fleet fleet;
	fleet.add(message_of(beat("a", "1", kNow - 90, 30)));	 // exactly 3 intervals: not yet
	fleet.add(message_of(beat("b", "2", kNow - 90.25, 30))); // past 3
	fleet.add(message_of(beat("c", "3", kNow - 3, 1)));
	fleet.add(message_of(beat("d", "4", kNow - 3.5, 1)));
	auto rows = fleet.rows(kNow);
	CHECK(hostnames(rows) == std::vector<std::string>{"b/2", "d/4", "a/1", "c/3"});
	CHECK(rows[0].stale);
	CHECK(rows[1].stale);
	CHECK_FALSE(rows[2].stale);
	CHECK_FALSE(rows[3].stale);
	// The same heartbeats later: everyone is stale, in name order.
	rows = fleet.rows(kNow + 100);
	CHECK(hostnames(rows) == std::vector<std::string>{"a/1", "b/2", "c/3", "d/4"});
	for (const auto &r : rows)
		CHECK(r.stale);
}

TEST_CASE("fleet: a host's last heartbeat of a clean stop, and a restart after it", "[unit][ctl][fleet]")
{
	Fleet fleet;
	auto last = beat("h", "1", kNow - 2);
	last.stopping = true;
	fleet.add(message_of(last));
	auto rows = fleet.rows(kNow);
	REQUIRE(rows.size() == 1);
	CHECK(rows[0].stopping);
	CHECK_FALSE(rows[0].stale);

	// Equal times: the one read last wins.
	auto next = beat("h", "1", kNow - 2);
	next.run_id = "run-2";
	next.previous_run_id = "run-h";
	next.previous_run_clean = true;
	fleet.add(message_of(next));
	rows = fleet.rows(kNow);
	REQUIRE(rows.size() == 1);
	CHECK(rows[0].run_id == "run-2");
	CHECK_FALSE(rows[0].stopping);
	CHECK(rows[0].previous_run_clean_stop);
}

TEST_CASE("fleet: messages that are not heartbeats are counted and skipped", "[unit][ctl][fleet]")
{
	Fleet fleet;
	CHECK_THAT(fleet.add("not json"), Catch::Contains("not JSON"));
	std::string no_time = message_of(beat("h", "1", kNow));
	const size_t at = no_time.find("\"time\":");
	REQUIRE(at != std::string::npos);
	no_time.replace(at, 2, "\"x"); // "xime"
	CHECK_THAT(fleet.add(no_time), Catch::Contains("\"time\" is missing"));
	CHECK(fleet.add(message_of(beat("h", "1", kNow))) == "");
	CHECK(fleet.hosts() == 1);
	CHECK(fleet.unreadable() == 2);
	CHECK_THAT(fleet.first_error(), Catch::Contains("not JSON"));
	CHECK(ctl::format_fleet(fleet.rows(kNow), fleet.unreadable(), "x\x1b[2J")
		      .ends_with("\n2 messages on the topic could not be read as heartbeats; the first: "
				 "x\\x1b[2J\n"));
}

TEST_CASE("fleet: the text view", "[unit][ctl][fleet]")
{
	Fleet fleet;
	auto web = beat("web-1", "aaaa", kNow - 1.5);
	web.sink.spool_records = 17;
	web.sink.spool_bytes = 8192;
	web.previous_run_id = "r0";
	web.previous_run_clean = false;
	auto db = beat("db-2", "bbbb", kNow - 125, 30);
	db.sink.connected = false;
	db.sink.last_error = "all brokers down";
	db.previous_run_id = "r1";
	db.stopping = true;
	auto ok = beat("edge", "cccc", kNow - 10, 30);
	ok.sink.connected = false;
	fleet.add(message_of(web));
	fleet.add(message_of(db));
	fleet.add(message_of(ok));
	const std::string expected =
		"STATE  HOSTNAME  HOST_ID  VERSION  BACKEND  KERNEL   LAST_SEEN  DROPS  SPOOL_EVENTS  "
		"SPOOL_BYTES  RUN      PREVIOUS_STOP  SINK\n"
		"stale  db-2      bbbb     0.1.0    ebpf     6.18.44      2m05s      7             0  "
		"          0  stopped  clean          error: all brokers down\n"
		"fresh  edge      cccc     0.1.0    ebpf     6.18.44        10s      7             0  "
		"          0  running  -              not connected\n"
		"fresh  web-1     aaaa     0.1.0    ebpf     6.18.44         1s      7            17  "
		"       8192  running  unclean        connected\n"
		"\n"
		"3 hosts, 1 stale (silent for more than 3 heartbeat intervals)\n";
	CHECK(ctl::format_fleet(fleet.rows(kNow)) == expected);
	CHECK(ctl::format_fleet({}) ==
	      "no heartbeats\n\n0 hosts, 0 stale (silent for more than 3 heartbeat intervals)\n");
}

TEST_CASE("fleet: the JSON view, fields in order", "[unit][ctl][fleet]")
{
	Fleet fleet;
	auto s = beat("web-1", "aaaa", kNow - 4.5, 1);
	s.previous_run_id = "r0";
	s.previous_run_clean = false;
	s.sink.spool_records = 17;
	s.sink.spool_bytes = 8192;
	fleet.add(message_of(s));
	const std::string expected =
		R"([{"hostname":"web-1","host_id":"aaaa","version":"0.1.0","backend":"ebpf","kernel":"6.18.44",)"
		R"("run_id":"run-web-1","pid":4242,"uptime_seconds":12.5,"time":1764753306.25,)"
		R"("last_seen_seconds":4.5,"heartbeat_interval_seconds":1,"stale":true,"stopping":false,)"
		R"("previous_run_id":"r0","previous_run_clean_stop":false,"kernel_drops":7,"spool_records":17,)"
		R"("spool_bytes":8192,"sink_connected":true,"sink_last_error":""}])";
	CHECK(ctl::fleet_to_json(fleet.rows(kNow)) == expected);
	CHECK(ctl::fleet_to_json({}) == "[]");
}

TEST_CASE("fleet: hostile strings in heartbeats cannot drive the terminal or break the JSON",
	  "[unit][ctl][fleet]")
{
	const std::string hostile_name = "evil\x1b]0;pwned\x07\nfresh  fake-host \xc2\x9b"
					 "31m";
	const std::string hostile_error = "line1\r\nline2\x1b[2J\x7f";
	Fleet fleet;
	auto s = beat(hostile_name, "id\x1b[H", kNow - 1);
	s.sink.connected = false;
	s.sink.last_error = hostile_error;
	s.kernel = "6.1\t\x01";
	fleet.add(message_of(s));
	const auto rows = fleet.rows(kNow);

	const std::string text = ctl::format_fleet(rows);
	CHECK(text.find('\x1b') == std::string::npos);
	CHECK(text.find('\x07') == std::string::npos);
	CHECK(text.find('\r') == std::string::npos);
	CHECK(text.find('\x7f') == std::string::npos);
	CHECK(text.find('\x01') == std::string::npos);
	CHECK(text.find("\xc2\x9b") == std::string::npos);
	// Header, one row, blank, summary: no line the hostname could add.
	CHECK(std::count(text.begin(), text.end(), '\n') == 4);
	CHECK(text.find("evil\\x1b]0;pwned\\x07\\nfresh  fake-host \\u009b31m") != std::string::npos);
	CHECK(text.find("error: line1\\r\\nline2\\x1b[2J\\x7f") != std::string::npos);

	const std::string out = ctl::fleet_to_json(rows);
	CHECK(out.find('\n') == std::string::npos);
	simdjson::dom::parser parser;
	simdjson::dom::element root;
	REQUIRE(parser.parse(simdjson::padded_string(out)).get(root) == simdjson::SUCCESS);
	CHECK(std::string(root.at(0)["hostname"].get_string().value()) == hostile_name);
	CHECK(std::string(root.at(0)["host_id"].get_string().value()) == "id\x1b[H");
	CHECK(std::string(root.at(0)["sink_last_error"].get_string().value()) == hostile_error);
}
