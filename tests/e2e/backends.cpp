#include "backends.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>

namespace smith::e2e {
namespace {

std::string env_or(const char *name, const std::string &fallback)
{
	const char *v = std::getenv(name);
	return v && *v ? v : fallback;
}

std::chrono::seconds env_seconds(const char *name, long fallback)
{
	return std::chrono::seconds(std::strtol(env_or(name, std::to_string(fallback)).c_str(), nullptr, 10));
}

// Loads smith.ko for the shared lkm daemon unless it is loaded; "" or why not.
std::string ensure_smith_loaded()
{
	if (module_loaded("smith"))
		return "";
	const int r = load_module_from_file(smith_ko(), "");
	return r == 0 ? "" : "loading " + smith_ko() + ": " + strerror(-r);
}

struct Shared {
	std::vector<std::unique_ptr<Smithd>> daemons;
	std::string failure; // why they could not start; later test cases fail with it at once
	bool started = false;
};

Shared &shared()
{
	static Shared s;
	return s;
}

} // namespace

const std::vector<std::string> &backends_under_test()
{
	static const std::vector<std::string> backends = [] {
		std::vector<std::string> out;
		std::stringstream list(env_or("SMITH_TEST_BACKENDS", "ebpf"));
		for (std::string b; std::getline(list, b, ',');)
			if (!b.empty())
				out.push_back(b);
		return out;
	}();
	return backends;
}

bool testing_backend(const std::string &backend)
{
	const auto &b = backends_under_test();
	return std::find(b.begin(), b.end(), backend) != b.end();
}

std::chrono::milliseconds event_timeout()
{
	return env_seconds("SMITH_TEST_EVENT_TIMEOUT", 10);
}

std::chrono::seconds start_timeout()
{
	return env_seconds("SMITH_TEST_START_TIMEOUT", 90);
}

std::string smith_ko()
{
	return env_or("SMITH_TEST_MODULE_DIR", "/opt/smith/modules") + "/smith.ko";
}

std::string test_module_ko()
{
	return env_or("SMITH_TEST_MODULE_DIR", "/opt/smith/modules") + "/" + kTestModule + ".ko";
}

std::string quickest_backend()
{
	return testing_backend("lkm") ? "lkm" : backends_under_test().at(0);
}

SmithdOptions daemon_options(const std::string &backend)
{
	SmithdOptions o;
	o.label = backend;
	o.backend = backend == "ebpf" ? "auto" : backend;
	return o;
}

SmithdOptions sink_daemon_options(std::vector<std::string> extra, bool file_sink)
{
	SmithdOptions o = daemon_options(backends_under_test().at(0));
	o.extra = std::move(extra);
	o.file_sink = file_sink;
	return o;
}

std::vector<Smithd *> shared_daemons()
{
	Shared &s = shared();
	if (!s.started) {
		s.started = true;
		require_root();
		if (testing_backend("lkm"))
			s.failure = ensure_smith_loaded();
		const auto t0 = std::chrono::steady_clock::now();
		if (s.failure.empty()) {
			// Started together: the verifier's work on an emulated CPU overlaps.
			for (const auto &b : backends_under_test())
				s.daemons.push_back(std::make_unique<Smithd>(daemon_options(b), false));
			for (auto &d : s.daemons) {
				const std::string why = d->wait_ready(start_timeout());
				if (!why.empty())
					s.failure += why + "\n";
			}
		}
		if (s.failure.empty()) {
			std::vector<Smithd *> ds;
			for (auto &d : s.daemons)
				ds.push_back(d.get());
			s.failure = exec_marker(ds, "smith-e2e-start");
		}
		const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
			std::chrono::steady_clock::now() - t0);
		std::cout << "e2e: " << s.daemons.size() << " shared daemons ("
			  << env_or("SMITH_TEST_BACKENDS", "ebpf") << ") ready after " << secs.count() << " s"
			  << std::endl;
	}
	if (!s.failure.empty())
		FAIL("the shared daemons did not start:\n" << s.failure);
	std::vector<Smithd *> out;
	for (auto &d : s.daemons)
		out.push_back(d.get());
	return out;
}

std::vector<std::pair<std::string, std::string>> comparable_fields(const Event &e)
{
	simdjson::dom::parser parser;
	simdjson::dom::object obj;
	std::vector<std::pair<std::string, std::string>> out;
	if (parser.parse(e.line()).get_object().get(obj) != simdjson::SUCCESS)
		return out;
	for (auto field : obj) {
		const std::string_view key = field.key;
		if (key == "seq" || key == "run_id" || key == "ts" || key == "backend")
			continue;
		out.emplace_back(std::string(key), simdjson::minify(field.value));
	}
	return out;
}

