// smithctl status: hook states on this kernel, sink state, and the snapshot's consistency with the output
// file; then an orderly stop.
#include "smithd_fixture.h"

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <thread>
#include <set>

using namespace smith::e2e;

namespace {

std::string get_str(simdjson::dom::element e, const char *key)
{
	return std::string(e[key].get_string().value());
}

uint64_t get_u64(simdjson::dom::element e, const char *key)
{
	return e[key].get_uint64().value();
}

// Runs a few execs and connects, and waits until smithd wrote them.
void make_activity(Smithd &smithd)
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
		smithd.wait_for(
			"execve of /bin/true by pid " + std::to_string(child),
			[child](const Event &e) { return e.type() == "execve" && e.pid() == child; }, 10s,
			child);
	}
	for (int i = 0; i < 2; ++i) {
		Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
		REQUIRE(s.get() >= 0);
		REQUIRE(connect_to(s.get(), AF_INET, "127.0.0.1", 9) == 0);
		const uint16_t sport = local_endpoint(s.get()).port;
		smithd.wait_for(
			"udp connect to 127.0.0.1:9 from port " + std::to_string(sport),
			[sport](const Event &e) {
				return e.type() == "connect" && e.pid() == getpid() &&
				       e.i64("sport") == sport;
			},
			10s, getpid());
	}
}

} // namespace

