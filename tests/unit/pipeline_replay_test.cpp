// The daemon's pipeline above the kernel: replay backend -> normalizer -> file
// sink, with the status counters, without root.
#include <catch2/catch.hpp>
#include <simdjson.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backend/replay_backend.h"
#include "daemon/pipeline.h"
#include "event/normalizer.h"
#include "json_check.h"
#include "record_builder.h"
#include "sink/file_sink.h"

namespace {

using namespace smith;

struct TempFiles {
	std::filesystem::path dir;
	TempFiles()
	{
		char tmpl[] = "/tmp/smith-pipeline-XXXXXX";
		dir = mkdtemp(tmpl);
	}
	~TempFiles() { std::filesystem::remove_all(dir); }
	std::string operator/(const char *name) const { return (dir / name).string(); }
};

std::vector<std::string> read_lines(const std::string &path)
{
	std::ifstream in(path);
	std::vector<std::string> lines;
	for (std::string l; std::getline(in, l);)
		lines.push_back(l + "\n");
	return lines;
}

std::span<const std::byte> bytes(const std::vector<std::byte> &v)
{
	return {v.data(), v.size()};
}

constexpr int64_t kBootToEpoch = 1'700'000'000'000'000'000;

void write_replay(const std::string &path)
{
	backend::ReplayWriter w(path, kBootToEpoch);
	test::ExecSpec exec;
	exec.argv = {"/bin/echo", "one"};
	w.write(bytes(test::build_execve(exec)));

	test::ConnectSpec conn;
	conn.hdr.ts = 200;
	conn.inet.family = 2;
	conn.inet.protocol = 17;
	conn.inet.dport = 53;
	conn.inet.sport = 40000;
	const uint8_t d[4] = {10, 0, 0, 1}, s[4] = {10, 0, 0, 2};
	std::memcpy(conn.inet.daddr, d, 4);
	std::memcpy(conn.inet.saddr, s, 4);
	w.write(bytes(test::build_connect(conn)));

	test::ExecSpec bad; // a record from a producer speaking another ABI: skipped and counted
	bad.hdr.abi = SMITH_ABI_VERSION + 1;
	w.write(bytes(test::build_execve(bad)));

	test::ModuleSpec mod;
	mod.hdr.type = SMITH_REC_FINIT_MODULE;
	mod.name = "";
	mod.path = "/lib/modules/6.1/kernel/drivers/net/dummy.ko.xz";
	w.write(bytes(test::build_module(mod)));
}

} // namespace

TEST_CASE("pipeline: replayed records become contiguous events in the file sink", "[unit][pipeline]")
{
	TempFiles tmp;
	write_replay(tmp / "in.raw");

	backend::ReplayBackend replay(tmp / "in.raw");
	replay.start();
	REQUIRE(replay.boot_to_epoch_ns() == kBootToEpoch);
	event::HostInfo host = event::detect_host_info(replay.event_backend());
	host.boot_to_epoch_ns = replay.boot_to_epoch_ns();
	event::Normalizer normalizer(host);
	sink::FileSink sink(tmp / "out.json");
	daemon::Pipeline pipeline(replay, normalizer, sink, {"replay test", "test-kernel"});
	std::atomic<bool> stop{false}, reopen{false};
	pipeline.run(stop, reopen);

	auto lines = read_lines(tmp / "out.json");
	REQUIRE(lines.size() == 3);
	test::ParsedLine exec(lines[0]), conn(lines[1]), mod(lines[2]);
	CHECK(exec.keys() == test::kExecKeys);
	CHECK(conn.keys() == test::kConnectKeys);
	CHECK(mod.keys() == test::kModuleKeys);
	CHECK(exec.u64("seq") == 1);
	CHECK(conn.u64("seq") == 2);
	CHECK(mod.u64("seq") == 3);
	CHECK(exec.u64("ts") == static_cast<uint64_t>(kBootToEpoch + 123456789));
	CHECK(conn.u64("ts") == static_cast<uint64_t>(kBootToEpoch + 200));
	CHECK(exec.str("backend") == "ebpf");
	CHECK(exec.str("run_id") == host.run_id);
	CHECK(conn.str("daddr") == "10.0.0.1");
	CHECK(conn.str("saddr") == "10.0.0.2");
	CHECK(conn.u64("sport") == 40000);
	CHECK(mod.str("type") == "finit_module");
	CHECK(mod.str("module") == "dummy");

	simdjson::dom::parser p;
	simdjson::dom::element status = p.parse(pipeline.status_json());
	CHECK(uint64_t(status["last_seq"]) == 3);
	CHECK(uint64_t(status["decode_errors"]) == 1);
	CHECK(uint64_t(status["events"]["received"]["execve"]) == 1);
	CHECK(uint64_t(status["events"]["sent"]["connect"]) == 1);
	CHECK(uint64_t(status["events"]["sent"]["finit_module"]) == 1);
	CHECK(std::string_view(status["backend"]) == "replay");
	CHECK(std::string_view(status["sink"]["type"]) == "file");
	CHECK(uint64_t(status["sink"]["written"]) == 3);
}

