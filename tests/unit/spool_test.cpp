// The on-disk spool: order across segments and restarts, the bound, and
// recovery from crashes and damage, in a temporary directory.
#include "sink/sink.h"
#include "sink/spool.h"
#include "hostile_strings.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using smith::sink::SinkError;
using smith::sink::Spool;
using smith::sink::SpoolOptions;
using smith::sink::SpoolRecord;
namespace fs = std::filesystem;

class TempDir {
public:
	TempDir()
	{
		char tmpl[] = "/tmp/smith-spool-test-XXXXXX";
		REQUIRE(::mkdtemp(tmpl) != nullptr);
		path_ = tmpl;
	}
	~TempDir() { fs::remove_all(path_); }
	const std::string &path() const { return path_; }
	std::string operator/(const std::string &name) const { return path_ + "/" + name; }

private:
	std::string path_;
};

struct Rec {
	uint64_t offset;
	std::string key;
	std::string value;
};

SpoolOptions options(const TempDir &dir, uint64_t segment_bytes = 16ull << 20,
		     uint64_t max_bytes = 1ull << 30)
{
	SpoolOptions o;
	o.dir = dir.path() + "/spool";
	o.segment_bytes = segment_bytes;
	o.max_bytes = max_bytes;
	return o;
}

std::vector<Rec> read_n(Spool &spool, size_t max)
{
	std::vector<Rec> out;
	size_t n = spool.read(max, [&](const SpoolRecord &r) {
		out.push_back({r.offset, std::string(r.key), std::string(r.value)});
	});
	CHECK(n == out.size());
	return out;
}

std::vector<Rec> read_all(Spool &spool, size_t batch = 7)
{
	std::vector<Rec> out;
	for (;;) {
		auto more = read_n(spool, batch);
		if (more.empty())
			return out;
		out.insert(out.end(), more.begin(), more.end());
	}
}

std::vector<uint64_t> offsets(const std::vector<Rec> &recs)
{
	std::vector<uint64_t> out;
	for (const Rec &r : recs)
		out.push_back(r.offset);
	return out;
}

std::vector<uint64_t> range(uint64_t from, uint64_t to) // [from, to)
{
	std::vector<uint64_t> out;
	for (uint64_t i = from; i < to; i++)
		out.push_back(i);
	return out;
}

std::string value_for(uint64_t i)
{
	return fmt::format("{{\"seq\":{:04},\"event\":\"event-{:04}\"}}\n", i, i);
}

// Segment file names in the spool, sorted.
std::vector<std::string> segment_files(const SpoolOptions &o)
{
	std::vector<std::string> out;
	for (const auto &e : fs::directory_iterator(o.dir)) {
		std::string name = e.path().filename();
		if (name.size() == 24 && name.ends_with(".seg") && e.is_regular_file())
			out.push_back(name);
	}
	std::sort(out.begin(), out.end());
	return out;
}

std::string slurp(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string &path, const std::string &data)
{
	std::ofstream out(path, std::ios::binary | std::ios::trunc);
	out << data;
}

// Rewrites the segment that holds `needle`, letting `edit` change its bytes
// given the needle's position. Returns false if no segment holds it.
template <typename Edit> bool edit_segment_at(const SpoolOptions &o, const std::string &needle, Edit edit)
{
	for (const std::string &name : segment_files(o)) {
		std::string path = o.dir + "/" + name;
		std::string data = slurp(path);
		size_t at = data.find(needle);
		if (at == std::string::npos)
			continue;
		edit(data, at);
		spit(path, data);
		return true;
	}
	return false;
}

constexpr size_t kHeader = 24; // frame header bytes before the key

} // namespace

TEST_CASE("spool: CRC-32C of the standard check string", "[unit][spool]")
{
	CHECK(smith::sink::spool::crc32c(0, "123456789", 9) == 0xE3069283u);
	uint32_t part = smith::sink::spool::crc32c(0, "1234", 4);
	CHECK(smith::sink::spool::crc32c(part, "56789", 5) == 0xE3069283u);
}

