// The checks run inside a guest kernel (tests/vm/run-vm.sh boots it): the host's end-to-end behaviours,
// against every backend at once.
//
// One smithd per backend runs over the same actions: `--backend=auto` (which must pick ebpf on these
// kernels) and, when the image has smith.ko, `--backend=lkm`. Every action's event is checked field by
// field in each daemon's output, and the daemons' events are compared with each other: apart from
// backend, seq, run_id and ts they must be identical. The daemons start once, in the first test case,
// because the BPF programs' load takes minutes on an emulated CPU; test cases therefore run in
// declaration order (--order decl) and the last shared one stops them.
//
// Test cases tagged [lkm] need smith.ko (/opt/smith/modules/smith.ko) and the lkm backend. Whether the
// image has the module decides whether the lkm daemon runs; run-vm.sh excludes [lkm] when it has none.
#include "guest_daemon.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <simdjson.h>

#include "smith/lkm_ring.h"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

using namespace smith::e2e;
using namespace smith::vm;

namespace {

constexpr auto kEventTimeout = 120s; // from action to event, on an emulated CPU
const std::string kTestModule = "smith_test_mod";

std::string smith_ko()
{
	return module_dir() + "/smith.ko";
}

std::string test_module_ko()
{
	return module_dir() + "/" + kTestModule + ".ko";
}

bool have_lkm()
{
	return access(smith_ko().c_str(), R_OK) == 0;
}

// The backend whose name a daemon's events carry.
std::string expected_backend(const Daemon &d)
{
	return d.options().backend == "lkm" ? "lkm" : "ebpf";
}

// The daemons that see every action, started once.
struct Shared {
	std::vector<std::unique_ptr<Daemon>> daemons;
	std::string failure; // why they could not start; later test cases fail with it at once
	bool started = false;
};

Shared &shared()
{
	static Shared s;
	return s;
}

// Runs `/bin/true <word>` and waits until every daemon in `ds` reported it; "" or why not. The markers
// bound the stretch of events that every daemon saw from start to end.
std::string exec_marker(const std::vector<std::unique_ptr<Daemon>> &ds, const std::string &word)
{
	pid_t child = spawn([&] { execl("/bin/true", "/bin/true", word.c_str(), nullptr); });
	if (child <= 0 || wait_exit(child, 60s) != 0)
		return "marker exec " + word + " failed";
	for (auto &d : ds)
		if (!d->find([&](const Event &e) { return e.type() == "execve" && e.pid() == child; },
			     kEventTimeout))
			return "[" + d->label() + "] never reported the marker exec " + word;
	return "";
}

// Position of the marker exec `word` in a daemon's events, or -1.
long marker_index(Daemon &d, const std::string &word)
{
	const auto &evs = d.poll();
	for (size_t i = 0; i < evs.size(); ++i)
		if (evs[i].type() == "execve" && evs[i].str("filename") == "/bin/true") {
			auto argv = evs[i].strings("argv");
			if (argv.size() == 2 && argv[1] == word)
				return static_cast<long>(i);
		}
	return -1;
}

// Loads smith.ko with `params` unless it is loaded; returns 0 or -errno.
int ensure_smith_loaded(const std::string &params)
{
	if (module_loaded("smith"))
		return 0;
	return load_module_from_file(smith_ko(), params);
}

std::vector<std::unique_ptr<Daemon>> &daemons()
{
	Shared &s = shared();
	if (!s.started) {
		s.started = true;
		s.daemons.push_back(std::make_unique<Daemon>(DaemonOptions{"auto", "auto", {}, false}));
		if (have_lkm()) {
			int r = ensure_smith_loaded("");
			if (r != 0)
				s.failure = "loading " + smith_ko() + ": " + strerror(-r);
			s.daemons.push_back(std::make_unique<Daemon>(DaemonOptions{"lkm", "lkm", {}, false}));
		}
		auto t0 = std::chrono::steady_clock::now();
		if (s.failure.empty()) {
			for (auto &d : s.daemons)
				d->start();
			for (auto &d : s.daemons) {
				std::string why = d->wait_ready(start_timeout());
				if (!why.empty())
					s.failure += why + "\n";
			}
		}
		if (s.failure.empty())
			s.failure = exec_marker(s.daemons, "smith-vm-start");
		auto secs = std::chrono::duration_cast<std::chrono::seconds>(
			std::chrono::steady_clock::now() - t0);
		std::cout << "vm: " << s.daemons.size() << " daemons ready after " << secs.count() << " s"
			  << std::endl;
	}
	if (!s.failure.empty())
		FAIL("the shared daemons did not start:\n" << s.failure);
	return s.daemons;
}

// (key, minified JSON value) pairs of an event line, in line order.
std::vector<std::pair<std::string, std::string>> fields_of(const std::string &line)
{
	simdjson::dom::parser parser;
	simdjson::dom::object obj;
	std::vector<std::pair<std::string, std::string>> out;
	if (parser.parse(line).get_object().get(obj) != simdjson::SUCCESS)
		return out;
	for (auto field : obj)
		out.emplace_back(std::string(field.key), simdjson::minify(field.value));
	return out;
}

// The event without what differs by design between two daemons.
std::vector<std::pair<std::string, std::string>> normalized(const Event &e)
{
	auto f = fields_of(e.line());
	f.erase(std::remove_if(f.begin(), f.end(),
			       [](const auto &kv) {
				       return kv.first == "seq" || kv.first == "run_id" || kv.first == "ts" ||
					      kv.first == "backend";
			       }),
		f.end());
	return f;
}

void check_same_event(const Event &a, const std::string &a_label, const Event &b, const std::string &b_label)
{
	auto na = normalized(a), nb = normalized(b);
	INFO(a_label << ": " << a.line() << "\n" << b_label << ": " << b.line());
	REQUIRE(na.size() == nb.size());
	for (size_t i = 0; i < na.size(); ++i) {
		INFO("field " << i << ": " << na[i].first);
		CHECK(na[i].first == nb[i].first);
		CHECK(na[i].second == nb[i].second);
	}
}

// What every event of a daemon holds: the schema's key order, data_type, the daemon's backend, the
// guest's hostname and machine id, a run id, a plausible time and no container.
void check_common(const Event &e, const std::string &type, const std::string &backend)
{
	static const std::map<std::string, int64_t> data_types = {
		{"execve", 59}, {"connect", 42}, {"init_module", 175}, {"finit_module", 313}};
	INFO("event: " << e.line());
	CHECK(e.keys() == expected_keys(type));
	CHECK(e.i64("schema") == 1);
	CHECK(e.str("type") == type);
	CHECK(e.i64("data_type") == data_types.at(type));
	CHECK(e.str("backend") == backend);
	CHECK(e.str("hostname") == host_name());
	CHECK(e.str("host_id") == machine_id());
	CHECK(e.u64("seq") > 0);
	const std::string run_id = e.str("run_id");
	CHECK(run_id.size() == 32);
	CHECK(run_id.find_first_not_of("0123456789abcdef") == std::string::npos);
	const uint64_t ts = e.u64("ts"), now = now_ns();
	CHECK(ts + 120000000000ULL >= now);
	CHECK(ts <= now + 5000000000ULL);
	CHECK(e.str("container_id") == "");
}

// Waits for the event matching `pred` in every shared daemon, runs `check` on each (with the backend it
// must name), and compares the daemons' events with each other.
void expect_in_every_backend(const std::string &what, const EventPredicate &pred,
			     const std::function<void(const Event &, const std::string &backend)> &check,
			     int64_t pid_hint)
{
	auto &ds = daemons();
	std::vector<std::pair<const Daemon *, Event>> got;
	for (auto &d : ds) {
		auto e = d->find(pred, kEventTimeout);
		if (!e) {
			FAIL("[" << d->label() << "] no event matching: " << what << " within "
				 << kEventTimeout.count() << " s (" << d->poll().size() << " events read)\n"
				 << "events of pid " << pid_hint << ":\n"
				 << d->lines_of_pid(pid_hint) << "---- log ----\n"
				 << d->log());
		}
		INFO("[" << d->label() << "] " << what);
		check(*e, expected_backend(*d));
		got.emplace_back(d.get(), std::move(*e));
	}
	for (size_t i = 1; i < got.size(); ++i)
		check_same_event(got[0].second, got[0].first->label(), got[i].second, got[i].first->label());
}

std::vector<char *> c_strings(std::vector<std::string> &v)
{
	std::vector<char *> out;
	for (auto &s : v)
		out.push_back(s.data());
	out.push_back(nullptr);
	return out;
}

std::optional<Status> status_of(const Daemon &d)
{
	std::string err;
	std::string json = d.status_json();
	auto s = parse_status(json, &err);
	INFO("[" << d.label() << "] status: " << json << " " << err);
	CHECK(s.has_value());
	return s;
}

// seq runs 1, 2, 3, ... in the order of the output file: no event was lost between kernel and sink.
void check_contiguous_seq(Daemon &d)
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

// /dev/smith opened and mapped the way the daemon does it, by a reader that never consumes: the rings
// fill and the module has to drop and count.
class StalledReader {
public:
	StalledReader()
	{
		fd_ = open(SMITH_LKM_DEVICE, O_RDWR | O_CLOEXEC);
		if (fd_ < 0) {
			error_ = std::string("open " SMITH_LKM_DEVICE ": ") + strerror(errno);
			return;
		}
		void *first = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd_, 0);
		if (first == MAP_FAILED) {
			error_ = std::string("mmap of the info page: ") + strerror(errno);
			return;
		}
		map_bytes_ = static_cast<const smith_lkm_info *>(first)->map_bytes;
		munmap(first, 4096);
		void *all = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
		if (all == MAP_FAILED) {
			error_ = "mmap of " + std::to_string(map_bytes_) + " bytes: " + strerror(errno);
			return;
		}
		base_ = static_cast<char *>(all);
	}
	~StalledReader()
	{
		if (base_)
			munmap(base_, map_bytes_);
		if (fd_ >= 0)
			close(fd_);
	}
	StalledReader(const StalledReader &) = delete;
	StalledReader &operator=(const StalledReader &) = delete;