TEST_CASE("pipeline: the recorder writes records that replay to the same events", "[unit][pipeline]")
{
	TempFiles tmp;
	write_replay(tmp / "in.raw");

	auto run = [&](const std::string &in, const std::string &out, backend::ReplayWriter *rec) {
		backend::ReplayBackend replay(in);
		replay.start();
		event::HostInfo host = event::detect_host_info("ebpf");
		host.run_id = "fixed";
		host.boot_to_epoch_ns = replay.boot_to_epoch_ns();
		event::Normalizer normalizer(host);
		sink::FileSink sink(out);
		daemon::Pipeline pipeline(replay, normalizer, sink, {"", ""}, rec);
		std::atomic<bool> stop{false}, reopen{false};
		pipeline.run(stop, reopen);
	};
	{
		backend::ReplayWriter rec(tmp / "again.raw", kBootToEpoch);
		run(tmp / "in.raw", tmp / "first.json", &rec);
	}
	run(tmp / "again.raw", tmp / "second.json", nullptr);
	CHECK(read_lines(tmp / "first.json") == read_lines(tmp / "second.json"));
	CHECK(read_lines(tmp / "second.json").size() == 3);
}

TEST_CASE("replay: a file that is not a replay file is refused with a clear error", "[unit][pipeline]")
{
	TempFiles tmp;
	std::ofstream(tmp / "junk.raw") << "this is not a recording of smith records";
	backend::ReplayBackend replay(tmp / "junk.raw");
	REQUIRE_THROWS_WITH(replay.start(), Catch::Contains("not a smith replay file"));

	backend::ReplayBackend missing(tmp / "missing.raw");
	REQUIRE_THROWS_WITH(missing.start(), Catch::Contains("cannot open replay file"));
}

TEST_CASE("replay: a record cut short by the end of the file ends the replay with an error",
	  "[unit][pipeline]")
{
	TempFiles tmp;
	write_replay(tmp / "in.raw");
	std::filesystem::resize_file(tmp / "in.raw", std::filesystem::file_size(tmp / "in.raw") - 10);
	backend::ReplayBackend replay(tmp / "in.raw");
	replay.start();
	struct Count : backend::RecordHandler {
		int n = 0;
		void on_record(std::span<const std::byte>) override { n++; }
	} count;
	REQUIRE_THROWS_WITH(replay.poll(std::chrono::milliseconds(0), count),
			    Catch::Contains("runs past the end"));
	CHECK(count.n == 3);
}

TEST_CASE("pipeline: suppressed_connects is the sum of the connect_suppressed events' counts",
	  "[unit][pipeline]")
{
	TempFiles tmp;
	{
		backend::ReplayWriter w(tmp / "in.raw", kBootToEpoch);
		for (uint64_t suppressed : std::initializer_list<uint64_t>{3000, 1, 4294967296}) {
			test::SuppressedSpec s;
			s.suppressed = suppressed;
			s.rate = 5000;
			s.burst = 2000;
			w.write(bytes(test::build_connect_suppressed(s)));
			test::ConnectSpec conn; // reported connects count nothing
			conn.inet.family = 2;
			conn.inet.protocol = 6;
			w.write(bytes(test::build_connect(conn)));
		}
	}
	backend::ReplayBackend replay(tmp / "in.raw");
	replay.start();
	event::HostInfo host = event::detect_host_info(replay.event_backend());
	event::Normalizer normalizer(host);
	sink::FileSink sink(tmp / "out.json");
	daemon::Pipeline pipeline(replay, normalizer, sink, {"replay test", "test-kernel"});
	CHECK(pipeline.status().suppressed_connects == 0);
	std::atomic<bool> stop{false}, reopen{false};
	pipeline.run(stop, reopen);

	const control::StatusSnapshot s = pipeline.status();
	CHECK(s.suppressed_connects == 3000u + 1u + 4294967296u);
	CHECK(s.received[control::event_type_index(SMITH_REC_CONNECT_SUPPRESSED)] == 3);
	CHECK(s.received[control::event_type_index(SMITH_REC_CONNECT)] == 3);
	CHECK(s.last_seq == 6);
	// The JSON is the same snapshot.
	simdjson::dom::parser p;
	simdjson::dom::element status = p.parse(pipeline.status_json());
	CHECK(uint64_t(status["suppressed_connects"]) == 3000u + 1u + 4294967296u);
	CHECK(control::status_to_json(s) == pipeline.status_json());
	uint64_t in_file = 0;
	for (const std::string &line : read_lines(tmp / "out.json")) {
		test::ParsedLine e(line);
		if (e.str("type") == "connect_suppressed")
			in_file += e.u64("suppressed");
	}
	CHECK(in_file == s.suppressed_connects);
}