TEST_CASE("status: hooks and sink and counters agree with the output file", "[e2e][root][ebpf]")
{
	Smithd smithd;
	make_activity(smithd);

	CommandResult r = smithd.ctl({"status", "--json"});
	INFO("smithctl status --json: exit " << r.exit_code << "\nstdout: " << r.out
					     << "\nstderr: " << r.err);
	REQUIRE(r.exit_code == 0);
	simdjson::dom::parser parser;
	simdjson::dom::element st;
	REQUIRE(parser.parse(r.out).get(st) == simdjson::SUCCESS);
	REQUIRE(st.is_object());

	CHECK(get_str(st, "version") == "0.1.0");
	CHECK(st["pid"].get_int64().value() == smithd.pid());
	CHECK(st["uptime_seconds"].get_double().value() > 0);
	CHECK(get_str(st, "hostname") == host_name());
	CHECK(get_str(st, "host_id") == machine_id());
	CHECK(get_str(st, "kernel") == kernel_release());
	CHECK(get_str(st, "backend") == "ebpf");
	CHECK(get_u64(st, "decode_errors") == 0);
	const std::string run_id = get_str(st, "run_id");
	CHECK(run_id.size() == 32);

	// Hooks: everything attaches except the module hooks, which this kernel (built without modules)
	// lacks.
	std::vector<std::string> hook_names;
	const simdjson::dom::array hooks = st["hooks"].get_array().value();
	for (simdjson::dom::element hook : hooks) {
		const std::string name = get_str(hook, "name");
		hook_names.push_back(name);
		INFO("hook " << name);
		if (name == "init_module" || name == "finit_module") {
			CHECK(get_str(hook, "state") == "unavailable");
			CHECK(!get_str(hook, "reason").empty());
		} else {
			CHECK(get_str(hook, "state") == "attached");
			CHECK(get_str(hook, "reason") == "");
		}
		CHECK(get_u64(hook, "kernel_drops") == 0);
	}
	CHECK(hook_names ==
	      std::vector<std::string>{"execve", "execveat", "connect", "init_module", "finit_module"});

	simdjson::dom::element sink = st["sink"].value();
	CHECK(get_str(sink, "type") == "file");
	CHECK(get_str(sink, "target") == smithd.output_path());
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
	const std::set<std::string> types = {"execve", "connect", "init_module", "finit_module"};
	CHECK(sent.size() == types.size());
	CHECK(received.size() == types.size());
	CHECK(sent_sum == last_seq);
	CHECK(sent["init_module"] == 0);
	CHECK(sent["finit_module"] == 0);
	for (auto &t : types)
		CHECK(sent[t] <= received[t]);

	const auto &events = smithd.poll();
	CHECK(smithd.bad_lines().empty());
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

TEST_CASE("status: the table works and SIGTERM flushes and stops cleanly", "[e2e][root][ebpf]")
{
	Smithd smithd;
	make_activity(smithd);

	// The table for people.
	CommandResult table = smithd.ctl({"status"});
	INFO("smithctl status: exit " << table.exit_code << "\nstdout: " << table.out
				      << "\nstderr: " << table.err);
	CHECK(table.exit_code == 0);
	CHECK(table.out.find("ebpf") != std::string::npos);

	// An orderly stop: exit 0, pid file removed, everything received flushed, and smithctl says it is not
	// running.
	CHECK(read_file(smithd.pid_file()).find(std::to_string(smithd.pid())) != std::string::npos);
	CommandResult before = smithd.ctl({"status", "--json"});
	REQUIRE(before.exit_code == 0);
	simdjson::dom::parser parser;
	simdjson::dom::element st;
	REQUIRE(parser.parse(before.out).get(st) == simdjson::SUCCESS);
	uint64_t received_before = 0;
	const simdjson::dom::object received_obj = st["events"]["received"].get_object().value();
	for (auto field : received_obj)
		received_before += field.value.get_uint64().value();
	CHECK(smithd.terminate() == 0);
	CHECK(access(smithd.pid_file().c_str(), F_OK) != 0);

	const auto &all = smithd.poll();
	CHECK(smithd.bad_lines().empty());
	std::set<uint64_t> final_seqs;
	for (auto &e : all)
		final_seqs.insert(e.u64("seq"));
	CHECK(final_seqs.size() == all.size());
	REQUIRE(!final_seqs.empty());
	CHECK(*final_seqs.begin() == 1);
	CHECK(*final_seqs.rbegin() == final_seqs.size());
	CHECK(final_seqs.size() >= received_before);

	CommandResult down = smithd.ctl({"status"});
	INFO("smithctl status after stop: exit " << down.exit_code << "\nstdout: " << down.out
						 << "\nstderr: " << down.err);
	CHECK(down.exit_code != 0);
	CHECK((down.out + down.err).find("not running") != std::string::npos);
}

TEST_CASE("status: a burst of execs is delivered completely and in sequence", "[e2e][root][ebpf]")
{
	Smithd smithd;
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
	smithd.wait_for(
		"execve of the last burst child " + std::to_string(last),
		[last](const Event &e) { return e.type() == "execve" && e.pid() == last; }, 20s, last);
	std::this_thread::sleep_for(500ms);

	const std::set<pid_t> burst(children.begin(), children.end());
	std::map<pid_t, int> seen;
	for (auto &e : smithd.poll())
		if (e.type() == "execve" && burst.count(static_cast<pid_t>(e.pid())))
			++seen[static_cast<pid_t>(e.pid())];
	size_t missing = 0, repeated = 0;
	for (pid_t child : children) {
		if (seen[child] == 0)
			++missing;
		else if (seen[child] > 1)
			++repeated;
	}
	CHECK(missing == 0);
	CHECK(repeated == 0);

	// In file order, seq counts 1, 2, 3, ...: a downstream reader sees no gap.
	const auto &events = smithd.poll();
	size_t out_of_order = 0;
	for (size_t i = 0; i < events.size(); ++i)
		if (events[i].u64("seq") != i + 1)
			++out_of_order;
	CHECK(out_of_order == 0);
	CHECK(smithd.bad_lines().empty());

	CommandResult r = smithd.ctl({"status", "--json"});
	REQUIRE(r.exit_code == 0);
	simdjson::dom::parser parser;
	simdjson::dom::element st;
	REQUIRE(parser.parse(r.out).get(st) == simdjson::SUCCESS);
	const simdjson::dom::array hooks = st["hooks"].get_array().value();
	for (simdjson::dom::element hook : hooks) {
		INFO("hook " << get_str(hook, "name"));
		CHECK(get_u64(hook, "kernel_drops") == 0);
	}
	CHECK(get_u64(st, "decode_errors") == 0);
}
