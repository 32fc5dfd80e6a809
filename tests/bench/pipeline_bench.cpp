// pipeline_bench: decode -> normalize -> serialize, per core, without the kernel.
//
// Feeds smithd's Normalizer with raw records recorded from a real kernel by
// `smithd --record` (default: tests/bench/data/mixed.smithraw, UDP/TCP connects
// and execs with quoted and spaced arguments) and appends each event's JSON line
// to one reused buffer, as the pipeline thread does before the sink. Reports
// events/s and bytes/s per record type, and the heap allocations per event,
// counted by the replacement of the global operator new in tests/unit/alloc_count.cpp: the hot path
// must make none once its caches are warm.
//
//   smith_pipeline_bench [--records FILE] [Google Benchmark flags]
//   smith_pipeline_bench [--records FILE] --dump FILE
//
// --dump writes the JSON lines of three passes over every record (one normalizer, seq going on)
// instead of benchmarking: outputs of two builds compare byte for byte.
#include "../unit/alloc_count.h"
#include "backend/replay_backend.h"
#include "event/normalizer.h"
#include "event/record_decoder.h"
#include "json/json_writer.h"
#include "smith/abi.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace {

using smith::event::Normalizer;

// The recorded records, back to back, and where each starts.
struct Records {
	std::vector<std::byte> bytes;
	std::vector<std::pair<size_t, size_t>> spans; // offset, size
	int64_t boot_to_epoch_ns = 0;
};

class Collector : public smith::backend::RecordHandler {
public:
	Collector(Records &r, int type) : r_(r), type_(type) {}
	void on_record(std::span<const std::byte> record) override
	{
		smith_rec_hdr hdr;
		std::memcpy(&hdr, record.data(), sizeof(hdr));
		if (type_ != 0 && hdr.type != type_)
			return;
		r_.spans.emplace_back(r_.bytes.size(), record.size());
		r_.bytes.insert(r_.bytes.end(), record.begin(), record.end());
	}

private:
	Records &r_;
	int type_;
};

std::string g_records_path = SMITH_BENCH_DEFAULT_RECORDS;
std::string g_dump_path; // --dump: write the events instead of benchmarking

// Records of one type (0: all) from the recording, in recorded order.
Records load(int type)
{
	Records r;
	smith::backend::ReplayBackend replay(g_records_path);
	replay.start();
	Collector c(r, type);
	while (replay.poll(std::chrono::milliseconds(0), c) != smith::backend::PollEnd) {
	}
	r.boot_to_epoch_ns = replay.boot_to_epoch_ns();
	return r;
}

smith::event::HostInfo bench_host(const Records &r)
{
	smith::event::HostInfo host;
	host.hostname = "bench-host";
	host.host_id = "0123456789abcdef0123456789abcdef";
	host.run_id = "fedcba9876543210fedcba9876543210";
	host.backend = "ebpf";
	host.boot_to_epoch_ns = r.boot_to_epoch_ns;
	return host;
}

