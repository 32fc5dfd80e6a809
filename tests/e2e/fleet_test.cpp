// `smithctl fleet` against a real Apache Kafka broker on loopback (packaging/kafka/local-broker.sh) and
// real smithd runs, each with the identity of another host (its own hostname in a UTS namespace, its
// own /etc/machine-id in a mount namespace: SmithdOptions::hostname, host_id), all sending heartbeats
// every second. About the output side alone, so it runs on the host only, against its first backend.
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <optional>
#include <sstream>
#include <thread>

#include "backends.h"
#include "local_broker.h"
#include "smith/version.h"

using namespace smith::e2e;

namespace {

double wall_seconds()
{
	return static_cast<double>(now_ns()) / 1e9;
}

// Ports and data directory of this test's own broker, apart from every other test's.
constexpr const char *kPort = "19100";
constexpr const char *kControllerPort = "19101";
constexpr const char *kData = "/var/tmp/smith-kafka-fleet";
const std::string kBrokers = std::string("127.0.0.1:") + kPort;

// This file's broker (local_broker.h).
class Broker : public LocalBroker {
public:
	Broker() : LocalBroker(kPort, kControllerPort, kData) {}
};

struct Identity {
	std::string hostname;
	std::string host_id;
};

// One host of the fleet: smithd with `id`, the Kafka sink (memory durability, so that its spool stays
// empty while the broker is up) and a heartbeat every second.
SmithdOptions host_options(const Identity &id, const TempDir &dir)
{
	SmithdOptions o = sink_daemon_options({"--brokers=" + kBrokers, "--topic=fleet-events",
					       "--spool-dir=" + dir.file("spool"), "--durability=memory",
					       "--heartbeat-interval=1"},
					      false);
	o.label = id.hostname;
	o.hostname = id.hostname;
	o.host_id = id.host_id;
	o.state_file = dir.file("smithd.state");
	return o;
}

std::string run_id_of(const Smithd &d)
{
	const std::string status = d.status_quiet();
	simdjson::dom::parser p;
	std::string_view id;
	REQUIRE(p.parse(status)["run_id"].get(id) == simdjson::SUCCESS);
	return std::string(id);
}

CommandResult fleet(std::vector<std::string> args)
{
	std::vector<std::string> argv = {smithctl_path(), "fleet", "--brokers", kBrokers};
	argv.insert(argv.end(), args.begin(), args.end());
	return run_command(argv, 60s);
}

// One row of `smithctl fleet --json`, every documented field.
struct Row {
	std::string hostname, host_id, version, backend, kernel, run_id;
	int64_t pid = 0;
	double uptime_seconds = 0, time = 0, last_seen_seconds = 0;
	uint64_t heartbeat_interval_seconds = 0;
	bool stale = false, stopping = false;
	std::string previous_run_id;
	bool previous_run_clean_stop = false;
	uint64_t kernel_drops = 0, spool_records = 0, spool_bytes = 0;
	bool sink_connected = false;
	std::string sink_last_error;
};

// The rows of `smithctl fleet --json`; the test fails when it does not exit 0 with an array, unless
// `topic_may_be_missing` and the topic does not exist yet (nullopt).
std::optional<std::vector<Row>> fleet_rows(bool topic_may_be_missing)
{
	const CommandResult r = fleet({"--json"});
	if (topic_may_be_missing && r.exit_code == 1 && r.err.find("does not exist") != std::string::npos)
		return std::nullopt;
	INFO("smithctl fleet --json: exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err);
	REQUIRE(r.exit_code == 0);
	REQUIRE(r.err.empty());
	simdjson::dom::parser p;
	simdjson::dom::array rows;
	REQUIRE(p.parse(r.out).get(rows) == simdjson::SUCCESS);
	std::vector<Row> out;
	for (simdjson::dom::element e : rows) {
		Row row;
		auto str = [&](const char *key) { return std::string(e[key].get_string().value()); };
		row.hostname = str("hostname");
		row.host_id = str("host_id");
		row.version = str("version");
		row.backend = str("backend");
		row.kernel = str("kernel");
		row.run_id = str("run_id");
		row.pid = e["pid"].get_int64().value();
		row.uptime_seconds = e["uptime_seconds"].get_double().value();
		row.time = e["time"].get_double().value();
		row.last_seen_seconds = e["last_seen_seconds"].get_double().value();
		row.heartbeat_interval_seconds = e["heartbeat_interval_seconds"].get_uint64().value();
		row.stale = e["stale"].get_bool().value();
		row.stopping = e["stopping"].get_bool().value();
		row.previous_run_id = str("previous_run_id");
		row.previous_run_clean_stop = e["previous_run_clean_stop"].get_bool().value();
		row.kernel_drops = e["kernel_drops"].get_uint64().value();
		row.spool_records = e["spool_records"].get_uint64().value();
		row.spool_bytes = e["spool_bytes"].get_uint64().value();
		row.sink_connected = e["sink_connected"].get_bool().value();
		row.sink_last_error = str("sink_last_error");
		out.push_back(row);
	}
	return out;
}

std::vector<Row> fleet_rows()
{
	return *fleet_rows(false);
}

// Waits until `pred` holds for the rows of `smithctl fleet --json`; returns them.
std::vector<Row> await_rows(const std::string &what,
			    const std::function<bool(const std::vector<Row> &)> &pred)
{
	const auto deadline = std::chrono::steady_clock::now() + 90s;
	for (;;) {
		// smithd's first heartbeat creates the topic, a moment after smithd is ready.
		std::vector<Row> rows = fleet_rows(true).value_or(std::vector<Row>{});
		if (pred(rows))
			return rows;
		if (std::chrono::steady_clock::now() >= deadline) {
			std::ostringstream seen;
			for (const Row &r : rows)
				seen << "\n  " << r.hostname << " " << r.host_id << " run " << r.run_id
				     << " last seen " << r.last_seen_seconds << " s ago";
			FAIL("smithctl fleet never showed " << what << "; last rows:" << seen.str());
		}
		std::this_thread::sleep_for(500ms);
	}
}

const Row *row_of(const std::vector<Row> &rows, const std::string &hostname)
{
	for (const Row &r : rows)
		if (r.hostname == hostname)
			return &r;
	return nullptr;
}

// What the newest heartbeat of a running (or just stopped) host says.
void check_host(const Row &row, const Identity &id, const Smithd &d, const std::string &run_id,
		double test_start)
{
	INFO("row of " << id.hostname);
	CHECK(row.hostname == id.hostname);
	CHECK(row.host_id == id.host_id);
	CHECK(row.version == SMITH_VERSION);
	CHECK(row.backend == d.expected_backend());
	CHECK(row.kernel == kernel_release());
	CHECK(row.run_id == run_id);
	CHECK(row.uptime_seconds > 0);
	CHECK(row.heartbeat_interval_seconds == 1);
	// The host's wall clock when it sent the heartbeat: since the test started, before now.
	CHECK(row.time >= test_start);
	CHECK(row.time <= wall_seconds());
	CHECK(row.kernel_drops == 0);
	CHECK(row.spool_records == 0);
	CHECK(row.spool_bytes == 0);
	CHECK(row.sink_connected);
	CHECK(row.sink_last_error == "");
}

std::vector<std::string> words(const std::string &line)
{
	std::istringstream in(line);
	std::vector<std::string> out;
	for (std::string w; in >> w;)
		out.push_back(w);
	return out;
}

std::vector<std::string> lines(const std::string &text)
{
	std::vector<std::string> out;
	std::istringstream in(text);
	for (std::string l; std::getline(in, l);)
		out.push_back(l);
	return out;
}

size_t occurrences(const std::string &text, const std::string &what)
{
	size_t n = 0;
	for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size()))
		++n;
	return n;
}

} // namespace