TEST_CASE("spool: append, read and commit in order across segments", "[unit][spool]")
{
	TempDir dir;
	SpoolOptions o = options(dir, 256);
	Spool spool(o);
	CHECK(spool.empty());
	CHECK(read_n(spool, 10).empty());

	for (uint64_t i = 0; i < 50; i++)
		REQUIRE(spool.append("host-1", value_for(i)));
	spool.flush();
	CHECK(spool.records() == 50);
	CHECK_FALSE(spool.empty());

	auto files = segment_files(o);
	REQUIRE(files.size() > 3);
	CHECK(files.front() == "00000000000000000000.seg");
	uint64_t on_disk = 0;
	for (const auto &f : files)
		on_disk += fs::file_size(o.dir + "/" + f);
	CHECK(spool.bytes() == on_disk);

	auto recs = read_all(spool);
	REQUIRE(offsets(recs) == range(0, 50));
	for (const Rec &r : recs) {
		CHECK(r.key == "host-1");
		CHECK(r.value == value_for(r.offset));
	}
	CHECK(read_n(spool, 10).empty()); // read, not removed, but not read twice
	CHECK(spool.records() == 50);

	uint64_t before = spool.bytes();
	spool.commit(24);
	CHECK(spool.records() == 25);
	CHECK(spool.bytes() < before);
	auto left = segment_files(o);
	CHECK(left.size() < files.size());
	// The oldest file left is named by its first offset, which is at most 25.
	CHECK(std::stoull(left.front().substr(0, 20)) <= 25);
	CHECK(std::stoull(left.front().substr(0, 20)) > 0);

	spool.commit(10); // behind the committed position: ignored
	CHECK(spool.records() == 25);

	spool.commit(49);
	CHECK(spool.empty());
	CHECK(spool.records() == 0);
	CHECK(spool.bytes() == 0);
	CHECK(segment_files(o).empty());

	// Offsets go on after everything was delivered.
	REQUIRE(spool.append("host-1", "after"));
	spool.flush();
	CHECK(segment_files(o) == std::vector<std::string>{"00000000000000000050.seg"});
	auto next = read_all(spool);
	REQUIRE(next.size() == 1);
	CHECK(next[0].offset == 50);
	CHECK(next[0].value == "after");
	CHECK(spool.corrupt() == 0);
	CHECK(spool.dropped() == 0);
}

TEST_CASE("spool: a restart resumes at the committed position", "[unit][spool]")
{
	TempDir dir;
	SpoolOptions o = options(dir, 300);
	{
		Spool spool(o);
		for (uint64_t i = 0; i < 30; i++)
			REQUIRE(spool.append("k", value_for(i)));
		auto first = read_n(spool, 10);
		REQUIRE(offsets(first) == range(0, 10));
		spool.commit(9);
		CHECK(offsets(read_n(spool, 5)) == range(10, 15)); // read, never committed
		for (uint64_t i = 30; i < 33; i++)
			REQUIRE(spool.append("k", value_for(i))); // not flushed: the destructor does
	}
	{
		Spool spool(o);
		CHECK(spool.records() == 23);
		auto recs = read_all(spool);
		REQUIRE(offsets(recs) == range(10, 33));
		for (const Rec &r : recs)
			CHECK(r.value == value_for(r.offset));
		REQUIRE(spool.append("k", value_for(33)));
		auto more = read_all(spool);
		REQUIRE(more.size() == 1);
		CHECK(more[0].offset == 33);
		spool.commit(20);
	}
	{
		Spool spool(o);
		CHECK(offsets(read_all(spool)) == range(21, 34));
		spool.commit(33);
	}
	{
		// Everything delivered and the segments gone: offsets still go on.
		Spool spool(o);
		CHECK(spool.empty());
		CHECK(segment_files(o).empty());
		REQUIRE(spool.append("k", "later"));
		auto recs = read_all(spool);
		REQUIRE(recs.size() == 1);
		CHECK(recs[0].offset == 34);
	}
}

TEST_CASE("spool: rewind goes back to the committed position", "[unit][spool]")
{
	TempDir dir;
	Spool spool(options(dir, 200));
	for (uint64_t i = 0; i < 20; i++)
		REQUIRE(spool.append("k", value_for(i)));

	CHECK(offsets(read_n(spool, 8)) == range(0, 8));
	spool.rewind();
	CHECK(offsets(read_n(spool, 3)) == range(0, 3));
	spool.commit(4);
	CHECK(offsets(read_n(spool, 3)) == range(5, 8)); // committed ones are not read again
	spool.rewind();
	CHECK(offsets(read_n(spool, 2)) == range(5, 7));
	auto rest = read_all(spool);
	CHECK(offsets(rest) == range(7, 20));
	spool.rewind();
	CHECK(offsets(read_all(spool)) == range(5, 20));
}