	const std::string &error() const { return error_; }
	const smith_lkm_info &info() const { return *reinterpret_cast<const smith_lkm_info *>(base_); }
	const volatile smith_lkm_ring_ctl &ring(uint32_t i) const
	{
		return *reinterpret_cast<const volatile smith_lkm_ring_ctl *>(base_ + info().ring_offset +
									      i * info().ring_stride);
	}
	uint64_t drops(unsigned hook) const
	{
		uint64_t n = 0;
		for (uint32_t i = 0; i < info().nr_rings; ++i)
			n += ring(i).drops[hook];
		return n;
	}
	void close_device()
	{
		if (base_)
			munmap(base_, map_bytes_);
		base_ = nullptr;
		if (fd_ >= 0)
			close(fd_);
		fd_ = -1;
	}

private:
	int fd_ = -1;
	char *base_ = nullptr;
	uint64_t map_bytes_ = 0;
	std::string error_;
};

} // namespace

TEST_CASE("vm: smith.ko stays loaded while /dev/smith is open, and a reader that never reads gets counted "
	  "drops",
	  "[vm][lkm][lkm-direct]")
{
	REQUIRE(have_lkm());
	if (module_loaded("smith"))
		REQUIRE(unload_module("smith") == 0);
	REQUIRE(load_module_from_file(smith_ko(), "ring_kb=64") == 0);
	{
		StalledReader reader;
		REQUIRE(reader.error().empty());
		const smith_lkm_info &info = reader.info();
		CHECK(info.magic == SMITH_LKM_MAGIC);
		CHECK(info.transport_version == SMITH_LKM_TRANSPORT_VERSION);
		CHECK(info.record_abi == SMITH_ABI_VERSION);
		CHECK(info.ring_bytes == 64 * 1024);
		CHECK(info.nr_rings >= 2);
		CHECK((info.hooks_armed & (1u << SMITH_HOOK_CONNECT)) != 0);

		const int refused = unload_module("smith");
		INFO("delete_module(smith) with /dev/smith open returned " << refused);
		CHECK((refused == -EAGAIN || refused == -EBUSY));
		REQUIRE(module_loaded("smith"));

		constexpr int kCalls = 4000;
		for (int i = 0; i < kCalls; ++i) {
			Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
			REQUIRE(sock.get() >= 0);
			REQUIRE(connect_to(sock.get(), AF_INET, "127.0.0.1", 9) == 0);
		}
		uint64_t used = 0;
		for (uint32_t i = 0; i < info.nr_rings; ++i) {
			INFO("ring " << i);
			CHECK(reader.ring(i).tail == 0);
			CHECK(reader.ring(i).head <= info.ring_bytes);
			used += reader.ring(i).head;
		}
		const uint64_t drops = reader.drops(SMITH_HOOK_CONNECT);
		std::cout << "vm: stalled /dev/smith reader: " << drops << " connect drops of " << kCalls
			  << " calls, " << used << " bytes queued" << std::endl;
		CHECK(drops > 0);
		CHECK(drops < static_cast<uint64_t>(kCalls));
		reader.close_device();
	}
	CHECK(unload_module("smith") == 0);
	CHECK(!module_loaded("smith"));
}

