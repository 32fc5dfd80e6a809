// Log rotation: rename the output file, SIGHUP smithd, and every event lands
// in the old file or the new one: seq contiguous across both, none twice.
#include <catch2/catch.hpp>
#include <signal.h>
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
