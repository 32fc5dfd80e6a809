// smithd to a real Apache Kafka broker on loopback (packaging/kafka/local-broker.sh): events and
// heartbeats arrive, seq is contiguous with no duplicates, and a broker outage loses nothing. About the
// sink alone, so it runs on the host only, against its first backend.
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "backends.h"
#include "local_broker.h"

using namespace smith::e2e;

namespace {

constexpr const char *kPort = "19096";
constexpr const char *kControllerPort = "19097";
constexpr const char *kData = "/var/tmp/smith-kafka-e2e";
const std::string kBrokers = std::string("127.0.0.1:") + kPort;

// This file's broker (local_broker.h).
class Broker : public LocalBroker {
public:
	Broker() : LocalBroker(kPort, kControllerPort, kData) {}
};

// Every message of `topic`, one parsed event per message.
std::vector<Event> consume(const std::string &topic, std::chrono::milliseconds idle = 4000ms)
{
	auto r = run_command({SMITH_KAFKA_CONSUME_PATH, "--brokers", kBrokers, "--topic", topic,
			      "--from-beginning", "--idle-ms", std::to_string(idle.count())},
			     120s);
	INFO(r.err);
	REQUIRE(r.exit_code == 0);
	std::vector<Event> out;
	size_t start = 0;
	while (start < r.out.size()) {
		size_t end = r.out.find('\n', start);
		if (end == std::string::npos)
			end = r.out.size();
		std::string line = r.out.substr(start, end - start);
		start = end + 1;
		if (line.empty())
			continue;
		std::string err;
		auto e = Event::parse(line, &err);
		INFO(err << ": " << line);
		REQUIRE(e.has_value());
		out.push_back(*e);
	}
	return out;
}

// Runs `echo <marker>`; true when it ran and exited 0. Asserts nothing: the load thread calls it.
bool run_marker(const std::string &marker)
{
	pid_t pid = spawn([&] { execl("/bin/echo", "echo", marker.c_str(), static_cast<char *>(nullptr)); });
	return pid > 0 && wait_exit(pid) == 0;
}

void exec_marker(const std::string &marker)
{
	REQUIRE(run_marker(marker));
}

bool is_marker(const Event &e, const std::string &marker)
{
	return e.type() == "execve" && e.strings("argv") == std::vector<std::string>{"echo", marker};
}

// seq values 1..N each exactly once.
void check_contiguous(const std::vector<Event> &events)
{
	std::set<uint64_t> seqs;
	for (const auto &e : events)
		seqs.insert(e.u64("seq"));
	CHECK(seqs.size() == events.size()); // no duplicates
	REQUIRE_FALSE(seqs.empty());
	CHECK(*seqs.begin() == 1);
	CHECK(*seqs.rbegin() == events.size()); // no gaps
}

// Runs execs of /bin/echo with `marker`, 20 a second, until stopped. The thread asserts nothing:
// stop() returns the execs that ran, and failed() those that did not, for the test's own thread.
class Load {
public:
	explicit Load(std::string marker) : marker_(std::move(marker))
	{
		thread_ = std::thread([this] {
			while (!stop_) {
				if (run_marker(marker_))
					count_++;
				else
					failed_++;
				std::this_thread::sleep_for(50ms);
			}
		});
	}
	~Load() { stop(); }
	int stop()
	{
		stop_ = true;
		if (thread_.joinable())
			thread_.join();
		return count_;
	}
	int failed() const { return failed_; }

private:
	std::string marker_;
	std::atomic<bool> stop_{false};
	std::atomic<int> count_{0};
	std::atomic<int> failed_{0};
	std::thread thread_;
};

// Waits until smithd's spool and in-memory queue are empty (everything delivered and committed).
// It asks on the control socket itself: a smithctl run per poll would add its exec events each time,
// and with durability disk those wait up to a second for their commit, so the spool would never be
// seen empty while the test polls faster than that.
void wait_drained(Smithd &d, std::chrono::seconds timeout)
{
	auto deadline = std::chrono::steady_clock::now() + timeout;
	std::string last;
	while (std::chrono::steady_clock::now() < deadline) {
		last = d.status_quiet();
		if (!last.empty()) {
			simdjson::dom::parser p;
			simdjson::dom::element s = p.parse(last);
			if (uint64_t(s["sink"]["spool_records"]) == 0 &&
			    uint64_t(s["sink"]["in_flight"]) == 0 && bool(s["sink"]["connected"]))
				return;
		}
		std::this_thread::sleep_for(500ms);
	}
	FAIL("smithd did not drain its spool and queue in time; last status: " << last);
}

size_t count_marker(const std::vector<Event> &events, const std::string &marker)
{
	size_t n = 0;
	for (const auto &e : events)
		n += is_marker(e, marker);
	return n;
}

std::vector<Event> of_run(const std::vector<Event> &events, const std::string &run_id)
{
	std::vector<Event> out;
	for (const auto &e : events)
		if (e.str("run_id") == run_id)
			out.push_back(e);
	return out;
}

std::string run_id_of(Smithd &d)
{
	auto r = d.ctl({"status", "--json"});
	REQUIRE(r.exit_code == 0);
	simdjson::dom::parser p;
	return std::string(std::string_view(p.parse(r.out)["run_id"]));
}

} // namespace