TEST_CASE("vm: the daemons start, auto picks ebpf, every hook attaches", "[vm][ebpf]")
{
	struct utsname u {};
	uname(&u);
	std::cout << "vm: kernel " << u.release << ", smith.ko " << (have_lkm() ? "present" : "absent")
		  << std::endl;
	REQUIRE(access("/sys/kernel/btf/vmlinux", R_OK) == 0);
	for (auto &d : daemons()) {
		auto s = status_of(*d);
		REQUIRE(s);
		INFO("[" << d->label() << "] backend " << s->backend << ": " << s->backend_reason);
		std::cout << "vm: [" << d->label() << "] backend " << s->backend << " (" << s->backend_reason
			  << ")" << std::endl;
		CHECK(s->backend == expected_backend(*d));
		CHECK(!s->backend_reason.empty());
		for (const char *hook : {"execve", "connect", "init_module", "finit_module"}) {
			INFO("hook " << hook);
			CHECK(s->hook_state[hook] == "attached");
		}
	}
}

TEST_CASE("vm: exec with argv and cwd", "[vm][ebpf]")
{
	daemons();
	TempDir base("smith-vm-cwd-");
	const std::string cwd = base.path() + "/dir \xC3\xA9 x";
	REQUIRE(mkdir(cwd.c_str(), 0755) == 0);
	Fd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
	REQUIRE(devnull.get() >= 0);
	std::vector<std::string> argv = {"/bin/echo", "hello world", "quote\"back\\slash"};
	std::vector<std::string> envp = {"PATH=/bin"};
	auto c_argv = c_strings(argv);
	auto c_envp = c_strings(envp);
	pid_t child = spawn([&] {
		if (chdir(cwd.c_str()) != 0)
			_exit(126);
		dup2(devnull.get(), 0);
		dup2(devnull.get(), 1);
		execve("/bin/echo", c_argv.data(), c_envp.data());
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child, 60s) == 0);

	expect_in_every_backend(
		"execve of /bin/echo by pid " + std::to_string(child),
		[&](const Event &e) {
			return e.type() == "execve" && e.pid() == child && e.str("filename") == "/bin/echo";
		},
		[&](const Event &e, const std::string &backend) {
			INFO("event: " << e.line());
			check_common(e, "execve", backend);
			check_inherited_context(e);
			CHECK(e.i64("pid") == child);
			CHECK(e.i64("tid") == child);
			CHECK(e.i64("ppid") == getpid());
			CHECK(e.str("nodename") == uts_nodename());
			CHECK(e.str("comm") == "echo");
			CHECK(e.str("exe") == real_path("/bin/echo"));
			CHECK(e.str("cwd") == cwd);
			CHECK(e.str("filename") == "/bin/echo");
			CHECK(e.strings("argv") == argv);
			CHECK(e.boolean("argv_truncated") == false);
			CHECK(e.str("stdin") == "/dev/null");
			CHECK(e.str("stdout") == "/dev/null");
			CHECK(e.str("ld_preload") == "");
			CHECK(e.i64("retval") == 0);
		},
		child);
}

