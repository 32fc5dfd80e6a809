// The file sink's output under an operator's hands: log rotation (rename the output file, SIGHUP
// smithd: every event lands in the old file or the new one, seq contiguous across both, none twice),
// and a disk that fills up and gets room again.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "backends.h"

using namespace smith::e2e;

namespace {

void run_marker(const std::string &marker)
{
	pid_t pid = spawn([&] { execl("/bin/true", "true", marker.c_str(), static_cast<char *>(nullptr)); });
	REQUIRE(wait_exit(pid) == 0);
}

std::vector<Event> read_events(const std::string &path)
{
	std::vector<Event> out;
	std::ifstream in(path);
	for (std::string line; std::getline(in, line);) {
		std::string err;
		auto e = Event::parse(line, &err);
		INFO(path << ": " << err << ": " << line);
		REQUIRE(e.has_value());
		out.push_back(*e);
	}
	return out;
}

bool has_marker(const std::vector<Event> &events, const std::string &marker)
{
	for (const auto &e : events)
		if (e.type() == "execve" && e.strings("argv") == std::vector<std::string>{"true", marker})
			return true;
	return false;
}

} // namespace

TEST_CASE("rotation: SIGHUP reopens the output file and loses nothing", "[e2e][sink]")
{
	Smithd d(sink_daemon_options({}));
	const std::string marker_before = "smith-before-rotation-" + std::to_string(getpid());
	const std::string marker_after = "smith-after-rotation-" + std::to_string(getpid());

	run_marker(marker_before);
	d.wait_for(
		"the exec before rotation",
		[&](const Event &e) {
			return e.type() == "execve" &&
			       e.strings("argv") == std::vector<std::string>{"true", marker_before};
		},
		event_timeout());

	const std::string rotated = d.output_path() + ".1";
	REQUIRE(std::rename(d.output_path().c_str(), rotated.c_str()) == 0);
	REQUIRE(kill(d.pid(), SIGHUP) == 0);
	for (int i = 0; i < 100 && !std::filesystem::exists(d.output_path()); i++)
		std::this_thread::sleep_for(50ms);
	REQUIRE(std::filesystem::exists(d.output_path()));

	run_marker(marker_after);
	bool seen = false;
	for (int i = 0; i < 100 && !seen; i++) {
		std::this_thread::sleep_for(100ms);
		seen = has_marker(read_events(d.output_path()), marker_after);
	}
	REQUIRE(seen);
	REQUIRE(d.terminate() == 0);

	auto old_events = read_events(rotated);
	auto new_events = read_events(d.output_path());
	CHECK(has_marker(old_events, marker_before));
	CHECK_FALSE(has_marker(old_events, marker_after));
	CHECK(has_marker(new_events, marker_after));

	std::set<uint64_t> seqs;
	size_t total = 0;
	for (const auto *events : {&old_events, &new_events})
		for (const auto &e : *events) {
			seqs.insert(e.u64("seq"));
			total++;
		}
	CHECK(seqs.size() == total); // no event twice
	REQUIRE_FALSE(seqs.empty());
	CHECK(*seqs.begin() == 1);
	CHECK(*seqs.rbegin() == total); // contiguous from 1
}

TEST_CASE("file sink: on a full disk every line stays a whole event, and what waited follows in order",
	  "[e2e][sink]")
{
	SmallTmpfs fs("256k");
	const std::string out = fs.file("events.jsonl");
	Smithd d(sink_daemon_options({"--sink=file", "--output=" + out}, false));
	const std::string tag = std::to_string(getpid());
	auto markers_in = [&](const std::vector<Event> &events, const std::string &marker) {
		size_t n = 0;
		for (const auto &e : events)
			n += e.type() == "execve" &&
			     e.strings("argv") == std::vector<std::string>{"true", marker};
		return n;
	};
	auto wait_marker = [&](const std::string &marker) {
		const auto deadline = std::chrono::steady_clock::now() + event_timeout();
		while (markers_in(read_events(out), marker) == 0) {
			REQUIRE(std::chrono::steady_clock::now() < deadline);
			std::this_thread::sleep_for(100ms);
		}
	};
	run_marker("smith-full-first-" + tag);
	wait_marker("smith-full-first-" + tag);

	REQUIRE(fill_file_system(fs.file("filler")));
	constexpr int kWhileFull = 30;
	for (int i = 0; i < kWhileFull; ++i)
		run_marker("smith-full-" + std::to_string(i) + "-" + tag);
	std::this_thread::sleep_for(2s);
	const std::string while_full = read_file(out);
	CHECK((while_full.empty() || while_full.back() == '\n'));
	const CommandResult status = d.ctl({"status", "--json"});
	CHECK(status.out.find("No space left on device") != std::string::npos);
	const size_t written_while_full = read_events(out).size(); // every line parses

	REQUIRE(unlink(fs.file("filler").c_str()) == 0);
	run_marker("smith-full-last-" + tag);
	wait_marker("smith-full-last-" + tag);
	const std::vector<Event> events = read_events(out);
	INFO(events.size() << " events, " << written_while_full << " of them before the disk had room");
	CHECK(events.size() > written_while_full);
	for (int i = 0; i < kWhileFull; ++i)
		CHECK(markers_in(events, "smith-full-" + std::to_string(i) + "-" + tag) == 1);
	for (size_t i = 0; i < events.size(); ++i)
		if (events[i].u64("seq") != i + 1)
			FAIL("line " << i + 1 << " has seq " << events[i].u64("seq") << ": "
				     << events[i].line());
	CHECK(read_file(out).back() == '\n');
	CHECK(d.ctl({"status", "--json"}).out.find("\"failed\":0") != std::string::npos);
}