TEST_CASE("kafka: events and heartbeats reach a real broker, seq contiguous", "[e2e][sink][kafka]")
{
	Broker b;
	TempDir spool;
	const std::string topic = "smith-e2e-" + std::to_string(getpid());
	const std::string heartbeat_topic = topic + "-heartbeat";
	const std::string marker = "smith-kafka-" + std::to_string(getpid());
	Smithd d(sink_daemon_options({"--brokers=" + kBrokers, "--topic=" + topic,
				      "--spool-dir=" + spool.path(), "--heartbeat-interval=1"},
				     false));
	const std::string run_id = run_id_of(d);
	exec_marker(marker);
	wait_drained(d, 60s);
	std::this_thread::sleep_for(1500ms); // one more heartbeat
	auto status = d.ctl({"status", "--json"});
	REQUIRE(d.terminate() == 0);

	auto events = consume(topic);
	REQUIRE(count_marker(events, marker) == 1);
	for (const auto &e : events) {
		if (!is_marker(e, marker))
			continue;
		CHECK(e.keys() == expected_keys("execve"));
		CHECK(e.str("filename") == "/bin/echo");
		CHECK(e.str("exe") == real_path("/bin/echo"));
		CHECK(e.str("cwd") == current_dir());
		CHECK(e.i64("ppid") == getpid());
		CHECK(e.i64("retval") == 0);
		CHECK(e.str("backend") == d.expected_backend());
		CHECK(e.str("host_id") == machine_id());
		CHECK(e.str("run_id") == run_id);
	}
	check_contiguous(events);

	// Heartbeats carry the status object of this run.
	auto r = run_command({SMITH_KAFKA_CONSUME_PATH, "--brokers", kBrokers, "--topic", "smith-heartbeat",
			      "--from-beginning", "--idle-ms", "3000"},
			     60s);
	REQUIRE(r.exit_code == 0);
	size_t beats = 0;
	simdjson::dom::parser p;
	size_t start = 0;
	while (start < r.out.size()) {
		size_t end = r.out.find('\n', start);
		std::string line = r.out.substr(start, end - start);
		start = end == std::string::npos ? r.out.size() : end + 1;
		simdjson::dom::element hb;
		if (line.empty() || p.parse(line).get(hb) != simdjson::SUCCESS)
			continue;
		std::string_view id;
		if (hb["run_id"].get(id) == simdjson::SUCCESS && id == run_id) {
			beats++;
			CHECK(std::string_view(hb["backend"]) == d.expected_backend());
			CHECK(std::string_view(hb["sink"]["type"]) == "kafka");
		}
	}
	CHECK(beats >= 2);
}