TEST_CASE("fleet: smithctl fleet lists each host's newest heartbeat, the killed host stale and first",
	  "[e2e][sink][kafka][fleet]")
{
	Broker b;
	const Identity a{"fleet-a", "f1ee7000000000000000000000000a01"};
	const Identity k{"fleet-b", "f1ee7000000000000000000000000b02"}; // killed, stays down
	const Identity c{"fleet-c", "f1ee7000000000000000000000000c03"}; // killed, started again
	TempDir dir_a, dir_k, dir_c;
	const double test_start = wall_seconds();

	// Before any heartbeat the topic does not exist: a clear error.
	{
		const CommandResult r = fleet({"--json"});
		CHECK(r.exit_code == 1);
		CHECK(r.out.empty());
		CHECK(r.err ==
		      "smithctl: topic \"smith-heartbeat\" does not exist on the brokers at " + kBrokers +
			      " (is it smithd's heartbeat_topic, and has any smithd with the Kafka sink "
			      "sent a heartbeat?)\n");
	}

	Smithd da(host_options(a, dir_a), false), dk(host_options(k, dir_k), false),
		dc1(host_options(c, dir_c), false);
	for (Smithd *d : {&da, &dk, &dc1}) {
		const std::string why = d->wait_ready(start_timeout());
		if (!why.empty())
			FAIL(why);
	}
	const std::string run_a = run_id_of(da), run_k = run_id_of(dk), run_c1 = run_id_of(dc1);
	await_rows("the three hosts", [&](const std::vector<Row> &rows) {
		return rows.size() == 3 && row_of(rows, c.hostname) &&
		       row_of(rows, c.hostname)->run_id == run_c1;
	});

	// c dies and comes back: its row is the new run's, which names the one that died.
	const auto kill_now = [](Smithd &d) {
		REQUIRE(kill(d.pid(), SIGKILL) == 0);
		int code = 0;
		for (int i = 0; i < 100 && !d.exited(&code); ++i)
			std::this_thread::sleep_for(50ms);
		REQUIRE(code == 128 + SIGKILL);
	};
	kill_now(dc1);
	Smithd dc2(host_options(c, dir_c));
	const std::string run_c2 = run_id_of(dc2);
	await_rows("the second run of " + c.hostname, [&](const std::vector<Row> &rows) {
		return row_of(rows, c.hostname) && row_of(rows, c.hostname)->run_id == run_c2;
	});

	// k dies for good; once more than 3 heartbeat intervals passed, it is stale and listed first.
	const std::vector<Row> before = fleet_rows();
	REQUIRE(row_of(before, k.hostname) != nullptr);
	kill_now(dk);
	const double killed_at = wall_seconds();
	std::this_thread::sleep_for(4500ms);
	const std::vector<Row> rows = fleet_rows();
	REQUIRE(rows.size() == 3);
	CHECK(rows[0].hostname == k.hostname);
	CHECK(rows[1].hostname == a.hostname);
	CHECK(rows[2].hostname == c.hostname);
	const Row *rk = row_of(rows, k.hostname), *ra = row_of(rows, a.hostname),
		  *rc = row_of(rows, c.hostname);
	REQUIRE((rk && ra && rc));
	check_host(*rk, k, dk, run_k, test_start);
	CHECK(rk->time < killed_at);
	CHECK(rk->stale);
	CHECK(rk->last_seen_seconds > 3);
	CHECK(rk->last_seen_seconds < 30);
	CHECK_FALSE(rk->stopping);
	CHECK(rk->previous_run_id == "");
	CHECK(rk->previous_run_clean_stop);
	check_host(*ra, a, da, run_a, test_start);
	CHECK(ra->time > killed_at);
	CHECK(ra->pid == da.pid());
	CHECK_FALSE(ra->stale);
	CHECK(ra->last_seen_seconds < 3);
	CHECK_FALSE(ra->stopping);
	CHECK(ra->previous_run_id == "");
	CHECK(ra->previous_run_clean_stop);
	check_host(*rc, c, dc2, run_c2, test_start);
	CHECK(rc->time > killed_at);
	CHECK(rc->pid == dc2.pid());
	CHECK_FALSE(rc->stale);
	CHECK(rc->last_seen_seconds < 3);
	CHECK_FALSE(rc->stopping);
	CHECK(rc->previous_run_id == run_c1);
	CHECK_FALSE(rc->previous_run_clean_stop);

	// The same in the text view.
	{
		const CommandResult r = fleet({});
		INFO("smithctl fleet: exit " << r.exit_code << "\n" << r.out << r.err);
		REQUIRE(r.exit_code == 0);
		const std::vector<std::string> text = lines(r.out);
		REQUIRE(text.size() == 6);
		CHECK(words(text[0]) == std::vector<std::string>{"STATE", "HOSTNAME", "HOST_ID", "VERSION",
								 "BACKEND", "KERNEL", "LAST_SEEN", "DROPS",
								 "SPOOL_EVENTS", "SPOOL_BYTES", "RUN",
								 "PREVIOUS_STOP", "SINK"});
		const auto check_line = [&](const std::string &line, const std::string &state,
					    const Identity &id, const Smithd &d,
					    const std::string &previous) {
			INFO(line);
			const std::vector<std::string> w = words(line);
			REQUIRE(w.size() == 13);
			CHECK(w[0] == state);
			CHECK(w[1] == id.hostname);
			CHECK(w[2] == id.host_id);
			CHECK(w[3] == SMITH_VERSION);
			CHECK(w[4] == d.expected_backend());
			CHECK(w[5] == kernel_release());
			CHECK(w[6].back() == 's');
			CHECK(w[7] == "0");
			CHECK(w[8] == "0");
			CHECK(w[9] == "0");
			CHECK(w[10] == "running");
			CHECK(w[11] == previous);
			CHECK(w[12] == "connected");
		};
		check_line(text[1], "stale", k, dk, "-");
		check_line(text[2], "fresh", a, da, "-");
		check_line(text[3], "fresh", c, dc2, "unclean");
		CHECK(text[4] == "");
		CHECK(text[5] == "3 hosts, 1 stale (silent for more than 3 heartbeat intervals)");
	}

	// --watch redraws in place until SIGINT, then exits 0.
	{
		TempDir out_dir;
		const std::string out = out_dir.file("watch.out");
		std::vector<std::string> argv = {smithctl_path(), "fleet",	"--brokers", kBrokers,
						 "--watch",	  "--interval", "0.5"};
		std::vector<char *> cargv = c_strings(argv);
		pid_t pid = spawn([&] {
			int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			dup2(fd, 1);
			dup2(fd, 2);
			execv(cargv[0], cargv.data());
		});
		REQUIRE(pid > 0);
		std::this_thread::sleep_for(3s);
		REQUIRE(kill(pid, SIGINT) == 0);
		CHECK(wait_exit(pid, 10s) == 0);
		const std::string screen = read_file(out);
		INFO(screen);
		CHECK(occurrences(screen, "\x1b[H\x1b[2J") >= 3);
		CHECK(screen.starts_with("\x1b[H\x1b[2JEvery 0.5s: smithctl fleet --brokers " + kBrokers +
					 " --topic smith-heartbeat"));
		const std::string last = screen.substr(screen.rfind("\x1b[H\x1b[2J"));
		const std::vector<std::string> text = lines(last);
		REQUIRE(text.size() == 8);
		CHECK(words(text[2])[0] == "STATE");
		CHECK(words(text[3])[0] == "stale");
		CHECK(words(text[3])[1] == k.hostname);
		CHECK(words(text[4])[1] == a.hostname);
		CHECK(words(text[5])[1] == c.hostname);
		CHECK(text[7] == "3 hosts, 1 stale (silent for more than 3 heartbeat intervals)");
	}

	// a stops cleanly: its last heartbeat says so.
	REQUIRE(da.terminate() == 0);
	const std::vector<Row> after = fleet_rows();
	const Row *stopped = row_of(after, a.hostname);
	REQUIRE(stopped);
	CHECK(stopped->run_id == run_a);
	CHECK(stopped->stopping);
	CHECK_FALSE(stopped->stale);

	// A topic that does not exist, and brokers that do not answer: a clear error, exit 1.
	{
		const CommandResult r = fleet({"--topic", "no-such-topic"});
		CHECK(r.exit_code == 1);
		CHECK(r.out.empty());
		CHECK(r.err.starts_with(
			"smithctl: topic \"no-such-topic\" does not exist on the brokers at " + kBrokers));
	}
	{
		const auto t0 = std::chrono::steady_clock::now();
		const CommandResult r = run_command({smithctl_path(), "fleet", "--brokers", "127.0.0.1:19109",
						     "--timeout", "2", "--json"},
						    60s);
		const auto took = std::chrono::steady_clock::now() - t0;
		INFO(r.err);
		CHECK(r.exit_code == 1);
		CHECK(r.out.empty());
		CHECK(r.err.starts_with(
			"smithctl: no Kafka broker at 127.0.0.1:19109 answered within 2 s: "));
		CHECK(r.err.find("Connection refused") != std::string::npos);
		CHECK(took < 10s);
	}
}
