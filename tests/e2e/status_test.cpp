// smithctl status against every backend: the hooks this kernel has, the sink's state, and counters that
// agree with the output file; a burst delivered completely. (The orderly stop is in shutdown_test.cpp.)
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

namespace {

// Runs a few execs and connects, and waits until every shared daemon wrote them.
void make_activity()
{
	for (int i = 0; i < 3; ++i) {
		pid_t child = spawn([] {
			char arg0[] = "/bin/true";
			char *argv[] = {arg0, nullptr};
			char *envp[] = {nullptr};
			execve("/bin/true", argv, envp);
		});
		REQUIRE(child > 0);
		REQUIRE(wait_exit(child) == 0);
		for (Smithd *d : shared_daemons())
			d->wait_for(
				"execve of /bin/true by pid " + std::to_string(child),
				[child](const Event &e) { return e.type() == "execve" && e.pid() == child; },
				event_timeout(), child);
	}
	for (int i = 0; i < 2; ++i) {
		Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
		REQUIRE(s.get() >= 0);
		REQUIRE(connect_to(s.get(), AF_INET, "127.0.0.1", 9) == 0);
		const uint16_t sport = local_endpoint(s.get()).port;
		for (Smithd *d : shared_daemons())
			d->wait_for(
				"udp connect to 127.0.0.1:9 from port " + std::to_string(sport),
				[sport](const Event &e) {
					return e.type() == "connect" && e.pid() == getpid() &&
					       e.i64("sport") == sport && stamped_in_this_test(e);
				},
				event_timeout(), getpid());
	}
}

// The state and reason a hook must show on this kernel: attached, unless the kernel lacks what it hooks.
void check_hook_state(const std::string &name, const std::string &state, const std::string &reason)
{
	INFO("hook " << name << ": " << state << " (" << reason << ")");
	const bool module_hook = name == "init_module" || name == "finit_module";
	if (module_hook && !kernel_has_modules()) {
		CHECK(state == "unavailable");
		CHECK(reason.find("module") != std::string::npos);
	} else if (name == "execveat" && !kernel_has_execveat()) {
		CHECK(state == "unavailable");
		CHECK(reason.find("execveat") != std::string::npos);
	} else {
		CHECK(state == "attached");
		CHECK(reason == "");
	}
}

// How a hook must be attached: the module sees syscalls at sys_exit and tasks at their tracepoints;
// the eBPF backend uses trampolines on the syscalls' functions where the kernel allows them.
std::string expected_attach(const Smithd &d, const std::string &hook)
{
	if (hook == "fork")
		return d.expected_backend() == "lkm" ? "tracepoint" : "tp_btf";
	if (d.expected_backend() == "lkm")
		return "sys_exit";
	static const bool trampolines = kernel_allows_trampolines();
	return trampolines ? "fexit" : "sys_exit";
}

} // namespace

TEST_CASE("status: hooks and sink and counters agree with the output file", "[e2e]")
{
	shared_daemons();
	make_activity();

	for (Smithd *d : shared_daemons()) {
		INFO("[" << d->label() << "]");
		CommandResult r = d->ctl({"status", "--json"});
		INFO("smithctl status --json: exit " << r.exit_code << "\nstdout: " << r.out
						     << "\nstderr: " << r.err);
		REQUIRE(r.exit_code == 0);
		simdjson::dom::parser parser;
		simdjson::dom::element st;
		REQUIRE(parser.parse(r.out).get(st) == simdjson::SUCCESS);
		REQUIRE(st.is_object());

		CHECK(get_str(st, "version") == "0.1.0");
		CHECK(st["pid"].get_int64().value() == d->pid());
		CHECK(st["uptime_seconds"].get_double().value() > 0);
		// The wall clock of a snapshot published at most a poll ago; the default heartbeat interval.
		CHECK(st["time"].get_double().value() ==
		      Approx(static_cast<double>(now_ns()) / 1e9)
			      .epsilon(0)
			      .margin(std::chrono::duration<double>(event_timeout()).count()));
		CHECK(get_u64(st, "heartbeat_interval_seconds") == 30);
		CHECK(get_str(st, "hostname") == host_name());
		CHECK(get_str(st, "host_id") == machine_id());
		CHECK(get_str(st, "kernel") == kernel_release());
		CHECK(get_str(st, "backend") == d->expected_backend());
		CHECK(!get_str(st, "backend_reason").empty());
		CHECK(get_u64(st, "decode_errors") == 0);
		const std::string run_id = get_str(st, "run_id");
		CHECK(run_id.size() == 32);

		CHECK(st["hook_timing"].get_bool().value() == false);
		CHECK(st["programs"].get_array().value().size() == 0);
		// Hooks: every one attaches, except those whose syscall this kernel lacks.
		std::vector<std::string> hook_names;
		const simdjson::dom::array hooks = st["hooks"].get_array().value();
		for (simdjson::dom::element hook : hooks) {
			const std::string name = get_str(hook, "name");
			hook_names.push_back(name);
			check_hook_state(name, get_str(hook, "state"), get_str(hook, "reason"));
			INFO("hook " << name);
			CHECK(get_str(hook, "attach") == expected_attach(*d, name));
			CHECK(get_u64(hook, "kernel_drops") == 0);
			// Not timed unless hook_timing says so.
			CHECK(get_u64(hook, "calls") == 0);
			CHECK(get_u64(hook, "p99_ns") == 0);
		}
		CHECK(hook_names == std::vector<std::string>{"execve", "execveat", "connect", "init_module",
							     "finit_module", "fork"});

		simdjson::dom::element sink = st["sink"].value();
		CHECK(get_str(sink, "type") == "file");
		CHECK(get_str(sink, "target") == d->output_path());
		CHECK(sink["connected"].get_bool().value() == true);
		CHECK(get_str(sink, "last_error") == "");
		CHECK(get_u64(sink, "failed") == 0);
		CHECK(get_u64(st, "rss_bytes") > 0);
		CHECK(st["cpu_seconds"].get_double().value() >= 0);

		// Consistency: every event with seq <= last_seq is in the file, and sent[type] counts them.
		const uint64_t last_seq = get_u64(st, "last_seq");
		REQUIRE(last_seq >= 5);
		std::map<std::string, uint64_t> sent, received;
		uint64_t sent_sum = 0;
		const simdjson::dom::object sent_obj = st["events"]["sent"].get_object().value();
		const simdjson::dom::object received_obj = st["events"]["received"].get_object().value();
		for (auto field : sent_obj) {
			sent[std::string(field.key)] = field.value.get_uint64().value();
			sent_sum += sent[std::string(field.key)];
		}
		for (auto field : received_obj)
			received[std::string(field.key)] = field.value.get_uint64().value();
		const std::set<std::string> types = {"execve", "connect", "init_module", "finit_module",
						     "connect_suppressed"};
		CHECK(sent.size() == types.size());
		CHECK(received.size() == types.size());
		// Every seq is an event of the kernel's or one of smithd's own records (run_start, loss).
		const uint64_t own = get_u64(st, "own_records");
		CHECK(own >= 1);
		CHECK(sent_sum + own == last_seq);
		for (auto &t : types)
			CHECK(sent[t] <= received[t]);

		const auto &events = d->poll();
		CHECK(d->bad_lines().empty());
		std::map<std::string, uint64_t> in_file;
		std::map<uint64_t, int> seq_seen;
		for (auto &e : events) {
			const uint64_t seq = e.u64("seq");
			if (seq > last_seq)
				continue;
			++seq_seen[seq];
			++in_file[e.type()];
			CHECK(e.str("run_id") == run_id);
		}
		for (auto &t : types) {
			INFO("type " << t);
			CHECK(in_file[t] == sent[t]);
		}
		CHECK(in_file["run_start"] + in_file["loss"] == own);
		uint64_t missing = 0, duplicated = 0;
		for (uint64_t s = 1; s <= last_seq; ++s) {
			auto it = seq_seen.find(s);
			if (it == seq_seen.end())
				++missing;
			else if (it->second != 1)
				++duplicated;
		}
		CHECK(missing == 0);
		CHECK(duplicated == 0);
	}
}