TEST_CASE("spool: appends past max_bytes are refused and counted", "[unit][spool]")
{
	TempDir dir;
	const std::string value(100, 'v'); // frame: 24 + 4 + 100 = 128 bytes
	SpoolOptions o = options(dir, 1024, 4096);
	Spool spool(o);

	uint64_t accepted = 0;
	while (spool.append("key0", value))
		accepted++;
	CHECK(accepted == 32);
	CHECK(spool.dropped() == 1);
	for (int i = 0; i < 5; i++)
		CHECK_FALSE(spool.append("key0", value));
	CHECK(spool.dropped() == 6);
	CHECK(spool.bytes() <= 4096);
	CHECK(spool.records() == 32);
	spool.flush();
	CHECK(segment_files(o).size() == 4); // 8 frames of 128 bytes per 1024-byte segment

	// Delivering the two oldest segments makes room for 16 more records.
	CHECK(read_all(spool).size() == 32);
	spool.commit(15);
	CHECK(spool.bytes() == 2048);
	for (int i = 0; i < 16; i++)
		CHECK(spool.append("key0", value));
	CHECK_FALSE(spool.append("key0", value));
	CHECK(spool.dropped() == 7);

	spool.commit(47);
	CHECK(spool.bytes() == 0);
	CHECK(spool.append("key0", value));
	CHECK(spool.dropped() == 7);

	// A record larger than the whole bound is refused too.
	CHECK_FALSE(spool.append("key0", std::string(5000, 'x')));
	CHECK(spool.dropped() == 8);
	CHECK(spool.corrupt() == 0);
}

TEST_CASE("spool: a crash mid-write loses only the partial record", "[unit][spool]")
{
	TempDir dir;
	SpoolOptions o = options(dir);
	{
		Spool spool(o);
		for (uint64_t i = 0; i < 10; i++)
			REQUIRE(spool.append("key", value_for(i)));
		spool.read(3, [](const SpoolRecord &) {});
		spool.commit(2);
	}
	auto files = segment_files(o);
	REQUIRE(files.size() == 1);
	std::string path = o.dir + "/" + files[0];
	uint64_t size = fs::file_size(path);
	uint64_t last_frame = kHeader + 3 + value_for(9).size();

	SECTION("a few bytes short")
	{
		fs::resize_file(path, size - 3);
	}
	SECTION("only part of the header written")
	{
		fs::resize_file(path, size - last_frame + 10);
	}
	SECTION("the header written, nothing after it")
	{
		fs::resize_file(path, size - last_frame + kHeader);
	}
	SECTION("zeroes where the record should be")
	{
		std::string data = slurp(path);
		std::fill(data.end() - static_cast<long>(last_frame) + 5, data.end(), '\0');
		spit(path, data);
	}

	Spool spool(o);
	auto recs = read_all(spool);
	REQUIRE(offsets(recs) == range(3, 9));
	for (const Rec &r : recs)
		CHECK(r.value == value_for(r.offset));
	CHECK(fs::file_size(path) == size - last_frame); // the partial tail is gone
	CHECK(spool.corrupt() == 0);

	// New records follow the surviving ones and are read back.
	REQUIRE(spool.append("key", "next"));
	auto next = read_all(spool);
	REQUIRE(next.size() == 1);
	CHECK(next[0].offset == 9);
	CHECK(next[0].value == "next");
}