TEST_CASE("vm: a failed exec reports -ENOENT", "[vm][ebpf]")
{
	daemons();
	TempDir base("smith-vm-cwd-");
	const std::string cwd = base.path();
	std::vector<std::string> argv = {"smith-missing", "a", "b c"};
	std::vector<std::string> envp = {"PATH=/bin"};
	auto c_argv = c_strings(argv);
	auto c_envp = c_strings(envp);
	pid_t child = spawn([&] {
		if (chdir(cwd.c_str()) != 0)
			_exit(126);
		execve("/nonexistent/smith-missing", c_argv.data(), c_envp.data());
		_exit(127);
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child, 60s) == 127);

	expect_in_every_backend(
		"failed execve by pid " + std::to_string(child),
		[&](const Event &e) { return e.type() == "execve" && e.pid() == child; },
		[&](const Event &e, const std::string &backend) {
			INFO("event: " << e.line());
			check_common(e, "execve", backend);
			check_inherited_context(e);
			CHECK(e.i64("pid") == child);
			CHECK(e.i64("tid") == child);
			CHECK(e.i64("ppid") == getpid());
			CHECK(e.str("filename") == "/nonexistent/smith-missing");
			CHECK(e.strings("argv") == argv);
			CHECK(e.boolean("argv_truncated") == false);
			CHECK(e.i64("retval") == -ENOENT);
			CHECK(e.str("exe") == self_exe());
			CHECK(e.str("comm") == self_comm());
			CHECK(e.str("cwd") == cwd);
			CHECK(e.str("ld_preload") == "");
		},
		child);
}