TEST_CASE("kafka: a 20 s broker outage under load loses nothing", "[e2e][sink][kafka]")
{
	Broker b;
	TempDir spool;
	const std::string topic = "smith-outage-" + std::to_string(getpid());
	const std::string marker = "smith-outage-" + std::to_string(getpid());
	Smithd d(sink_daemon_options({"--brokers=" + kBrokers, "--topic=" + topic,
				      "--spool-dir=" + spool.path(), "--heartbeat-interval=0"},
				     false));
	const std::string run_id = run_id_of(d);

	Load load(marker);
	std::this_thread::sleep_for(2s);
	b.stop();
	std::this_thread::sleep_for(20s);
	auto during = d.ctl({"status", "--json"});
	b.start();
	int execs = load.stop();
	CHECK(load.failed() == 0);
	wait_drained(d, 120s);
	REQUIRE(d.terminate() == 0);

	INFO("status during the outage: " << during.out);
	simdjson::dom::parser p;
	CHECK_FALSE(bool(p.parse(during.out)["sink"]["connected"]));

	auto events = of_run(consume(topic, 6000ms), run_id);
	CHECK(count_marker(events, marker) == static_cast<size_t>(execs));
	check_contiguous(events);
}

TEST_CASE("kafka: events of a run stopped while the broker is away arrive after a restart",
	  "[e2e][sink][kafka]")
{
	Broker b;
	TempDir spool;
	const std::string topic = "smith-restart-" + std::to_string(getpid());
	const std::string marker_a = "smith-restart-a-" + std::to_string(getpid());
	const std::string marker_b = "smith-restart-b-" + std::to_string(getpid());
	std::vector<std::string> args = {"--brokers=" + kBrokers, "--topic=" + topic,
					 "--spool-dir=" + spool.path(), "--heartbeat-interval=0"};
	std::string run_a, run_b;
	int execs_a = 0, execs_b = 0;
	{
		Smithd d(sink_daemon_options(args, false));
		run_a = run_id_of(d);
		// Its first events acknowledged first: one in flight as the broker goes is sent again by
		// the next run (at least once), and this test counts copies.
		wait_drained(d, 60s);
		b.stop();
		for (; execs_a < 20; execs_a++)
			exec_marker(marker_a);
		std::this_thread::sleep_for(1s);
		REQUIRE(d.terminate() == 0); // the queue goes to the spool
	}
	{
		Smithd d(sink_daemon_options(args, false));
		run_b = run_id_of(d);
		for (; execs_b < 20; execs_b++)
			exec_marker(marker_b);
		b.start();
		wait_drained(d, 120s);
		REQUIRE(d.terminate() == 0);
	}
	auto events = consume(topic, 6000ms);
	auto a = of_run(events, run_a);
	auto bb = of_run(events, run_b);
	CHECK(count_marker(a, marker_a) == static_cast<size_t>(execs_a));
	CHECK(count_marker(bb, marker_b) == static_cast<size_t>(execs_b));
	check_contiguous(a);
	check_contiguous(bb);
}