// decode -> normalize -> serialize for every record, into one reused line buffer.
void BM_Pipeline(benchmark::State &state, int type)
{
	const Records records = load(type);
	if (records.spans.empty()) {
		state.SkipWithError("no records of this type in the recording");
		return;
	}
	Normalizer normalizer(bench_host(records));
	std::string line;
	uint64_t seq = 0, bytes = 0, failed = 0;
	auto run_all = [&] {
		for (auto [off, size] : records.spans) {
			line.clear();
			auto r = normalizer.append_json(std::span(records.bytes.data() + off, size), ++seq,
							line);
			failed += !r.ok;
			bytes += line.size();
		}
	};
	run_all(); // warm: caches filled, buffer grown
	bytes = 0;
	const uint64_t allocs_before = smith::test::heap_allocations();
	for (auto _ : state) {
		run_all();
		benchmark::DoNotOptimize(line.data());
	}
	const uint64_t allocs = smith::test::heap_allocations() - allocs_before;
	const auto events = static_cast<double>(state.iterations() * records.spans.size());
	state.SetItemsProcessed(static_cast<int64_t>(events));
	state.SetBytesProcessed(static_cast<int64_t>(bytes));
	state.counters["events"] = static_cast<double>(records.spans.size());
	state.counters["allocs_per_event"] = static_cast<double>(allocs) / events;
	state.counters["bytes_per_event"] = static_cast<double>(bytes) / events;
	state.counters["failed"] = static_cast<double>(failed);
	state.counters["ns_per_event"] =
		benchmark::Counter(events, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Decoding alone: the raw record's fields and tail strings, without enrichment or JSON.
void BM_Decode(benchmark::State &state)
{
	const Records records = load(0);
	smith::event::DecodedRecord out;
	for (auto _ : state) {
		for (auto [off, size] : records.spans) {
			auto r =
				smith::event::decode_record(std::span(records.bytes.data() + off, size), out);
			benchmark::DoNotOptimize(r);
		}
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.spans.size()));
}

// The JSON of three passes over every record, the later ones with every cache warm.
int dump(const std::string &path)
{
	const Records records = load(0);
	Normalizer normalizer(bench_host(records));
	std::string out;
	uint64_t seq = 0;
	for (int pass = 0; pass < 3; ++pass)
		for (auto [off, size] : records.spans)
			normalizer.append_json(std::span(records.bytes.data() + off, size), ++seq, out);
	FILE *f = std::fopen(path.c_str(), "w");
	if (f == nullptr || std::fwrite(out.data(), 1, out.size(), f) != out.size() || std::fclose(f) != 0) {
		std::fprintf(stderr, "smith_pipeline_bench: cannot write %s\n", path.c_str());
		return 1;
	}
	return 0;
}

// The JSON writer's two inner routines alone, for comparing implementations: one string value
// (escaped and quoted) or one integer value per item, into a reused buffer.
void BM_JsonString(benchmark::State &state, std::string s)
{
	std::string out;
	out.reserve(s.size() * 6 + 64);
	for (auto _ : state) {
		out.clear();
		{
			smith::json::JsonWriter w(out);
			w.begin_array();
			for (int i = 0; i < 16; ++i)
				w.value(std::string_view(s));
			w.end_array();
		}
		benchmark::DoNotOptimize(out.data());
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 16);
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 16 *
				static_cast<int64_t>(s.size()));
}

template <class T> void BM_JsonInteger(benchmark::State &state, T first, T step)
{
	std::string out;
	out.reserve(4096);
	for (auto _ : state) {
		out.clear();
		{
			smith::json::JsonWriter w(out);
			w.begin_array();
			T v = first;
			for (int i = 0; i < 64; ++i, v += step)
				w.value(v);
			w.end_array();
		}
		benchmark::DoNotOptimize(out.data());
	}
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 64);
}

std::string hostile_kb()
{
	std::string s;
	for (int i = 0; s.size() < 1024; ++i)
		s += i % 3 ? "quote\" ab\tc \xC3\xA9\xE2\x82\xAC " : "\xC0\xAF\xED\xA0\x80\x01\x7f ";
	return s;
}

BENCHMARK_CAPTURE(BM_Pipeline, mixed, 0);
BENCHMARK_CAPTURE(BM_Pipeline, connect, SMITH_REC_CONNECT);
BENCHMARK_CAPTURE(BM_Pipeline, execve, SMITH_REC_EXECVE);
BENCHMARK(BM_Decode);
BENCHMARK_CAPTURE(BM_JsonString, path_40B, std::string("/usr/lib/x86_64-linux-gnu/libc.so.6-40b"));
BENCHMARK_CAPTURE(BM_JsonString, arg_7B, std::string("--rate="));
BENCHMARK_CAPTURE(BM_JsonString, ascii_4KB, std::string(4096, 'a'));
BENCHMARK_CAPTURE(BM_JsonString, hostile_1KB, hostile_kb());
BENCHMARK_CAPTURE(BM_JsonInteger, pid, uint64_t{13547}, uint64_t{7});
BENCHMARK_CAPTURE(BM_JsonInteger, ts_ns, uint64_t{1795833903947946796ull}, uint64_t{6334518});
BENCHMARK_CAPTURE(BM_JsonInteger, errno, int64_t{-115}, int64_t{1});

} // namespace

int main(int argc, char **argv)
{
	// --records FILE is ours; everything else goes to Google Benchmark.
	std::vector<char *> rest{argv[0]};
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--records" && i + 1 < argc)
			g_records_path = argv[++i];
		else if (a.rfind("--records=", 0) == 0)
			g_records_path = a.substr(10);
		else if (a == "--dump" && i + 1 < argc)
			g_dump_path = argv[++i];
		else
			rest.push_back(argv[i]);
	}
	int n = static_cast<int>(rest.size());
	benchmark::Initialize(&n, rest.data());
	if (benchmark::ReportUnrecognizedArguments(n, rest.data()))
		return 2;
	try {
		load(0);
		if (!g_dump_path.empty())
			return dump(g_dump_path);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "smith_pipeline_bench: %s\n", e.what());
		return 1;
	}
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