TEST_CASE("vm: UDP and TCP connects over IPv4 and IPv6 with the 5-tuple", "[vm][ebpf]")
{
	daemons();
	struct Case {
		int family, sock_type;
		std::string addr;
	};
	auto c = GENERATE(Case{AF_INET, SOCK_DGRAM, "127.0.0.1"}, Case{AF_INET6, SOCK_DGRAM, "::1"},
			  Case{AF_INET, SOCK_STREAM, "127.0.0.1"}, Case{AF_INET6, SOCK_STREAM, "::1"});
	const std::string protocol = c.sock_type == SOCK_STREAM ? "tcp" : "udp";
	const std::string family = c.family == AF_INET ? "ipv4" : "ipv6";
	INFO(protocol << " over " << family);

	Fd listener;
	uint16_t dport = 9;
	if (c.sock_type == SOCK_STREAM) {
		listener.reset(tcp_listener(c.family));
		REQUIRE(listener.get() >= 0);
		dport = local_endpoint(listener.get()).port;
	}
	Fd sock(socket(c.family, c.sock_type | SOCK_CLOEXEC, 0));
	REQUIRE(sock.get() >= 0);
	REQUIRE(connect_to(sock.get(), c.family, c.addr, dport) == 0);
	const Endpoint local = local_endpoint(sock.get());
	REQUIRE(local.port != 0);

	expect_in_every_backend(
		protocol + " connect to " + c.addr + ":" + std::to_string(dport),
		[&](const Event &e) {
			return e.type() == "connect" && e.pid() == getpid() &&
			       e.str("protocol") == protocol && e.str("daddr") == c.addr &&
			       e.i64("dport") == dport && e.i64("sport") == local.port;
		},
		[&](const Event &e, const std::string &backend) {
			INFO("event: " << e.line());
			check_common(e, "connect", backend);
			check_inherited_context(e);
			CHECK(e.i64("pid") == getpid());
			CHECK(e.i64("tid") == gettid());
			CHECK(e.i64("ppid") == getppid());
			CHECK(e.str("comm") == self_comm());
			CHECK(e.str("exe") == self_exe());
			CHECK(e.str("nodename") == uts_nodename());
			CHECK(e.str("family") == family);
			CHECK(e.str("protocol") == protocol);
			CHECK(e.str("saddr") == local.addr);
			CHECK(e.i64("sport") == local.port);
			CHECK(e.str("daddr") == c.addr);
			CHECK(e.i64("dport") == dport);
			CHECK(e.i64("retval") == 0);
		},
		getpid());
}