TEST_CASE("spool: a damaged record is skipped and counted", "[unit][spool]")
{
	TempDir dir;
	// One big segment (the damage is in the last segment, which recovery
	// scans) or many small ones (the damage is in a closed segment).
	uint64_t segment_bytes = GENERATE(16ull << 20, 300ull);
	SpoolOptions o = options(dir, segment_bytes);
	{
		Spool spool(o);
		for (uint64_t i = 0; i < 10; i++)
			REQUIRE(spool.append("key", value_for(i)));
	}
	const std::string needle = "event-0005";
	const size_t value_start = value_for(5).find(needle);
	const size_t frame_start = value_start + 3 + kHeader; // back from the needle to the magic
	uint64_t expect_corrupt = 1;
	std::vector<uint64_t> expect = {0, 1, 2, 3, 4, 6, 7, 8, 9};

	SECTION("a byte flipped in the value")
	{
		REQUIRE(edit_segment_at(o, needle, [](std::string &d, size_t at) { d[at + 3] ^= 0x01; }));
	}
	SECTION("bad magic")
	{
		REQUIRE(edit_segment_at(o, needle,
					[&](std::string &d, size_t at) { d[at - frame_start] = 'X'; }));
	}
	SECTION("bad CRC")
	{
		REQUIRE(edit_segment_at(o, needle,
					[&](std::string &d, size_t at) { d[at - frame_start + 4] ^= 0x40; }));
	}
	SECTION("an absurd value length")
	{
		REQUIRE(edit_segment_at(o, needle, [&](std::string &d, size_t at) {
			std::fill_n(d.begin() + static_cast<long>(at - frame_start + 20), 4, '\xff');
		}));
	}
	SECTION("a plausible length that is wrong")
	{
		REQUIRE(edit_segment_at(o, needle,
					[&](std::string &d, size_t at) { d[at - frame_start + 20] += 7; }));
	}
	SECTION("bytes flipped in two neighbouring records")
	{
		REQUIRE(edit_segment_at(o, "event-0004", [](std::string &d, size_t at) { d[at] = '#'; }));
		REQUIRE(edit_segment_at(o, needle, [](std::string &d, size_t at) { d[at] = '#'; }));
		expect_corrupt = 2;
		expect = {0, 1, 2, 3, 6, 7, 8, 9};
	}

	Spool spool(o);
	auto recs = read_all(spool);
	CHECK(offsets(recs) == expect);
	for (const Rec &r : recs)
		CHECK(r.value == value_for(r.offset));
	CHECK(spool.corrupt() == expect_corrupt);

	// Reading the same damage again does not count it again.
	spool.rewind();
	CHECK(offsets(read_all(spool)) == expect);
	CHECK(spool.corrupt() == expect_corrupt);

	// The spool goes on: delivery of what is left empties it.
	spool.commit(9);
	CHECK(spool.empty());
	REQUIRE(spool.append("key", "after damage"));
	CHECK(offsets(read_all(spool)) == std::vector<uint64_t>{10});
}

TEST_CASE("spool: a whole segment of garbage is skipped, its records counted", "[unit][spool]")
{
	TempDir dir;
	SpoolOptions o = options(dir, 8 * (kHeader + 3 + value_for(0).size()));
	{
		Spool spool(o);
		for (uint64_t i = 0; i < 30; i++)
			REQUIRE(spool.append("key", value_for(i)));
	}
	auto files = segment_files(o);
	REQUIRE(files.size() == 4);
	REQUIRE(files[1] == "00000000000000000008.seg");
	std::string path = o.dir + "/" + files[1];
	std::string garbage(fs::file_size(path), '\0');
	for (size_t i = 0; i < garbage.size(); i++)
		garbage[i] = static_cast<char>((i * 131 + 7) % 251);
	spit(path, garbage);

	Spool spool(o);
	auto expect = range(0, 8);
	auto tail = range(16, 30);
	expect.insert(expect.end(), tail.begin(), tail.end());
	CHECK(offsets(read_all(spool)) == expect);
	CHECK(spool.corrupt() == 8);
}

TEST_CASE("spool: garbage, empty and foreign files do not stop it", "[unit][spool]")
{
	TempDir dir;
	SpoolOptions o = options(dir);
	fs::create_directories(o.dir);
	spit(o.dir + "/README", "not a segment\n");
	spit(o.dir + "/junk.seg", std::string(100, '\xF5'));
	spit(o.dir + "/123.seg", "short name");
	spit(o.dir + "/99999999999999999999.seg", "offset out of range");
	spit(o.dir + "/00000000000000000000.seg", "");
	fs::create_directories(o.dir + "/00000000000000000001.seg");
	std::string garbage = "\xF5SPL";
	for (int i = 0; i < 2000; i++)
		garbage += static_cast<char>(i * 37);
	spit(o.dir + "/00000000000000000005.seg", garbage);
	spit(o.dir + "/state.tmp", "half a state");

	{
		Spool spool(o);
		CHECK(spool.empty());
		CHECK(read_all(spool).empty());
		REQUIRE(spool.append("k", "v1"));
		REQUIRE(spool.append("k", "v2"));
		auto recs = read_all(spool);
		REQUIRE(recs.size() == 2);
		// Offsets start past every segment name seen.
		CHECK(recs[0].offset >= 5);
		CHECK(recs[1].offset == recs[0].offset + 1);
		CHECK(recs[0].value == "v1");
		CHECK(recs[1].value == "v2");
		spool.commit(recs[0].offset);
	}
	CHECK(fs::exists(o.dir + "/README"));
	CHECK(fs::exists(o.dir + "/junk.seg"));
	CHECK(fs::is_directory(o.dir + "/00000000000000000001.seg"));

	Spool spool(o);
	auto recs = read_all(spool);
	REQUIRE(recs.size() == 1);
	CHECK(recs[0].value == "v2");
}