std::vector<Event> expect_in_every_backend(const std::string &what, const EventPredicate &pred,
					   const EventCheck &check, int64_t pid_hint)
{
	std::vector<Event> got;
	const auto ds = shared_daemons();
	for (Smithd *d : ds) {
		Event e = d->wait_for(what, pred, event_timeout(), pid_hint);
		INFO("[" << d->label() << "] " << what << "\nevent: " << e.line().substr(0, 4000));
		check(e, *d);
		got.push_back(std::move(e));
	}
	for (size_t i = 1; i < got.size(); ++i) {
		const auto a = comparable_fields(got[0]), b = comparable_fields(got[i]);
		INFO(ds[0]->label() << ": " << got[0].line() << "\n"
				    << ds[i]->label() << ": " << got[i].line());
		REQUIRE(a.size() == b.size());
		for (size_t k = 0; k < a.size(); ++k) {
			INFO("field " << k << ": " << a[k].first);
			CHECK(a[k].first == b[k].first);
			CHECK(a[k].second == b[k].second);
		}
	}
	return got;
}

void check_common(const Event &e, const std::string &type, const Smithd &d)
{
	static const std::map<std::string, int64_t> data_types = {{"execve", 59},
								  {"connect", 42},
								  {"init_module", 175},
								  {"finit_module", 313},
								  {"connect_suppressed", 1042}};
	INFO("[" << d.label() << "] event: " << e.line().substr(0, 4000));
	CHECK(e.keys() == expected_keys(type));
	CHECK(e.i64("schema") == 1);
	CHECK(e.str("type") == type);
	CHECK(e.i64("data_type") == data_types.at(type));
	CHECK(e.str("backend") == d.expected_backend());
	CHECK(e.str("hostname") == host_name());
	CHECK(e.str("host_id") == machine_id());
	CHECK(e.u64("seq") > 0);
	const std::string run_id = e.str("run_id");
	CHECK(run_id.size() == 32);
	CHECK(run_id.find_first_not_of("0123456789abcdef") == std::string::npos);
	const uint64_t ts = e.u64("ts"), now = now_ns();
	const uint64_t slack =
		static_cast<uint64_t>(std::chrono::nanoseconds(event_timeout()).count()) + 5000000000ULL;
	CHECK(ts + slack >= now);
	CHECK(ts <= now + 5000000000ULL);
	CHECK(e.str("container_id") == "");
	// The process itself heads its pid_tree, its parent follows.
	const std::vector<std::string> tree = e.strings("pid_tree");
	REQUIRE(!tree.empty());
	CHECK(tree.size() <= 12);
	CHECK(tree[0].substr(0, tree[0].find(':')) == std::to_string(e.pid()));
	if (tree.size() > 1)
		CHECK(tree[1].substr(0, tree[1].find(':')) == std::to_string(e.i64("ppid")));
	if (e.boolean("pid_tree_truncated"))
		CHECK(tree.size() == 12);
}

void check_inherited_context(const Event &e)
{
	INFO("event: " << e.line().substr(0, 4000));
	CHECK(e.i64("uid") == 0);
	CHECK(e.i64("gid") == 0);
	CHECK(e.i64("euid") == 0);
	CHECK(e.i64("egid") == 0);
	CHECK(e.str("user") == "root");
	CHECK(e.i64("pgid") == getpgrp());
	CHECK(e.i64("sid") == getsid(0));
	if (auto tty = expected_tty())
		CHECK(e.str("tty") == *tty);
	CHECK(e.i64("sessionid") == expected_sessionid());
	CHECK(e.u64("pidns") == ns_inode("pid"));
	CHECK(e.u64("mntns") == ns_inode("mnt"));
	CHECK(e.u64("netns") == ns_inode("net"));
	if (auto cg = cgroup_v2_id())
		CHECK(e.u64("cgroup_id") == *cg);
	else
		CHECK_NOTHROW(e.u64("cgroup_id"));
}

std::string exec_marker(const std::vector<Smithd *> &ds, const std::string &word)
{
	pid_t child = spawn([&] { execl("/bin/true", "/bin/true", word.c_str(), nullptr); });
	if (child <= 0 || wait_exit(child) != 0)
		return "marker exec " + word + " failed";
	for (Smithd *d : ds)
		if (!d->find([&](const Event &e) { return e.type() == "execve" && e.pid() == child; },
			     event_timeout()))
			return "[" + d->label() + "] never reported the marker exec " + word;
	return "";
}

long marker_index(Smithd &d, const std::string &word)
{
	const auto &evs = d.poll();
	for (size_t i = 0; i < evs.size(); ++i)
		if (evs[i].type() == "execve" && evs[i].str("filename") == "/bin/true") {
			const auto argv = evs[i].strings("argv");
			if (argv.size() == 2 && argv[1] == word)
				return static_cast<long>(i);
		}
	return -1;
}

void check_contiguous_seq(Smithd &d)
{
	const auto &evs = d.poll();
	INFO("[" << d.label() << "] " << evs.size() << " events");
	CHECK(d.bad_lines().empty());
	uint64_t want = 1;
	for (const auto &e : evs) {
		if (e.u64("seq") != want) {
			FAIL_CHECK("seq " << e.u64("seq") << " where " << want << " was due: " << e.line());
			return;
		}
		++want;
	}
}

} // namespace smith::e2e