TEST_CASE("status: the table for people names the backend and the hooks", "[e2e]")
{
	for (Smithd *d : shared_daemons()) {
		CommandResult table = d->ctl({"status"});
		INFO("[" << d->label() << "] smithctl status: exit " << table.exit_code
			 << "\nstdout: " << table.out << "\nstderr: " << table.err);
		CHECK(table.exit_code == 0);
		CHECK(table.out.find(d->expected_backend()) != std::string::npos);
		for (const char *hook :
		     {"execve", "execveat", "connect", "init_module", "finit_module", "fork"})
			CHECK(table.out.find(hook) != std::string::npos);
	}
}

TEST_CASE("status: a burst of execs is delivered completely and in sequence", "[e2e]")
{
	shared_daemons();
	constexpr int kBurst = 300;
	std::vector<pid_t> children;
	for (int i = 0; i < kBurst; ++i) {
		pid_t child = spawn([] {
			char arg0[] = "/bin/true", arg1[] = "burst";
			char *argv[] = {arg0, arg1, nullptr};
			char *envp[] = {nullptr};
			execve("/bin/true", argv, envp);
		});
		REQUIRE(child > 0);
		children.push_back(child);
	}
	for (pid_t child : children)
		REQUIRE(wait_exit(child) == 0);

	const pid_t last = children.back();
	const std::set<pid_t> burst(children.begin(), children.end());
	for (Smithd *d : shared_daemons()) {
		INFO("[" << d->label() << "]");
		d->wait_for(
			"execve of the last burst child " + std::to_string(last),
			[last](const Event &e) { return e.type() == "execve" && e.pid() == last; },
			event_timeout() * 2, last);
		// The children ran at once, so the last one's exec need not be the last to arrive: the
		// others get until the event timeout, and a repeat of any half a second after that.
		size_t missing = 0, repeated = 0;
		const auto tally = [&] {
			std::map<pid_t, int> seen;
			for (auto &e : d->poll())
				if (e.type() == "execve" && burst.count(static_cast<pid_t>(e.pid())))
					++seen[static_cast<pid_t>(e.pid())];
			missing = repeated = 0;
			for (pid_t child : children) {
				if (seen[child] == 0)
					++missing;
				else if (seen[child] > 1)
					++repeated;
			}
		};
		const auto deadline = std::chrono::steady_clock::now() + event_timeout();
		for (tally(); missing > 0 && std::chrono::steady_clock::now() < deadline; tally())
			std::this_thread::sleep_for(100ms);
		std::this_thread::sleep_for(500ms);
		tally();
		CHECK(missing == 0);
		CHECK(repeated == 0);

		// In file order, seq counts 1, 2, 3, ...: a downstream reader sees no gap.
		check_contiguous_seq(*d);

		const Status st = d->status();
		for (const auto &[hook, drops] : st.drops) {
			INFO("hook " << hook);
			CHECK(drops == 0);
		}
		CHECK(st.decode_errors == 0);
	}
}