// The spool's disk fills up while the broker is away: events wait in memory, 64 MiB at most (past it
// they are dropped and counted, and smithd's memory stays bounded), and what waited is written, in
// order, once there is room.
TEST_CASE("kafka: a full spool disk while the broker is away bounds memory, counts drops, keeps order",
	  "[e2e][sink][kafka]")
{
	Broker b;
	// Room for what may wait in memory once the filler goes; none until then.
	SmallTmpfs fs("160m");
	const std::string spool = fs.file("spool");
	const std::string topic = "smith-fullspool-" + std::to_string(getpid());
	const std::string marker = "smith-fullspool-" + std::to_string(getpid());
	Smithd d(sink_daemon_options({"--brokers=" + kBrokers, "--topic=" + topic, "--spool-dir=" + spool,
				      "--heartbeat-interval=0", "--connect-budget-rate=0"},
				     false));
	const std::string run = run_id_of(d);
	auto status = [&] {
		simdjson::dom::parser p;
		const simdjson::dom::element st = p.parse(d.ctl({"status", "--json"}).out);
		return std::array<uint64_t, 3>{uint64_t(st["rss_bytes"]),
					       uint64_t(st["sink"]["spool_dropped"]),
					       uint64_t(st["last_seq"])};
	};
	b.stop();
	REQUIRE(fill_file_system(fs.file("filler")));
	const uint64_t rss_before = status()[0];
	constexpr int kMarkers = 40;
	for (int i = 0; i < kMarkers; ++i)
		exec_marker(marker);
	// About 200 000 UDP connects in paced bursts: far more than 64 MiB of events to hold.
	const pid_t flooder = spawn([] {
		const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		sockaddr_in to{};
		to.sin_family = AF_INET;
		to.sin_port = htons(9);
		to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		for (int burst = 0; burst < 20; ++burst) {
			for (int i = 0; i < 10000; ++i)
				connect(s, reinterpret_cast<const sockaddr *>(&to), sizeof(to));
			usleep(30000);
		}
		_exit(0);
	});
	REQUIRE(wait_exit(flooder) == 0);
	std::this_thread::sleep_for(3s);
	CHECK(d.log().find("cannot write spool segment in " + spool + ": No space left on device") !=
	      std::string::npos);
	const auto full = status();
	INFO("rss " << rss_before << " before, " << full[0] << " with the disk full; " << full[1]
		    << " events dropped by the memory bound, last seq " << full[2]);
	CHECK(full[1] > 0);
	CHECK(full[0] < rss_before + (64u << 20) + (48u << 20));

	REQUIRE(unlink(fs.file("filler").c_str()) == 0);
	b.start();
	wait_drained(d, 240s);
	const auto drained = status();
	CHECK(drained[1] >= full[1]); // other processes' events too, until the filler went
	REQUIRE(d.terminate() == 0);
	const auto events = of_run(consume(topic, 10000ms), run);
	CHECK(count_marker(events, marker) == kMarkers);
	// In seq order, each once; the seqs missing are exactly those the bound dropped.
	uint64_t last = 0, delivered = 0;
	for (const auto &e : events) {
		const uint64_t seq = e.u64("seq");
		CHECK(seq > last);
		last = seq;
		delivered += seq <= drained[2];
	}
	CHECK(delivered + drained[1] == drained[2]);
	CHECK(events.back().type() == "run_end");
}

// Someone runs `smithd -f` beside the service: it must stop before it opens the spool, whose segments
// and state are the running daemon's.
TEST_CASE("kafka: a second smithd on the same spool directory exits 1, and the first's spool is intact",
	  "[e2e][sink][kafka]")
{
	Broker b;
	TempDir spool, other;
	const std::string topic = "smith-second-" + std::to_string(getpid());
	const std::string marker = "smith-second-" + std::to_string(getpid());
	const std::vector<std::string> args = {"--brokers=" + kBrokers, "--topic=" + topic,
					       "--spool-dir=" + spool.path(), "--heartbeat-interval=0"};
	// A run stopped while the broker is away leaves its events in the spool, for the next run.
	std::string run_a;
	int execs = 0;
	{
		Smithd a(sink_daemon_options(args, false));
		run_a = run_id_of(a);
		wait_drained(a, 60s); // as in the test above: nothing in flight as the broker goes
		b.stop();
		for (; execs < 20; execs++)
			exec_marker(marker);
		std::this_thread::sleep_for(1s);
		REQUIRE(a.terminate() == 0);
	}
	Smithd d(sink_daemon_options(args, false));
	const std::string run = run_id_of(d);
	auto listing = [&] {
		std::map<std::string, uintmax_t> files;
		for (const auto &entry : std::filesystem::directory_iterator(spool.path()))
			files[entry.path().filename()] = entry.file_size();
		return files;
	};
	const auto before = listing();
	REQUIRE(before.size() >= 2); // the lock and the earlier run's segment

	std::vector<std::string> argv = {smithd_path(),
					 "--foreground",
					 "--config=/dev/null",
					 "--backend=" + d.options().backend,
					 "--sink=kafka",
					 "--pid-file=" + other.file("smithd.pid"),
					 "--socket=" + other.file("smithd.sock"),
					 "--state-file=" + other.file("smithd.state")};
	argv.insert(argv.end(), args.begin(), args.end());
	const CommandResult second = run_command(argv, 60s);
	INFO(second.err);
	CHECK(second.exit_code == 1);
	CHECK(second.err == "smithd: another smithd is running (pid " + std::to_string(d.pid()) +
				    "): it holds the spool directory " + spool.path() +
				    "/lock; stop it first\n");
	// The running daemon only appends while the broker is away (other processes' events too).
	const auto after = listing();
	for (const auto &[name, size] : before) {
		INFO(name);
		CHECK(after.count(name) == 1);
		CHECK((after.count(name) == 0 || after.at(name) >= size));
	}
	CHECK(access(other.file("smithd.sock").c_str(), F_OK) != 0);

	b.start();
	wait_drained(d, 120s);
	REQUIRE(d.terminate() == 0);
	const auto events = consume(topic, 6000ms);
	CHECK(count_marker(of_run(events, run_a), marker) == static_cast<size_t>(execs));
	check_contiguous(of_run(events, run_a));
	check_contiguous(of_run(events, run));
}