TEST_CASE("spool: a damaged or missing state replays from the oldest segment", "[unit][spool]")
{
	TempDir dir;
	SpoolOptions o = options(dir, 500);
	{
		Spool spool(o);
		for (uint64_t i = 0; i < 20; i++)
			REQUIRE(spool.append("k", value_for(i)));
		read_all(spool);
		spool.commit(5); // the oldest segment still holds offsets 0..5
	}
	{
		Spool spool(o);
		CHECK(offsets(read_all(spool)) == range(6, 20)); // the state as written
	}
	std::string state = o.dir + "/state";
	REQUIRE(fs::exists(state));
	uint64_t oldest = std::stoull(segment_files(o).front().substr(0, 20));
	REQUIRE(oldest <= 5);

	SECTION("garbage")
	{
		spit(state, "garbage that is not a state file");
	}
	SECTION("a bit flipped")
	{
		std::string s = slurp(state);
		s[9] ^= 0x02;
		spit(state, s);
	}
	SECTION("empty")
	{
		spit(state, "");
	}
	SECTION("missing")
	{
		fs::remove(state);
	}
	SECTION("a directory")
	{
		fs::remove(state);
		fs::create_directories(state);
	}

	Spool spool(o);
	CHECK(offsets(read_all(spool)) == range(oldest, 20)); // duplicates, no losses
	CHECK(spool.corrupt() == 0);
	CHECK(spool.records() == 20 - oldest);
}

TEST_CASE("spool: 100 KB values round-trip", "[unit][spool]")
{
	TempDir dir;
	SpoolOptions o = options(dir, 64 << 10); // a record is larger than a segment
	std::vector<std::string> values;
	for (int i = 0; i < 12; i++) {
		std::string v(100 * 1024 + i, '\0');
		for (size_t j = 0; j < v.size(); j++)
			v[j] = static_cast<char>((j * 7 + static_cast<size_t>(i)) % 256);
		values.push_back(std::move(v));
	}
	{
		Spool spool(o);
		for (const auto &v : values)
			REQUIRE(spool.append("key", v));
		auto recs = read_all(spool, 5);
		REQUIRE(recs.size() == values.size());
		for (size_t i = 0; i < values.size(); i++)
			CHECK(recs[i].value == values[i]);
	}
	CHECK(segment_files(o).size() == values.size());
	Spool spool(o);
	auto recs = read_all(spool, 3);
	REQUIRE(recs.size() == values.size());
	for (size_t i = 0; i < values.size(); i++) {
		CHECK(recs[i].offset == i);
		CHECK(recs[i].value == values[i]);
	}
	CHECK(spool.corrupt() == 0);
}

TEST_CASE("spool: hostile bytes round-trip exactly", "[unit][spool]")
{
	using namespace std::string_literals;
	TempDir dir;
	SpoolOptions o = options(dir, 256);
	std::vector<std::pair<std::string, std::string>> cases;
	for (const auto &[input, decoded] : smith::test::hostile_cases())
		cases.emplace_back(input, input + "\n" + input);
	cases.emplace_back("", "");
	cases.emplace_back("\0\0"s, "\xF5SPL\xF5SPL"s); // the frame magic inside a record
	cases.emplace_back("\xF5SPL"s, std::string(300, '\0'));

	auto check = [&](const std::vector<Rec> &recs) {
		REQUIRE(recs.size() == cases.size());
		for (size_t i = 0; i < cases.size(); i++) {
			CHECK(recs[i].key == cases[i].first);
			CHECK(recs[i].value == cases[i].second);
		}
	};
	{
		Spool spool(o);
		for (const auto &[key, value] : cases)
			REQUIRE(spool.append(key, value));
		check(read_all(spool));
	}
	Spool spool(o);
	check(read_all(spool));
	CHECK(spool.corrupt() == 0);
}

