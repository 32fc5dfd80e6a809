// A full ring buffer: while smithd is stopped, a burst of execs overflows a
// one-page ring. The kernel counts every record it had no room for, per hook;
// smithd keeps running, and what it did get is contiguous.
#include <catch2/catch.hpp>
#include <signal.h>
#include <simdjson.h>
#include <unistd.h>

#include <thread>

#include "smithd_fixture.h"

using namespace smith::e2e;

TEST_CASE("full ring: drops are counted per hook and the daemon keeps going", "[e2e][root][ebpf]")
{
	require_ebpf_preconditions();
	Smithd d({"--ringbuf-bytes=4096"});
	const std::string marker = "smith-full-ring-" + std::to_string(getpid());
	constexpr int kExecs = 200;

	REQUIRE(kill(d.pid(), SIGSTOP) == 0);
	for (int i = 0; i < kExecs; i++) {
		pid_t pid = spawn(
			[&] { execl("/bin/true", "true", marker.c_str(), static_cast<char *>(nullptr)); });
		REQUIRE(wait_exit(pid) == 0);
	}
	REQUIRE(kill(d.pid(), SIGCONT) == 0);

	// An exec after the burst proves the daemon drains and goes on. Until the
	// daemon has run again and emptied the ring, such an exec is dropped too,
	// so it is repeated until one arrives.
	const std::string last = marker + "-after";
	auto is_last = [&](const Event &e) {
		return e.type() == "execve" && e.strings("argv") == std::vector<std::string>{"true", last};
	};
	for (int attempt = 0; attempt < 20 && d.count(is_last) == 0; attempt++) {
		pid_t pid = spawn(
			[&] { execl("/bin/true", "true", last.c_str(), static_cast<char *>(nullptr)); });
		REQUIRE(wait_exit(pid) == 0);
		std::this_thread::sleep_for(500ms);
	}
	d.wait_for("an exec after the burst", is_last);

	size_t seen = d.count([&](const Event &e) {
		return e.type() == "execve" && e.strings("argv") == std::vector<std::string>{"true", marker};
	});
	auto status = d.ctl({"status", "--json"});
	REQUIRE(status.exit_code == 0);
	simdjson::dom::parser parser;
	simdjson::dom::element doc = parser.parse(status.out);
	uint64_t execve_drops = 0;
	for (simdjson::dom::element hook : doc["hooks"].get_array())
		if (std::string_view(hook["name"]) == "execve")
			execve_drops = uint64_t(hook["kernel_drops"]);

	INFO("marker execs seen: " << seen << ", execve drops: " << execve_drops);
	CHECK(seen < static_cast<size_t>(kExecs)); // the one-page ring could not hold the burst
	CHECK(execve_drops > 0);
	CHECK(seen + execve_drops >= static_cast<size_t>(kExecs)); // every exec is an event or a counted drop
	CHECK(uint64_t(doc["decode_errors"]) == 0);

	// The events that arrived carry contiguous seq numbers: drops happen before numbering.
	auto events = d.poll();
	for (size_t i = 0; i < events.size(); i++)
		CHECK(events[i].u64("seq") == i + 1);
	CHECK(d.terminate() == 0);
}