TEST_CASE("vm: nodename in a new UTS namespace", "[vm][ebpf]")
{
	daemons();
	const std::string nodename = "smith-vm-uts";
	const std::string host = host_name();
	REQUIRE(host != nodename);
	std::vector<std::string> argv = {"/bin/true", "in-uts-ns"};
	std::vector<std::string> envp = {"PATH=/bin"};
	auto c_argv = c_strings(argv);
	auto c_envp = c_strings(envp);
	// The child execs only once its connect was reported: smithd takes a connect's exe and cwd from
	// /proc when it first sees the process, and they must still be this program's then.
	int go[2];
	REQUIRE(pipe2(go, O_CLOEXEC) == 0);
	Fd go_read(go[0]), go_write(go[1]);
	pid_t child = spawn([&] {
		go_write.reset();
		if (unshare(CLONE_NEWUTS) != 0)
			_exit(120);
		if (sethostname(nodename.data(), nodename.size()) != 0)
			_exit(121);
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		if (s < 0 || connect_to(s, AF_INET, "127.0.0.1", 9) != 0)
			_exit(122);
		close(s);
		char byte;
		if (read(go_read.get(), &byte, 1) != 1)
			_exit(123);
		execve("/bin/true", c_argv.data(), c_envp.data());
	});
	REQUIRE(child > 0);
	go_read.reset();

	expect_in_every_backend(
		"udp connect by pid " + std::to_string(child) + " in its UTS namespace",
		[&](const Event &e) { return e.type() == "connect" && e.pid() == child; },
		[&](const Event &e, const std::string &backend) {
			INFO("event: " << e.line());
			check_common(e, "connect", backend);
			CHECK(e.str("nodename") == nodename);
			CHECK(e.str("hostname") == host);
			CHECK(e.str("protocol") == "udp");
			CHECK(e.str("daddr") == "127.0.0.1");
			CHECK(e.i64("dport") == 9);
			CHECK(e.i64("retval") == 0);
			CHECK(e.str("exe") == self_exe());
			CHECK(e.str("cwd") == current_dir());
		},
		child);
	REQUIRE(write(go_write.get(), "x", 1) == 1);
	REQUIRE(wait_exit(child, 60s) == 0);
	expect_in_every_backend(
		"execve of /bin/true by pid " + std::to_string(child) + " in its UTS namespace",
		[&](const Event &e) { return e.type() == "execve" && e.pid() == child; },
		[&](const Event &e, const std::string &backend) {
			INFO("event: " << e.line());
			check_common(e, "execve", backend);
			CHECK(e.str("nodename") == nodename);
			CHECK(e.str("hostname") == host);
			CHECK(e.strings("argv") == argv);
			CHECK(e.i64("retval") == 0);
		},
		child);
	CHECK(uts_nodename() != nodename);
}

TEST_CASE("vm: module loads through init_module and finit_module", "[vm][ebpf]")
{
	daemons();
	REQUIRE(access(test_module_ko().c_str(), R_OK) == 0);
	const std::string path = real_path(test_module_ko());
	if (module_loaded(kTestModule))
		REQUIRE(unload_module(kTestModule) == 0);

	auto check_module_event = [&](const Event &e, const std::string &backend, const std::string &type,
				      const std::string &module_path, const std::string &params,
				      int64_t retval) {
		INFO("event: " << e.line());
		check_common(e, type, backend);
		check_inherited_context(e);
		CHECK(e.i64("pid") == getpid());
		CHECK(e.i64("tid") == gettid());
		CHECK(e.str("comm") == self_comm());
		CHECK(e.str("exe") == self_exe());
		CHECK(e.str("module_path") == module_path);
		CHECK(e.str("params") == params);
		CHECK(e.i64("retval") == retval);
	};

	SECTION("init_module")
	{
		const std::string params = "greeting=from-init_module";
		REQUIRE(load_module_from_memory(path, params) == 0);
		REQUIRE(module_loaded(kTestModule));
		expect_in_every_backend(
			"init_module of " + kTestModule,
			[&](const Event &e) { return e.type() == "init_module" && e.pid() == getpid(); },
			[&](const Event &e, const std::string &backend) {
				check_module_event(e, backend, "init_module", "", params, 0);
				CHECK(e.str("module") == kTestModule);
			},
			getpid());
		CHECK(unload_module(kTestModule) == 0);
	}
	SECTION("finit_module, then a second load refused with -EEXIST")
	{
		const std::string params = "greeting=from-finit_module";
		REQUIRE(load_module_from_file(path, params) == 0);
		REQUIRE(module_loaded(kTestModule));
		REQUIRE(load_module_from_file(path, "greeting=again") == -EEXIST);
		expect_in_every_backend(
			"finit_module of " + path,
			[&](const Event &e) {
				return e.type() == "finit_module" && e.pid() == getpid() &&
				       e.i64("retval") == 0;
			},
			[&](const Event &e, const std::string &backend) {
				check_module_event(e, backend, "finit_module", path, params, 0);
				CHECK(e.str("module") == kTestModule);
			},
			getpid());
		expect_in_every_backend(
			"refused finit_module of " + path,
			[&](const Event &e) {
				return e.type() == "finit_module" && e.pid() == getpid() &&
				       e.i64("retval") != 0;
			},
			[&](const Event &e, const std::string &backend) {
				check_module_event(e, backend, "finit_module", path, "greeting=again",
						   -EEXIST);
			},
			getpid());
		CHECK(unload_module(kTestModule) == 0);
	}
}

