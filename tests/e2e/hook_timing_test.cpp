// hook_timing: each hook times its own work in the kernel, in both backends. A daemon of each backend
// under test runs with --hook-timing=true: the BPF programs in the mode this kernel gives them (sys_exit
// on the host, fexit in the Debian guests), smith.ko on 6.1, 6.12 and CentOS 7's 3.10. In a guest,
// where one program runs the whole suite in declaration order, this file comes after the shared daemons
// have stopped (tests/CMakeLists.txt lists it after shutdown_test.cpp): /dev/smith has one reader.
#include "backends.h"
#include "json_fields.h"

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>
#include <thread>

using namespace smith::e2e;

TEST_CASE("hook timing: each connect, exec and fork is timed in the kernel, in each backend", "[e2e][heavy]")
{
	for (const std::string &backend : backends_under_test()) {
		INFO("backend " << backend);
		if (backend == "lkm" && module_loaded("smith"))
			REQUIRE(unload_module("smith") == 0); // smithd loads it, and sets hook_timing
		SmithdOptions o = daemon_options(backend);
		o.label = "timed-" + backend;
		o.extra = {"--hook-timing=true"};
		if (backend == "lkm")
			o.extra.push_back("--lkm-module=" + smith_ko());
		Smithd d(o);
		constexpr int kConnects = 40, kExecs = 10;
		for (int i = 0; i < kConnects; ++i) {
			Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
			REQUIRE(s.get() >= 0);
			REQUIRE(connect_to(s.get(), AF_INET, "127.0.0.1", 9) == 0);
		}
		for (int i = 0; i < kExecs; ++i) {
			const pid_t child = spawn([] { execl("/bin/true", "/bin/true", nullptr); });
			REQUIRE(child > 0);
			REQUIRE(wait_exit(child) == 0);
		}
		const std::string marker = exec_marker({&d}, "smith-e2e-timed");
		REQUIRE(marker.empty());

		// A hook counts its time just after it has sent its record, and a status is published after
		// each batch: give the last calls' counts and the next publication a moment.
		std::this_thread::sleep_for(1s);
		CommandResult r = d.ctl({"status", "--json"});
		INFO("smithctl status --json: " << r.out << r.err);
		REQUIRE(r.exit_code == 0);
		simdjson::dom::parser parser;
		simdjson::dom::element st;
		REQUIRE(parser.parse(r.out).get(st) == simdjson::SUCCESS);
		CHECK(get_str(st, "backend") == d.expected_backend());
		CHECK(st["hook_timing"].get_bool().value() == true);
		std::map<std::string, simdjson::dom::element> hooks;
		// Named: a range over a temporary simdjson_result's value() would outlive it.
		const simdjson::dom::array hook_array = st["hooks"].get_array().value();
		for (simdjson::dom::element h : hook_array)
			hooks[get_str(h, "name")] = h;
		// Every call the test made was timed; other processes may add theirs.
		const auto check_timed = [&](const std::string &name, uint64_t at_least) {
			INFO("hook " << name);
			const simdjson::dom::element h = hooks.at(name);
			const uint64_t calls = get_u64(h, "calls"), avg = get_u64(h, "avg_ns"),
				       p99 = get_u64(h, "p99_ns");
			CHECK(calls >= at_least);
			CHECK(avg > 0);
			CHECK(avg < 100'000'000); // under 0.1 s a call, even on an emulated CPU
			CHECK(p99 > 0);
		};
		check_timed("connect", kConnects);
		check_timed("execve", kExecs + 1);
		check_timed("fork", kExecs + 1);
		CHECK(get_u64(hooks.at("execveat"), "calls") == 0);

		const CommandResult text = d.ctl({"status"});
		CHECK(text.out.find("AVG_NS") != std::string::npos);
		CHECK(text.out.find("hook timing: off") == std::string::npos);
		if (backend == "ebpf") {
			// The kernel's own count of every loaded program; the syscall hooks' programs ran.
			uint64_t runs = 0;
			std::set<std::string> names;
			const simdjson::dom::array programs = st["programs"].get_array().value();
			for (simdjson::dom::element p : programs) {
				names.insert(get_str(p, "name"));
				runs += get_u64(p, "run_cnt");
				if (get_u64(p, "run_cnt") > 0)
					CHECK(get_u64(p, "run_time_ns") > 0);
			}
			CHECK(names.count("exec_success") == 1);
			CHECK(names.count("process_fork") == 1);
			CHECK(runs >= kConnects + kExecs);
			CHECK(text.out.find("PROGRAM") != std::string::npos);
		}
		const int code = d.terminate();
		INFO("---- log ----\n" << d.log());
		CHECK(code == 0);
	}
}