// An event larger than the topic takes (a long argv) is refused by the broker for good: it goes to the
// dead-letter file, and the events after it are delivered, in order.
TEST_CASE("kafka: an event the topic refuses goes to the dead-letter file and the events after it arrive",
	  "[e2e][sink][kafka]")
{
	Broker b;
	TempDir spool;
	const std::string topic = "smith-poison-" + std::to_string(getpid());
	const CommandResult created = run_command(
		{"/bin/bash", SMITH_LOCAL_BROKER, "topics", "--create", "--topic", topic, "--partitions", "1",
		 "--replication-factor", "1", "--config", "max.message.bytes=4096"},
		120s);
	INFO(created.out << created.err);
	REQUIRE(created.exit_code == 0);

	Smithd d(sink_daemon_options({"--brokers=" + kBrokers, "--topic=" + topic,
				      "--spool-dir=" + spool.path(), "--heartbeat-interval=0"},
				     false));
	const std::string run = run_id_of(d);
	const std::string marker = "smith-poison-" + std::to_string(getpid());
	for (int i = 0; i < 5; ++i)
		exec_marker(marker);
	// Delivered first, so that the oversized event goes in a batch of its own, as far as we can: the
	// broker refuses a batch as a whole.
	wait_drained(d, 120s);
	// 16 KB of hex digits: lz4 cannot squeeze it under the topic's 4 KB.
	std::vector<std::string> argv = {"/bin/echo", "smith-poison-big"};
	std::srand(unsigned(getpid()));
	for (int i = 0; i < 32; ++i) {
		std::string arg;
		for (int j = 0; j < 500; ++j)
			arg.push_back("0123456789abcdef"[std::rand() % 16]);
		argv.push_back(arg);
	}
	const pid_t big = spawn([&] {
		std::vector<char *> c = c_strings(argv);
		execv("/bin/echo", c.data());
	});
	REQUIRE(wait_exit(big) == 0);
	std::this_thread::sleep_for(500ms);
	constexpr int kAfter = 20;
	for (int i = 0; i < kAfter; ++i)
		exec_marker(marker);
	wait_drained(d, 120s);
	simdjson::dom::parser p;
	const simdjson::dom::element st = p.parse(d.ctl({"status", "--json"}).out);
	const uint64_t dead = uint64_t(st["sink"]["dead_lettered"]);
	CHECK(dead >= 1);
	REQUIRE(d.terminate() == 0);

	// The dead-letter file: why, and the whole event.
	std::set<uint64_t> dead_seqs;
	bool big_kept = false;
	{
		std::istringstream lines(read_file(spool.file("dead-letter.jsonl")));
		size_t n = 0;
		for (std::string line; std::getline(lines, line); ++n) {
			simdjson::dom::parser lp;
			const simdjson::dom::element dl = lp.parse(line);
			CHECK(std::string_view(dl["error"]) == "Broker: Message size too large");
			CHECK(int64_t(dl["code"]) == 10);
			CHECK(std::string_view(dl["topic"]) == topic);
			const simdjson::dom::element e = dl["event"];
			CHECK(std::string_view(e["run_id"]) == run);
			dead_seqs.insert(uint64_t(e["seq"]));
			if (std::string_view(e["type"]) == "execve" && int64_t(e["pid"]) == big) {
				big_kept = true;
				CHECK(std::string_view(e["argv"].at(1)) == "smith-poison-big");
				CHECK(std::string_view(e["argv"].at(2)) == argv[2]);
			}
		}
		CHECK(n == dead);
	}
	CHECK(big_kept);

	// The topic: every other event of the run, each once: the seqs 1..last without the dead ones.
	const auto events = of_run(consume(topic, 6000ms), run);
	CHECK(count_marker(events, marker) == 5 + kAfter);
	std::set<uint64_t> seqs;
	for (const auto &e : events) {
		CHECK(dead_seqs.count(e.u64("seq")) == 0);
		seqs.insert(e.u64("seq"));
	}
	CHECK(seqs.size() == events.size());
	REQUIRE_FALSE(seqs.empty());
	CHECK(seqs.size() + dead_seqs.size() == *seqs.rbegin());
	CHECK(events.back().type() == "run_end");
}