TEST_CASE("spool: appends are written once the buffer passes 1 MiB", "[unit][spool]")
{
	TempDir dir;
	SpoolOptions o = options(dir);
	Spool spool(o);
	const std::string value(1000, 'x');
	REQUIRE(spool.append("k", value));
	CHECK(fs::file_size(o.dir + "/" + segment_files(o).at(0)) == 0); // buffered
	for (int i = 0; i < 1100; i++)
		REQUIRE(spool.append("k", value));
	CHECK(fs::file_size(o.dir + "/" + segment_files(o).at(0)) >= (1u << 20));
	spool.flush();
	CHECK(fs::file_size(o.dir + "/" + segment_files(o).at(0)) == spool.bytes());
}

std::vector<Rec> take(Spool &spool, size_t max)
{
	std::vector<Rec> out;
	std::string frames = "left alone unless records are taken";
	size_t n = spool.write_out_and_take(max, frames);
	if (n == 0)
		CHECK(frames == "left alone unless records are taken");
	for (size_t pos = 0; n > 0 && pos < frames.size();) {
		Rec r;
		std::string_view key, value;
		pos += smith::sink::spool::decode_frame(frames.data() + pos, r.offset, key, value);
		r.key = key;
		r.value = value;
		out.push_back(r);
	}
	CHECK(n == out.size());
	return out;
}

TEST_CASE("spool: records just written are handed over from memory when the reader is caught up",
	  "[unit][spool]")
{
	TempDir dir;
	SpoolOptions o = options(dir, 512); // a few records a segment
	{
		Spool spool(o);
		CHECK(take(spool, 10).empty()); // nothing appended
		uint64_t next = 0;
		int from_memory = 0;
		for (int round = 0; round < 20; round++) {
			for (int i = 0; i < 3; i++)
				REQUIRE(spool.append("host-1", value_for(next + i)));
			// A new segment writes the buffer out first: those records are read from disk.
			auto got = take(spool, 10);
			CHECK(spool.buffered_records() == 0);
			if (got.empty())
				got = read_all(spool);
			else
				from_memory++;
			REQUIRE(offsets(got) == range(next, next + 3));
			for (const Rec &r : got) {
				CHECK(r.key == "host-1");
				CHECK(r.value == value_for(r.offset));
			}
			next += 3;
			CHECK(read_n(spool, 10).empty()); // counted as read
		}
		CHECK(from_memory >= 5);
		CHECK(segment_files(o).size() > 3);
		// More than `max`: written, and read() returns them, then the reader is caught up again.
		for (int i = 0; i < 5; i++)
			REQUIRE(spool.append("host-1", value_for(next + i)));
		CHECK(take(spool, 4).empty());
		CHECK(offsets(read_all(spool)) == range(next, next + 5));
		next += 5;
		REQUIRE(spool.append("host-1", value_for(next)));
		CHECK(offsets(take(spool, 4)) == range(next, next + 1));
		next++;
		// Behind a rewind, the reader is behind: take() writes and hands nothing over.
		spool.commit(9);
		spool.rewind();
		REQUIRE(spool.append("host-1", value_for(next)));
		CHECK(take(spool, 100).empty());
		auto again = read_all(spool);
		REQUIRE(offsets(again) == range(10, next + 1));
		for (const Rec &r : again)
			CHECK(r.value == value_for(r.offset));
		CHECK(spool.corrupt() == 0);
	}
	// Everything handed over was on disk.
	Spool reopened(o);
	CHECK(offsets(read_all(reopened)) == range(10, 67));
	CHECK(reopened.corrupt() == 0);
}

TEST_CASE("spool: creates its directory, refuses an unusable one", "[unit][spool]")
{
	TempDir dir;
	SpoolOptions o;
	o.dir = dir / "var/lib/smith/spool/";
	{
		Spool spool(o);
		struct stat st;
		REQUIRE(::stat((dir / "var/lib/smith/spool").c_str(), &st) == 0);
		CHECK(S_ISDIR(st.st_mode));
		CHECK((st.st_mode & 07777) == 0700);
	}
	spit(dir / "file", "x");
	o.dir = dir / "file";
	CHECK_THROWS_AS(Spool(o), SinkError);
	o.dir = dir / "file/below";
	CHECK_THROWS_AS(Spool(o), SinkError);
	o.dir = "";
	CHECK_THROWS_AS(Spool(o), SinkError);
}
