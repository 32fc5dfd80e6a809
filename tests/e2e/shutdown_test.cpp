// The end of the shared daemons' run, after every behaviour: the backends agree on every event they saw,
// smith.ko cannot be unloaded under its reader, and SIGTERM stops each daemon cleanly with everything
// flushed. In a guest, where one program runs the whole suite in declaration order, this file comes
// after the behaviours (tests/CMakeLists.txt lists it after them).
#include "backends.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <iterator>
#include <set>

using namespace smith::e2e;

TEST_CASE("parity: both backends report the same events from start to end", "[e2e][lkm][parity]")
{
	const auto ds = shared_daemons();
	REQUIRE(ds.size() >= 2);
	const std::string end_marker = exec_marker(ds, "smith-e2e-end");
	INFO(end_marker);
	REQUIRE(end_marker.empty());
	// Every event between the markers; the rings of different CPUs may interleave differently in each
	// backend, so the comparison is of sorted lists.
	std::vector<std::vector<std::string>> seen;
	for (Smithd *d : ds) {
		const long from = marker_index(*d, "smith-e2e-start"), to = marker_index(*d, "smith-e2e-end");
		INFO("[" << d->label() << "] markers at " << from << " and " << to);
		REQUIRE(from >= 0);
		REQUIRE(to > from);
		std::vector<std::string> lines;
		for (long i = from; i <= to; ++i) {
			std::string line;
			for (auto &[key, value] : comparable_fields(d->poll()[i]))
				line += key + "=" + value + " ";
			lines.push_back(line);
		}
		std::sort(lines.begin(), lines.end());
		seen.push_back(std::move(lines));
	}
	std::cout << "e2e: " << seen[0].size() << " events between the markers in each backend" << std::endl;
	for (size_t k = 1; k < seen.size(); ++k) {
		INFO(ds[0]->label() << " vs " << ds[k]->label());
		CHECK(seen[k].size() == seen[0].size());
		std::vector<std::string> only_first, only_other;
		std::set_difference(seen[0].begin(), seen[0].end(), seen[k].begin(), seen[k].end(),
				    std::back_inserter(only_first));
		std::set_difference(seen[k].begin(), seen[k].end(), seen[0].begin(), seen[0].end(),
				    std::back_inserter(only_other));
		for (auto &line : only_first)
			FAIL_CHECK("only in " << ds[0]->label() << ": " << line.substr(0, 3000));
		for (auto &line : only_other)
			FAIL_CHECK("only in " << ds[k]->label() << ": " << line.substr(0, 3000));
	}
}

TEST_CASE("lkm: rmmod smith is refused while the lkm daemon reads, and works after it stops", "[e2e][lkm]")
{
	const auto ds = shared_daemons();
	auto it = std::find_if(ds.begin(), ds.end(), [](Smithd *d) { return d->options().backend == "lkm"; });
	REQUIRE(it != ds.end());
	Smithd &lkm = **it;
	REQUIRE(lkm.running());
	REQUIRE(module_loaded("smith"));
	const int refused = unload_module("smith");
	INFO("delete_module(smith) returned " << refused);
	CHECK((refused == -EAGAIN || refused == -EBUSY));
	REQUIRE(module_loaded("smith"));

	// The daemon still reads: a new exec comes through.
	pid_t child = spawn([] { execl("/bin/true", "/bin/true", "after-refused-rmmod", nullptr); });
	REQUIRE(wait_exit(child) == 0);
	CHECK(lkm.find([&](const Event &ev) { return ev.type() == "execve" && ev.pid() == child; },
		       event_timeout())
		      .has_value());

	check_contiguous_seq(lkm);
	const Status s = lkm.status();
	for (auto &[hook, drops] : s.drops) {
		INFO("hook " << hook);
		CHECK(drops == 0);
	}
	CHECK(s.decode_errors == 0);
	const int code = lkm.terminate();
	INFO("---- lkm log ----\n" << lkm.log());
	CHECK(code == 0);
	CHECK(unload_module("smith") == 0);
	CHECK(!module_loaded("smith"));
}

TEST_CASE("stop: SIGTERM flushes everything, removes the pid file and exits 0, with every event in sequence",
	  "[e2e]")
{
	for (Smithd *d : shared_daemons()) {
		if (!d->running())
			continue; // stopped by a test before this one
		INFO("[" << d->label() << "]");
		check_contiguous_seq(*d);
		const Status s = d->status();
		for (auto &[hook, drops] : s.drops) {
			INFO("hook " << hook);
			CHECK(drops == 0);
		}
		CHECK(s.decode_errors == 0);
		CHECK(read_file(d->pid_file()).find(std::to_string(d->pid())) != std::string::npos);

		const int code = d->terminate();
		INFO("---- log ----\n" << d->log());
		CHECK(code == 0);
		CHECK(access(d->pid_file().c_str(), F_OK) != 0);

		// Everything received before the stop was flushed: seq contiguous from 1, none twice, at
		// least as many as the status counted.
		const auto &all = d->poll();
		CHECK(d->bad_lines().empty());
		std::set<uint64_t> seqs;
		for (auto &e : all)
			seqs.insert(e.u64("seq"));
		CHECK(seqs.size() == all.size());
		REQUIRE(!seqs.empty());
		CHECK(*seqs.begin() == 1);
		CHECK(*seqs.rbegin() == seqs.size());
		CHECK(seqs.size() >= s.received);
		CHECK(d->log().find("smithd stopped after") != std::string::npos);

		// The run is complete for a consumer of the stream alone: run_start first, run_end last,
		// naming the first and last seq, and no loss record (no drops).
		const Event &first = all.front(), &last = all.back();
		CHECK(first.type() == "run_start");
		CHECK(first.u64("seq") == 1);
		CHECK(first.u64("first_seq") == 1);
		CHECK(first.i64("data_type") == 2001);
		CHECK(first.str("backend") == d->expected_backend());
		CHECK(first.str("kernel") == kernel_release());
		CHECK(first.keys() == expected_keys("run_start"));
		CHECK(!first.str("version").empty());
		CHECK(first.str("backend_reason") == s.backend_reason);
		CHECK(last.type() == "run_end");
		CHECK(last.keys() == expected_keys("run_end"));
		CHECK(last.i64("data_type") == 2002);
		CHECK(last.u64("first_seq") == 1);
		CHECK(last.u64("last_seq") == last.u64("seq"));
		CHECK(last.u64("last_seq") == all.size());
		CHECK(last.u64("dropped_since_start") == 0);
		CHECK(last.u64("decode_errors") == 0);
		CHECK(last.str("run_id") == first.str("run_id"));
		size_t own = 0;
		for (auto &e : all)
			own += e.type() == "run_start" || e.type() == "run_end" || e.type() == "loss";
		CHECK(own == 2);

		CommandResult down = d->ctl({"status"});
		INFO("smithctl status after stop: exit " << down.exit_code << "\nstdout: " << down.out
							 << "\nstderr: " << down.err);
		CHECK(down.exit_code != 0);
		CHECK((down.out + down.err).find("not running") != std::string::npos);
	}
}