namespace {

// Execs of /bin/echo <prefix>-<n>, 20 a second, each with the steady times it was started and finished
// at. The thread asserts nothing.
class TimedLoad {
public:
	explicit TimedLoad(std::string prefix) : prefix_(std::move(prefix))
	{
		thread_ = std::thread([this] {
			for (int n = 0; !stop_; ++n) {
				const std::string marker = prefix_ + "-" + std::to_string(n);
				const auto started = std::chrono::steady_clock::now();
				const bool ok = run_marker(marker);
				std::lock_guard lock(mutex_);
				if (ok)
					done_.push_back({marker, started, std::chrono::steady_clock::now()});
				std::this_thread::sleep_for(50ms);
			}
		});
	}
	~TimedLoad() { stop(); }
	void stop()
	{
		stop_ = true;
		if (thread_.joinable())
			thread_.join();
	}
	// The markers started and finished within [from, to].
	std::vector<std::string> between(std::chrono::steady_clock::time_point from,
					 std::chrono::steady_clock::time_point to)
	{
		std::lock_guard lock(mutex_);
		std::vector<std::string> out;
		for (const Done &d : done_)
			if (d.started >= from && d.finished <= to)
				out.push_back(d.marker);
		return out;
	}

private:
	std::string prefix_;
	std::atomic<bool> stop_{false};
	std::mutex mutex_;
	struct Done {
		std::string marker;
		std::chrono::steady_clock::time_point started, finished;
	};
	std::vector<Done> done_;
	std::thread thread_;
};

} // namespace

