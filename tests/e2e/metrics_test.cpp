// The Prometheus listener (--metrics-listen) of a real smithd on this kernel, scraped with a real HTTP
// client (curl) after real execs, connects and connects held back by the connect budget. Every metric
// is checked against `smithctl status --json` taken right before and right after the scrape: a counter
// lies between the two (and equals them when they agree), a value that cannot change equals them, and
// the event counters equal what the output file holds up to the scrape's last_seq. The text then has
// to pass `promtool check metrics` (Debian's prometheus package), also with a hostname made to break
// out of its label. Host only ([sink]): the guests have neither curl nor promtool.
#include "backends.h"

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

using namespace smith::e2e;

namespace {

// A program on PATH, "" when there is none.
std::string find_program(const std::string &name)
{
	const char *path = std::getenv("PATH");
	std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (std::string dir; std::getline(dirs, dir, ':');) {
		const std::string candidate = dir + "/" + name;
		if (!dir.empty() && access(candidate.c_str(), X_OK) == 0)
			return candidate;
	}
	return "";
}

// A TCP port on 127.0.0.1 that nothing listens on now.
uint16_t free_port()
{
	Fd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	REQUIRE(s.get() >= 0);
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(bind(s.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) == 0);
	return local_endpoint(s.get()).port;
}

// `smithctl status --json` flattened: "sink.written", "hooks.execve.calls" (arrays of objects by their
// "name"), "events.received.connect"; booleans as 1 and 0.
struct FlatStatus {
	std::map<std::string, double> num;
	std::map<std::string, std::string> str;
	std::string json;
};

void flatten(simdjson::dom::element e, const std::string &path, FlatStatus &f)
{
	using simdjson::dom::element_type;
	switch (e.type()) {
	case element_type::OBJECT: {
		const simdjson::dom::object object = e.get_object().value();
		for (auto field : object)
			flatten(field.value, (path.empty() ? "" : path + ".") + std::string(field.key), f);
		break;
	}
	case element_type::ARRAY: {
		const simdjson::dom::array array = e.get_array().value();
		for (simdjson::dom::element item : array)
			flatten(item, path + "." + std::string(item["name"].get_string().value()), f);
		break;
	}
	case element_type::STRING: f.str[path] = std::string(e.get_string().value()); break;
	case element_type::INT64: f.num[path] = static_cast<double>(e.get_int64().value()); break;
	case element_type::UINT64: f.num[path] = static_cast<double>(e.get_uint64().value()); break;
	case element_type::DOUBLE: f.num[path] = e.get_double().value(); break;
	case element_type::BOOL: f.num[path] = e.get_bool().value() ? 1 : 0; break;
	case element_type::NULL_VALUE: break;
	}
}

FlatStatus status_of(const Smithd &d)
{
	FlatStatus f;
	const CommandResult r = d.ctl({"status", "--json"});
	INFO("smithctl status --json: exit " << r.exit_code << "\n" << r.out << r.err);
	REQUIRE(r.exit_code == 0);
	simdjson::dom::parser parser;
	simdjson::dom::element root;
	REQUIRE(parser.parse(r.out).get(root) == simdjson::SUCCESS);
	flatten(root, "", f);
	f.json = r.out;
	return f;
}

// One sample line of the exposition: name, labels (unescaped), value.
struct Sample {
	std::string name;
	std::map<std::string, std::string> labels;
	double value = 0;
	std::string line;
};

struct Scrape {
	std::vector<Sample> samples;
	std::map<std::string, std::string> type; // family -> TYPE
	std::set<std::string> help;		 // families with a HELP line
	std::string text;
};

// Parses Prometheus text format 0.0.4 as the specification writes it; a line it cannot read fails the
// test.
Scrape parse_exposition(const std::string &text)
{
	Scrape s;
	s.text = text;
	std::istringstream in(text);
	for (std::string line; std::getline(in, line);) {
		INFO("line: " << line);
		if (line.rfind("# HELP ", 0) == 0) {
			s.help.insert(line.substr(7, line.find(' ', 7) - 7));
			continue;
		}
		if (line.rfind("# TYPE ", 0) == 0) {
			const size_t sp = line.find(' ', 7);
			REQUIRE(sp != std::string::npos);
			s.type[line.substr(7, sp - 7)] = line.substr(sp + 1);
			continue;
		}
		REQUIRE(!line.empty());
		REQUIRE(line[0] != '#');
		Sample m;
		m.line = line;
		size_t i = line.find_first_of("{ ");
		REQUIRE(i != std::string::npos);
		m.name = line.substr(0, i);
		if (line[i] == '{') {
			++i;
			while (line[i] != '}') {
				const size_t eq = line.find("=\"", i);
				REQUIRE(eq != std::string::npos);
				const std::string label = line.substr(i, eq - i);
				std::string value;
				for (i = eq + 2; line.at(i) != '"'; ++i) {
					if (line[i] == '\\') {
						const char c = line.at(++i);
						REQUIRE((c == '\\' || c == '"' || c == 'n'));
						value.push_back(c == 'n' ? '\n' : c);
					} else {
						value.push_back(line[i]);
					}
				}
				++i;
				REQUIRE(m.labels.emplace(label, value).second);
				if (line.at(i) == ',')
					++i;
			}
			++i;
		}
		REQUIRE(line.at(i) == ' ');
		const std::string number = line.substr(i + 1);
		char *end = nullptr;
		m.value = std::strtod(number.c_str(), &end);
		REQUIRE((!number.empty() && *end == '\0'));
		s.samples.push_back(std::move(m));
	}
	return s;
}

struct HttpAnswer {
	std::string head; // status line and headers
	std::string body;
};

// GET http://127.0.0.1:<port><path> with curl.
HttpAnswer curl_get(const std::string &curl, uint16_t port, const std::string &path)
{
	const CommandResult r = run_command({curl, "--silent", "--show-error", "--include", "--max-time",
					     "10", "http://127.0.0.1:" + std::to_string(port) + path});
	INFO("curl " << path << ": exit " << r.exit_code << "\n" << r.err);
	REQUIRE(r.exit_code == 0);
	const size_t end = r.out.find("\r\n\r\n");
	REQUIRE(end != std::string::npos);
	return {r.out.substr(0, end + 2), r.out.substr(end + 4)};
}

// `calls` UDP connects to 127.0.0.1:9 from a child of its own, as fast as it can; its pid, once it
// exited.
pid_t connect_burst(uint64_t calls)
{
	pid_t child = spawn([calls] {
		const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		sockaddr_in to{};
		to.sin_family = AF_INET;
		to.sin_port = htons(9);
		to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		for (uint64_t i = 0; i < calls; ++i)
			if (connect(s, reinterpret_cast<const sockaddr *>(&to), sizeof(to)) != 0)
				_exit(1);
		_exit(0);
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 0);
	return child;
}

// A smithd whose connect budget is 1 a second with a burst of 5, listening for scrapes on `port`.
SmithdOptions metrics_daemon_options(uint16_t port)
{
	SmithdOptions o = sink_daemon_options({"--metrics-listen=127.0.0.1:" + std::to_string(port),
					       "--connect-budget-rate=1", "--connect-budget-burst=5"});
	o.label = "metrics";
	return o;
}

} // namespace

TEST_CASE("metrics: a scrape of /metrics with curl agrees with smithctl status --json and the output file",
	  "[e2e][sink][metrics]")
{
	require_root();
	const std::string curl = find_program("curl");
	if (curl.empty())
		FAIL("curl is not installed: packaging/install-build-deps.sh installs it "
		     "(packaging/build-deps.txt)");
	const uint16_t port = free_port();
	Smithd d(metrics_daemon_options(port));

	// Real activity: execs, connects within the budget, and a burst past it, which a connect_suppressed
	// event reports with the count when the process exits.
	for (int i = 0; i < 3; ++i) {
		pid_t child = spawn([] { execl("/bin/true", "/bin/true", "smith-metrics", nullptr); });
		REQUIRE(child > 0);
		REQUIRE(wait_exit(child) == 0);
		d.wait_for(
			"execve of /bin/true by " + std::to_string(child),
			[child](const Event &e) { return e.type() == "execve" && e.pid() == child; },
			event_timeout(), child);
	}
	constexpr uint64_t kBurstCalls = 40;
	const pid_t burster = connect_burst(kBurstCalls);
	d.wait_for(
		"connect_suppressed of " + std::to_string(burster),
		[burster](const Event &e) { return e.type() == "connect_suppressed" && e.pid() == burster; },
		event_timeout(), burster);
	// Every call is reported or counted; the count may come in more than one event (once a second
	// while the burst lasts, and at exit).
	uint64_t reported = 0, held = 0, burst_last_seq = 0;
	for (const auto deadline = std::chrono::steady_clock::now() + event_timeout();
	     std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
		reported = held = 0;
		for (const Event &e : d.poll()) {
			if (e.pid() != burster)
				continue;
			if (e.type() == "connect")
				++reported;
			else if (e.type() == "connect_suppressed")
				held += e.u64("suppressed");
			burst_last_seq = std::max(burst_last_seq, e.u64("seq"));
		}
		if (reported + held == kBurstCalls)
			break;
	}
	CHECK(reported >= 5);
	CHECK(held > 0);
	CHECK(reported + held == kBurstCalls);

	// A snapshot is published at least every 100 ms after the events reach the file: wait for one that
	// has them all, so that the scrape has them too.
	FlatStatus before = status_of(d);
	for (const auto deadline = std::chrono::steady_clock::now() + event_timeout();
	     before.num.at("last_seq") < static_cast<double>(burst_last_seq) &&
	     std::chrono::steady_clock::now() < deadline;) {
		std::this_thread::sleep_for(50ms);
		before = status_of(d);
	}
	REQUIRE(before.num.at("last_seq") >= static_cast<double>(burst_last_seq));
	const HttpAnswer answer = curl_get(curl, port, "/metrics");
	const FlatStatus after = status_of(d);
	INFO("scrape:\n"
	     << answer.body << "\nstatus before: " << before.json << "status after: " << after.json);

	CHECK(answer.head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
	CHECK(answer.head.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n") !=
	      std::string::npos);
	CHECK(answer.head.find("\r\nContent-Length: " + std::to_string(answer.body.size()) + "\r\n") !=
	      std::string::npos);
	const HttpAnswer elsewhere = curl_get(curl, port, "/");
	CHECK(elsewhere.head.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);

	const Scrape scrape = parse_exposition(answer.body);
	REQUIRE(!scrape.samples.empty());
	for (const auto &[family, type] : scrape.type) {
		INFO("family " << family);
		CHECK(scrape.help.count(family) == 1);
		CHECK(family.rfind("smith_", 0) == 0);
		CHECK((type == "counter") ==
		      (family.size() > 6 && family.substr(family.size() - 6) == "_total"));
	}

	// The values the status names by path; what a metric's labels select fills the <label> in the path.
	auto status_path = [](std::string path, const Sample &m) {
		for (const auto &[label, value] : m.labels) {
			const std::string hole = "<" + label + ">";
			if (const size_t at = path.find(hole); at != std::string::npos)
				path.replace(at, hole.size(), value);
		}
		return path;
	};
	auto number_at = [](const FlatStatus &f, const std::string &path) {
		INFO("status path " << path);
		REQUIRE(f.num.count(path) == 1);
		return f.num.at(path);
	};
	// Counters (and values that only grow): between the two reads, equal to them when they agree. The
	// number divides the status value into the metric's unit (ns -> s).
	const std::map<std::string, std::pair<std::string, double>> counters = {
		{"smith_uptime_seconds", {"uptime_seconds", 1}},
		{"smith_cpu_seconds_total", {"cpu_seconds", 1}},
		{"smith_kernel_drops_total", {"hooks.<hook>.kernel_drops", 1}},
		{"smith_hook_calls_total", {"hooks.<hook>.calls", 1}},
		{"smith_program_runs_total", {"programs.<program>.run_cnt", 1}},
		{"smith_program_run_seconds_total", {"programs.<program>.run_time_ns", 1e9}},
		{"smith_events_received_total", {"events.received.<type>", 1}},
		{"smith_events_sent_total", {"events.sent.<type>", 1}},
		{"smith_connects_suppressed_total", {"suppressed_connects", 1}},
		{"smith_decode_errors_total", {"decode_errors", 1}},
		{"smith_own_records_total", {"own_records", 1}},
		{"smith_last_seq", {"last_seq", 1}},
		{"smith_sink_written_total", {"sink.written", 1}},
		{"smith_sink_failed_total", {"sink.failed", 1}},
		{"smith_sink_spooled_total", {"sink.spooled", 1}},
		{"smith_sink_replayed_total", {"sink.replayed", 1}},
		{"smith_spool_dropped_total", {"sink.spool_dropped", 1}},
		{"smith_spool_corrupt_total", {"sink.spool_corrupt", 1}},
		{"smith_sink_dead_lettered_total", {"sink.dead_lettered", 1}},
		{"smith_sink_producer_rebuilds_total", {"sink.producer_rebuilds", 1}},
	};
	// Values that cannot change while a file sink runs: equal to both reads.
	const std::map<std::string, std::string> fixed = {
		{"smith_previous_run_clean_stop", "previous_run.clean_stop"},
		{"smith_rings", "rings.count"},
		{"smith_ring_size_bytes", "rings.bytes"},
		{"smith_hook_timing_enabled", "hook_timing"},
		{"smith_queue_depth", "queue_depth"},
		{"smith_sink_connected", "sink.connected"},
		{"smith_sink_in_flight", "sink.in_flight"},
		{"smith_spool_bytes", "spool_bytes"},
		{"smith_spool_records", "sink.spool_records"},
	};
	// A hook's mean and p99: those of the read whose call count the scrape has.
	const std::map<std::string, std::string> per_call = {
		{"smith_hook_average_seconds", "hooks.<hook>.avg_ns"},
		{"smith_hook_p99_seconds", "hooks.<hook>.p99_ns"},
	};

	std::map<std::string, size_t> seen;
	std::set<std::string> hooks_seen;
	double scrape_last_seq = -1, scrape_suppressed = -1;
	std::map<std::string, double> scrape_sent;
	for (const Sample &m : scrape.samples) {
		INFO("sample: " << m.line);
		++seen[m.name];
		if (m.name == "smith_last_seq")
			scrape_last_seq = m.value;
		if (m.name == "smith_connects_suppressed_total")
			scrape_suppressed = m.value;
		if (m.name == "smith_events_sent_total")
			scrape_sent[m.labels.at("type")] = m.value;

		if (auto c = counters.find(m.name); c != counters.end()) {
			const std::string path = status_path(c->second.first, m);
			const double a = number_at(before, path) / c->second.second;
			const double b = number_at(after, path) / c->second.second;
			CHECK(a <= m.value);
			CHECK(m.value <= b);
			if (a == b)
				CHECK(m.value == a);
		} else if (auto f = fixed.find(m.name); f != fixed.end()) {
			CHECK(number_at(before, f->second) == number_at(after, f->second));
			CHECK(m.value == number_at(after, f->second));
		} else if (auto p = per_call.find(m.name); p != per_call.end()) {
			const std::string calls = "hooks." + m.labels.at("hook") + ".calls";
			const std::string path = status_path(p->second, m);
			double scrape_calls = -1;
			for (const Sample &c : scrape.samples)
				if (c.name == "smith_hook_calls_total" && c.labels == m.labels)
					scrape_calls = c.value;
			if (scrape_calls == number_at(before, calls))
				CHECK(m.value == number_at(before, path) / 1e9);
			else if (scrape_calls == number_at(after, calls))
				CHECK(m.value == number_at(after, path) / 1e9);
			else
				CHECK(m.value >= 0);
		} else if (m.name == "smith_resident_memory_bytes") {
			// It may move either way, not by much.
			CHECK(m.value > 0);
			CHECK(m.value >=
			      std::min(number_at(before, "rss_bytes"), number_at(after, "rss_bytes")) / 2);
			CHECK(m.value <=
			      std::max(number_at(before, "rss_bytes"), number_at(after, "rss_bytes")) * 2);
		} else if (m.name == "smith_info") {
			CHECK(m.value == 1);
			CHECK(m.labels == std::map<std::string, std::string>{
						  {"version", after.str.at("version")},
						  {"backend", d.expected_backend()},
						  {"backend_reason", after.str.at("backend_reason")},
						  {"hostname", host_name()},
						  {"host_id", machine_id()},
						  {"run_id", after.str.at("run_id")},
						  {"kernel", kernel_release()},
						  {"ring_mode", after.str.at("rings.mode")}});
			CHECK(after.str.at("backend") == d.expected_backend());
		} else if (m.name == "smith_hook_info") {
			const std::string hook = m.labels.at("hook");
			hooks_seen.insert(hook);
			CHECK(m.value == 1);
			CHECK(m.labels == std::map<std::string, std::string>{
						  {"hook", hook},
						  {"state", after.str.at("hooks." + hook + ".state")},
						  {"attach", after.str.at("hooks." + hook + ".attach")},
						  {"reason", after.str.at("hooks." + hook + ".reason")}});
		} else if (m.name == "smith_sink_info") {
			CHECK(m.value == 1);
			CHECK(m.labels == std::map<std::string, std::string>{{"type", "file"},
									     {"target", d.output_path()}});
		} else {
			FAIL_CHECK("a metric this test does not know: " << m.name);
		}
	}

	// Every hook of the status has its samples, and every event type.
	std::set<std::string> status_hooks;
	for (const auto &[path, value] : after.str)
		if (path.rfind("hooks.", 0) == 0 && path.size() > 5 &&
		    path.substr(path.size() - 5) == ".name")
			status_hooks.insert(value);
	CHECK(hooks_seen == status_hooks);
	CHECK(hooks_seen.size() == 6);
	for (const char *family : {"smith_hook_info", "smith_kernel_drops_total", "smith_hook_calls_total",
				   "smith_hook_average_seconds", "smith_hook_p99_seconds"}) {
		INFO(family);
		CHECK(seen[family] == status_hooks.size());
	}
	for (const char *family : {"smith_events_received_total", "smith_events_sent_total"}) {
		INFO(family);
		CHECK(seen[family] == 5);
	}
	size_t programs = 0;
	for (const auto &[path, value] : after.num)
		programs += path.rfind("programs.", 0) == 0 && path.size() > 8 &&
			    path.substr(path.size() - 8) == ".run_cnt";
	CHECK(seen["smith_program_runs_total"] == programs);
	CHECK(seen["smith_program_run_seconds_total"] == programs);
	for (const auto &[name, mapping] : counters)
		if (name.rfind("smith_program_", 0) != 0) {
			INFO(name);
			CHECK(seen[name] >= 1);
		}
	for (const auto &[name, path] : fixed) {
		INFO(name);
		CHECK(seen[name] == 1);
	}
	for (const char *name : {"smith_info", "smith_sink_info", "smith_resident_memory_bytes"})
		CHECK(seen[name] == 1);

	// The event counters as the output file has them: every event up to the scrape's last_seq is there,
	// and the suppressed count is the sum of what its connect_suppressed events say.
	REQUIRE(scrape_last_seq >= 1);
	std::map<std::string, double> in_file;
	double suppressed_in_file = 0;
	for (const Event &e : d.poll()) {
		if (static_cast<double>(e.u64("seq")) > scrape_last_seq)
			continue;
		++in_file[e.type()];
		if (e.type() == "connect_suppressed")
			suppressed_in_file += static_cast<double>(e.u64("suppressed"));
	}
	for (const auto &[type, sent] : scrape_sent) {
		INFO("type " << type);
		CHECK(in_file[type] == sent);
	}
	CHECK(scrape_sent.at("execve") >= 3);
	CHECK(scrape_sent.at("connect_suppressed") >= 1);
	CHECK(scrape_suppressed == suppressed_in_file);
	CHECK(scrape_suppressed >= static_cast<double>(held));
	CHECK(d.terminate() == 0);
}

TEST_CASE("metrics: the scraped text passes promtool check metrics", "[e2e][sink][metrics]")
{
	require_root();
	const std::string promtool = find_program("promtool");
	if (promtool.empty())
		skip_test("promtool is not installed (Debian's prometheus package; "
			  "packaging/install-build-deps.sh "
			  "installs it)");
	const std::string curl = find_program("curl");
	if (curl.empty())
		FAIL("curl is not installed: packaging/install-build-deps.sh installs it "
		     "(packaging/build-deps.txt)");
	const uint16_t port = free_port();
	Smithd d(metrics_daemon_options(port));
	REQUIRE(exec_marker({&d}, "smith-metrics-promtool") == "");
	const HttpAnswer answer = curl_get(curl, port, "/metrics");
	REQUIRE(answer.head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
	const std::string file = d.dir() + "/metrics.txt";
	std::ofstream(file) << answer.body;
	// promtool reads the text on its standard input.
	const CommandResult r =
		run_command({"/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"", promtool, file});
	INFO("promtool check metrics: exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err
					     << "\ntext:\n"
					     << answer.body);
	CHECK(r.exit_code == 0);
	CHECK(r.out == "");
	CHECK(r.err == "");
	CHECK(d.terminate() == 0);
}

TEST_CASE("metrics: a hostile hostname stays inside its label, and promtool reads the text",
	  "[e2e][sink][metrics]")
{
	require_root();
	const std::string promtool = find_program("promtool");
	if (promtool.empty())
		skip_test("promtool is not installed (Debian's prometheus package; "
			  "packaging/install-build-deps.sh "
			  "installs it)");
	const std::string curl = find_program("curl");
	if (curl.empty())
		FAIL("curl is not installed: packaging/install-build-deps.sh installs it "
		     "(packaging/build-deps.txt)");

	// smithd in a UTS namespace of its own, whose hostname tries to close its label and add a sample.
	const std::string hostile = "evil\"} 1\nsmith_x{a=\"\\\xff\xc0\xaf";
	TempDir dir;
	PinDir pins;
	const uint16_t port = free_port();
	const SmithdOptions o = daemon_options(backends_under_test().at(0));
	std::vector<std::string> args = {smithd_path(),
					 "--foreground",
					 "--backend=" + o.backend,
					 "--config=/dev/null",
					 "--socket=" + dir.file("smithd.sock"),
					 "--pid-file=" + dir.file("smithd.pid"),
					 "--state-file=" + dir.file("smithd.state"),
					 "--bpf-pin-dir=" + pins.path(),
					 "--sink=file",
					 "--output=" + dir.file("events.jsonl"),
					 "--metrics-listen=127.0.0.1:" + std::to_string(port)};
	std::vector<char *> argv = c_strings(args);
	const std::string log = dir.file("smithd.log");
	const pid_t pid = spawn([&] {
		const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || unshare(CLONE_NEWUTS) != 0 ||
		    sethostname(hostile.data(), hostile.size()) != 0)
			_exit(125);
		execv(argv[0], argv.data());
	});
	REQUIRE(pid > 0);
	struct Stop {
		pid_t pid;
		~Stop()
		{
			kill(pid, SIGTERM);
			wait_exit(pid);
		}
	} stop{pid};

	bool ready = false;
	for (const auto deadline = std::chrono::steady_clock::now() + start_timeout();
	     !ready && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(100ms))
		ready = run_command(
				{smithctl_path(), "status", "--json", "--socket=" + dir.file("smithd.sock")})
				.exit_code == 0;
	INFO("smithd log:\n" << read_file(log));
	REQUIRE(ready);

	const HttpAnswer answer = curl_get(curl, port, "/metrics");
	INFO("scrape:\n" << answer.body);
	REQUIRE(answer.head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
	const Scrape scrape = parse_exposition(answer.body);
	size_t info = 0;
	for (const Sample &m : scrape.samples) {
		CHECK(m.name.rfind("smith_x", 0) != 0);
		if (m.name != "smith_info")
			continue;
		++info;
		// The bytes as the JSON of events gives them: invalid UTF-8 one U+FFFD a byte.
		CHECK(m.labels.at("hostname") ==
		      "evil\"} 1\nsmith_x{a=\"\\\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	}
	CHECK(info == 1);

	const std::string file = dir.file("metrics.txt");
	std::ofstream(file) << answer.body;
	const CommandResult r =
		run_command({"/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"", promtool, file});
	INFO("promtool check metrics: exit " << r.exit_code << "\nstdout: " << r.out
					     << "\nstderr: " << r.err);
	CHECK(r.exit_code == 0);
	CHECK(r.out == "");
	CHECK(r.err == "");
}