TEST_CASE("vm: both backends report the same events from start to end", "[vm][lkm]")
{
	auto &ds = daemons();
	REQUIRE(ds.size() >= 2);
	const std::string end_marker = exec_marker(ds, "smith-vm-end");
	INFO(end_marker);
	REQUIRE(end_marker.empty());
	// Every event between the markers, normalized; the rings of different CPUs may interleave
	// differently in each backend, so the comparison is of sorted lists.
	std::vector<std::vector<std::string>> seen;
	for (auto &d : ds) {
		const long from = marker_index(*d, "smith-vm-start"), to = marker_index(*d, "smith-vm-end");
		INFO("[" << d->label() << "] markers at " << from << " and " << to);
		REQUIRE(from >= 0);
		REQUIRE(to > from);
		std::vector<std::string> lines;
		for (long i = from; i <= to; ++i) {
			std::string line;
			for (auto &[key, value] : normalized(d->poll()[i]))
				line += key + "=" + value + " ";
			lines.push_back(line);
		}
		std::sort(lines.begin(), lines.end());
		seen.push_back(std::move(lines));
	}
	std::cout << "vm: " << seen[0].size() << " events between the markers in each backend" << std::endl;
	for (size_t k = 1; k < seen.size(); ++k) {
		INFO(ds[0]->label() << " vs " << ds[k]->label());
		CHECK(seen[k].size() == seen[0].size());
		std::vector<std::string> only_first, only_other;
		std::set_difference(seen[0].begin(), seen[0].end(), seen[k].begin(), seen[k].end(),
				    std::back_inserter(only_first));
		std::set_difference(seen[k].begin(), seen[k].end(), seen[0].begin(), seen[0].end(),
				    std::back_inserter(only_other));
		for (auto &line : only_first)
			FAIL_CHECK("only in " << ds[0]->label() << ": " << line);
		for (auto &line : only_other)
			FAIL_CHECK("only in " << ds[k]->label() << ": " << line);
	}
}

TEST_CASE("vm: rmmod smith is refused while the lkm daemon runs and succeeds after it stops", "[vm][lkm]")
{
	auto &ds = daemons();
	auto it = std::find_if(ds.begin(), ds.end(), [](auto &d) { return d->options().backend == "lkm"; });
	REQUIRE(it != ds.end());
	Daemon &lkm = **it;
	REQUIRE(lkm.running());
	REQUIRE(module_loaded("smith"));
	const int refused = unload_module("smith");
	INFO("delete_module(smith) returned " << refused);
	CHECK((refused == -EAGAIN || refused == -EBUSY));
	REQUIRE(module_loaded("smith"));

	// The daemon still reads: a new exec comes through.
	pid_t child = spawn([] { execl("/bin/true", "/bin/true", "after-refused-rmmod", nullptr); });
	REQUIRE(wait_exit(child, 60s) == 0);
	auto e = lkm.find([&](const Event &ev) { return ev.type() == "execve" && ev.pid() == child; },
			  kEventTimeout);
	CHECK(e.has_value());

	check_contiguous_seq(lkm);
	auto s = status_of(lkm);
	REQUIRE(s);
	for (auto &[hook, drops] : s->drops) {
		INFO("hook " << hook);
		CHECK(drops == 0);
	}
	CHECK(s->decode_errors == 0);
	const int code = lkm.terminate();
	INFO("---- lkm log ----\n" << lkm.log());
	CHECK(code == 0);
	CHECK(unload_module("smith") == 0);
	CHECK(!module_loaded("smith"));
}