// Crash-safe delivery (durability: disk, the default): every event is in the spool's journal before
// librdkafka has it, and in the kernel's ring until then (the ring pinned in bpffs), so a SIGKILL at any
// moment loses nothing the kernel produced while a smithd ran, whether the broker is up or away: each
// exec made between a run's start and its kill is on the topic, from that run or the next.
TEST_CASE("kafka: smithd killed with SIGKILL five times under load, broker up then away, loses nothing",
	  "[e2e][sink][kafka]")
{
	Broker b;
	TempDir spool;
	PinDir pins; // every run's, so that the next reads what a killed one left in its ring
	const std::string topic = "smith-crash-" + std::to_string(getpid());
	const std::string prefix = "smith-crash-" + std::to_string(getpid());
	const std::vector<std::string> args = {"--brokers=" + kBrokers, "--topic=" + topic,
					       "--spool-dir=" + spool.path(), "--heartbeat-interval=0"};
	using Clock = std::chrono::steady_clock;
	struct Run {
		std::string id;
		Clock::time_point ready, end;
		bool killed;
	};
	std::vector<Run> runs;
	TimedLoad load(prefix);
	for (int i = 0; i < 6; ++i) {
		const bool last = i == 5;
		if (i == 3)
			b.stop(); // runs 4 and 5 are killed while the broker is away
		if (last)
			b.start();
		SmithdOptions o = sink_daemon_options(args, false);
		o.bpf_pin_dir = pins.path();
		Smithd d(o);
		Run r{run_id_of(d), Clock::now(), {}, !last};
		if (last) {
			std::this_thread::sleep_for(3s);
			r.end = Clock::now();
			// The markers checked end here. Under a steady load the journal always holds
			// the last second's events (committed once a second), so smithd is drained
			// only once the load stops.
			load.stop();
			wait_drained(d, 180s);
			REQUIRE(d.terminate() == 0);
		} else {
			// Stalled, then killed (an OOM kill of a smithd that stopped reading): what the
			// kernel produced meanwhile is in its ring, for the next run.
			std::this_thread::sleep_for(2500ms);
			REQUIRE(kill(d.pid(), SIGSTOP) == 0);
			std::this_thread::sleep_for(500ms);
			r.end = Clock::now();
			REQUIRE(kill(d.pid(), SIGKILL) == 0);
			int code = 0;
			for (int k = 0; k < 100 && !d.exited(&code); ++k)
				std::this_thread::sleep_for(50ms);
			REQUIRE(code == 128 + SIGKILL);
		}
		runs.push_back(r);
	}
	load.stop();

	const auto events = consume(topic, 8000ms);
	size_t expected_total = 0;
	for (size_t i = 0; i < runs.size(); ++i) {
		const Run &r = runs[i];
		INFO("run " << i + 1 << (r.killed ? " (killed)" : " (stopped)") << " " << r.id);
		// Each seq once, but for resends across the crash; none missing from 1 to the highest.
		std::map<uint64_t, std::string> by_seq;
		size_t copies = 0;
		for (const auto &e : of_run(events, r.id)) {
			++copies;
			const auto [it, fresh] = by_seq.emplace(e.u64("seq"), e.line());
			if (!fresh)
				CHECK(it->second == e.line()); // a resend is the same event
		}
		REQUIRE_FALSE(by_seq.empty());
		CHECK(by_seq.begin()->first == 1);
		CHECK(by_seq.rbegin()->first == by_seq.size());
		CHECK(by_seq.begin()->second.find("\"type\":\"run_start\"") != std::string::npos);
		if (!r.killed) {
			CHECK(copies == by_seq.size());
			CHECK(by_seq.rbegin()->second.find("\"type\":\"run_end\"") != std::string::npos);
		}
		// Every marker made while this run read, from its start to its kill: on the topic once in
		// some run (this one or, what it had not made safe, the next), and never twice in one run.
		const auto wanted = load.between(r.ready, r.end);
		CHECK(wanted.size() >= 10);
		expected_total += wanted.size();
		size_t missing = 0;
		for (const auto &m : wanted) {
			std::map<std::string, std::set<uint64_t>> seqs_by_run;
			for (const auto &e : events)
				if (is_marker(e, m))
					seqs_by_run[e.str("run_id")].insert(e.u64("seq"));
			if (seqs_by_run.empty()) {
				++missing;
				UNSCOPED_INFO("missing " << m);
			}
			for (const auto &[run, seqs] : seqs_by_run) {
				INFO(m << " in run " << run);
				CHECK(seqs.size() == 1);
			}
		}
		CHECK(missing == 0);
	}
	std::cout << "e2e: kafka crash test: " << runs.size() << " runs, " << expected_total
		  << " marker execs checked, " << events.size() << " messages on the topic" << std::endl;
}