TEST_CASE("vm: the shared daemons stop cleanly with every event in sequence", "[vm][ebpf]")
{
	for (auto &d : daemons()) {
		if (!d->running())
			continue;
		check_contiguous_seq(*d);
		auto s = status_of(*d);
		REQUIRE(s);
		for (auto &[hook, drops] : s->drops) {
			INFO("[" << d->label() << "] hook " << hook);
			CHECK(drops == 0);
		}
		CHECK(s->decode_errors == 0);
		const int code = d->terminate();
		INFO("---- " << d->label() << " log ----\n" << d->log());
		CHECK(code == 0);
	}
}

TEST_CASE("vm: auto picks lkm without BTF, and a stopped reader gets counted drops", "[vm][lkm][lkm-drops]")
{
	REQUIRE(have_lkm());
	if (module_loaded("smith"))
		REQUIRE(unload_module("smith") == 0);
	// This smithd loads smith.ko itself, with small rings so that a paused reader fills them quickly,
	// and unloads it when it stops.
	TempDir conf_dir("smith-vm-conf-");
	const std::string conf = conf_dir.file("smithd.yaml");
	{
		std::ofstream out(conf);
		out << "lkm_ring_kb: 64\n";
	}
	Daemon d(DaemonOptions{"auto-without-btf", "auto", {"--lkm-module=" + smith_ko()}, true, conf});
	d.start();
	const std::string why = d.wait_ready(start_timeout());
	INFO(why);
	REQUIRE(why.empty());
	REQUIRE(module_loaded("smith"));
	CHECK(smith::e2e::read_file("/sys/module/smith/parameters/ring_kb") == "64\n");
	auto s = status_of(d);
	REQUIRE(s);
	std::cout << "vm: [" << d.label() << "] backend " << s->backend << " (" << s->backend_reason << ")"
		  << std::endl;
	CHECK(s->backend == "lkm");
	CHECK(s->backend_reason.find("ebpf") != std::string::npos);

	// The reader stops; the calls go on and find the rings full.
	constexpr int kCalls = 4000;
	REQUIRE(kill(d.pid(), SIGSTOP) == 0);
	int failed = 0;
	for (int i = 0; i < kCalls; ++i) {
		Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
		if (sock.get() < 0 || connect_to(sock.get(), AF_INET, "127.0.0.1", 9) != 0)
			++failed;
	}
	REQUIRE(failed == 0);
	REQUIRE(kill(d.pid(), SIGCONT) == 0);

	// It reads again: a new exec comes through, and the drops are counted. The rings are full when the
	// reader resumes, so the first probes may be dropped too (and counted) until it has drained them.
	std::optional<Event> e;
	pid_t child = -1;
	for (int attempt = 0; attempt < 6 && !e; ++attempt) {
		child = spawn([] { execl("/bin/true", "/bin/true", "after-the-flood", nullptr); });
		REQUIRE(wait_exit(child, 60s) == 0);
		e = d.find([&](const Event &ev) { return ev.type() == "execve" && ev.pid() == child; }, 20s);
	}
	if (!e)
		FAIL("no execve of the probes after the reader resumed ("
		     << d.poll().size() << " events read)\nstatus: " << d.status_json() << "\n---- log ----\n"
		     << d.log());
	CHECK(e->str("backend") == "lkm");

	s = status_of(d);
	REQUIRE(s);
	const size_t seen = d.count([](const Event &ev) {
		return ev.type() == "connect" && ev.pid() == getpid() && ev.i64("dport") == 9;
	});
	INFO("connect events " << seen << " of " << kCalls << ", drops " << s->drops["connect"]);
	std::cout << "vm: stopped reader: " << seen << " connect events of " << kCalls << " calls, "
		  << s->drops["connect"] << " counted drops" << std::endl;
	CHECK(s->drops["connect"] > 0);
	CHECK(seen < static_cast<size_t>(kCalls));
	CHECK(seen + s->drops["connect"] == static_cast<size_t>(kCalls));
	check_contiguous_seq(d);

	const int code = d.terminate();
	INFO("---- log ----\n" << d.log());
	CHECK(code == 0);
	CHECK(!module_loaded("smith"));
}