namespace {

// The heartbeats of `run_id` on the heartbeat topic, in order, as JSON objects (minified text).
// The read stops after `idle_ms` without a message, so while a daemon beats every second only an
// idle time under a second ends it.
std::vector<std::string> heartbeats_of(const std::string &run_id, int idle_ms = 3000)
{
	auto r = run_command({SMITH_KAFKA_CONSUME_PATH, "--brokers", kBrokers, "--topic", "smith-heartbeat",
			      "--from-beginning", "--idle-ms", std::to_string(idle_ms)},
			     60s);
	REQUIRE(r.exit_code == 0);
	std::vector<std::string> out;
	simdjson::dom::parser p;
	std::istringstream lines(r.out);
	for (std::string line; std::getline(lines, line);) {
		simdjson::dom::element hb;
		std::string_view id;
		if (!line.empty() && p.parse(line).get(hb) == simdjson::SUCCESS &&
		    hb["run_id"].get(id) == simdjson::SUCCESS && id == run_id)
			out.push_back(line);
	}
	return out;
}

struct Beat {
	bool stopping = false;
	std::string previous_run_id;
	bool previous_clean = true;
};

Beat beat_of(const std::string &json)
{
	simdjson::dom::parser p;
	simdjson::dom::element hb = p.parse(json);
	Beat b;
	b.stopping = bool(hb["stopping"]);
	b.previous_run_id = std::string(std::string_view(hb["previous_run"]["run_id"]));
	b.previous_clean = bool(hb["previous_run"]["clean_stop"]);
	return b;
}

// Waits until `run_id` has a heartbeat in Kafka: a daemon killed before its first heartbeat was
// delivered leaves nothing to check, however long it ran.
void await_heartbeat(const std::string &run_id)
{
	const auto deadline = std::chrono::steady_clock::now() + 90s;
	while (heartbeats_of(run_id, 700).empty()) {
		REQUIRE(std::chrono::steady_clock::now() < deadline);
		std::this_thread::sleep_for(500ms);
	}
}

} // namespace

// Tamper evidence: a consumer reading only Kafka learns how each run ended.
TEST_CASE(
	"kafka: a clean stop's last heartbeat says so, and the start after a SIGKILL names the run that died",
	"[e2e][sink][kafka]")
{
	Broker b;
	TempDir spool, state;
	const std::string topic = "smith-tamper-" + std::to_string(getpid());
	SmithdOptions o = sink_daemon_options({"--brokers=" + kBrokers, "--topic=" + topic,
					       "--spool-dir=" + spool.path(), "--heartbeat-interval=1"},
					      false);
	o.state_file = state.file("smithd.state");

	std::string run_a, run_b, run_c;
	{
		Smithd a(o);
		run_a = run_id_of(a);
		await_heartbeat(run_a);
		REQUIRE(a.terminate() == 0);
	}
	{
		Smithd killed(o);
		run_b = run_id_of(killed);
		await_heartbeat(run_b);
		REQUIRE(kill(killed.pid(), SIGKILL) == 0);
		int code = 0;
		for (int i = 0; i < 100 && !killed.exited(&code); ++i)
			std::this_thread::sleep_for(50ms);
		REQUIRE(code == 128 + SIGKILL);
	}
	{
		Smithd c(o);
		run_c = run_id_of(c);
		CommandResult table = c.ctl({"status"});
		INFO(table.out);
		CHECK(table.out.find("previous run") != std::string::npos);
		CHECK(table.out.find(run_b + " (ended without a clean stop)") != std::string::npos);
		await_heartbeat(run_c);
		REQUIRE(c.terminate() == 0);
	}

	const auto beats_a = heartbeats_of(run_a), beats_b = heartbeats_of(run_b),
		   beats_c = heartbeats_of(run_c);
	INFO("a: " << beats_a.size() << " heartbeats, b: " << beats_b.size() << ", c: " << beats_c.size());
	REQUIRE(beats_a.size() >= 2);
	REQUIRE(beats_b.size() >= 1);
	REQUIRE(beats_c.size() >= 2);
	// a: nothing recorded before it; its last heartbeat is the stop.
	CHECK(beat_of(beats_a.front()).previous_run_id == "");
	CHECK(beat_of(beats_a.back()).stopping == true);
	for (size_t i = 0; i + 1 < beats_a.size(); ++i)
		CHECK(beat_of(beats_a[i]).stopping == false);
	// b: a stopped cleanly; b itself never said it was stopping.
	CHECK(beat_of(beats_b.front()).previous_run_id == run_a);
	CHECK(beat_of(beats_b.front()).previous_clean == true);
	for (const auto &json : beats_b)
		CHECK(beat_of(json).stopping == false);
	// c: its first heartbeat names b, which ended without a clean stop.
	const Beat first_c = beat_of(beats_c.front());
	CHECK(first_c.previous_run_id == run_b);
	CHECK(first_c.previous_clean == false);
	CHECK(beat_of(beats_c.back()).stopping == true);
}
