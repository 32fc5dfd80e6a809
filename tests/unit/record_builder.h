// Test-only builder of raw records, byte-exact per include/smith/abi.h: fixed
// part, then the tail strings back to back in enum order, hdr.fixed = the fixed
// part's size, hdr.size = total.
// Paths are given as text ("/usr/bin/echo") and encoded leaf first, or given
// already encoded through the *_raw fields to test the decoder's edge cases.
#pragma once

#include "smith/abi.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace smith::test {

// "/usr/bin/echo" -> "echo\0bin\0usr\0"; "/" -> "\0" (one empty component); "" -> "".
inline std::string encode_path(std::string_view path)
{
	if (path.empty())
		return {};
	std::vector<std::string_view> parts;
	size_t i = 0;
	while (i < path.size()) {
		const size_t slash = path.find('/', i);
		const size_t end = slash == std::string_view::npos ? path.size() : slash;
		if (end > i)
			parts.push_back(path.substr(i, end - i));
		i = end + 1;
	}
	if (parts.empty())
		return std::string(1, '\0');
	std::string out;
	for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
		out.append(*it);
		out.push_back('\0');
	}
	return out;
}

// Arguments each followed by NUL.
inline std::string encode_argv(const std::vector<std::string> &args)
{
	std::string out;
	for (const auto &a : args) {
		out.append(a);
		out.push_back('\0');
	}
	return out;
}

struct TaskSpec {
	uint64_t start_time = 1111;
	uint64_t cgroup_id = 7777;
	uint32_t pid = 4242;
	uint32_t tid = 4243;
	uint32_t ppid = 4000;
	uint32_t pgid = 4100;
	uint32_t sid = 4200;
	uint32_t uid = 1000;
	uint32_t gid = 1001;
	uint32_t euid = 1002;
	uint32_t egid = 1003;
	uint32_t sessionid = 5;
	uint32_t pidns = 4026531836u;
	uint32_t mntns = 4026531841u;
	uint32_t netns = 4026531840u;
	std::string comm = "bash";	 // copied up to 16 bytes; NUL-terminated when shorter
	std::string nodename = "node-1"; // copied up to 72 bytes
};

// A pid_tree (abi.h): the processes, the caller first.
struct PidTreeSpec {
	struct Entry {
		uint32_t pid;
		std::string comm; // copied up to 16 bytes
	};
	std::vector<Entry> entries = {{4242, "bash"}, {4000, "sshd"}, {1, "systemd"}};
	uint8_t flags = 0;	      // SMITH_PID_TREE_*
	std::optional<uint8_t> depth; // default: entries.size()
};

inline void fill_pid_tree(smith_pid_tree &t, const PidTreeSpec &s)
{
	const size_t n = std::min<size_t>(s.entries.size(), SMITH_PID_TREE_MAX);
	for (size_t i = 0; i < n; ++i) {
		t.pid[i] = s.entries[i].pid;
		std::memcpy(t.comm[i], s.entries[i].comm.data(),
			    std::min(s.entries[i].comm.size(), sizeof(t.comm[i])));
	}
	t.depth = s.depth.value_or(static_cast<uint8_t>(n));
	t.flags = s.flags;
}

struct HeaderSpec {
	uint16_t type = 0; // 0: the builder's own type
	uint16_t abi = SMITH_ABI_VERSION;
	uint64_t ts = 123456789;
	int64_t retval = 0;
	TaskSpec task;
	PidTreeSpec pid_tree; // for the records that carry one (not fork)
};

struct ExecSpec {
	HeaderSpec hdr;
	uint32_t flags = 0;
	std::optional<uint32_t> argc; // default: argv.size()
	smith_fd stdin_fd{};
	smith_fd stdout_fd{};
	std::string filename = "/usr/bin/echo";
	std::vector<std::string> argv = {"echo", "hello"};
	std::optional<std::string> argv_raw; // replaces the encoded argv
	std::string exe = "/usr/bin/echo";
	std::string cwd = "/home/user";
	std::string tty = "pts0";
	std::string ld_preload;
	std::string cgroup = "session-1.scope";
	std::string stdin_path;
	std::string stdout_path;
	// Already encoded (leaf first) replacements for the path strings above.
	std::optional<std::string> exe_raw, cwd_raw, stdin_path_raw, stdout_path_raw;
};

struct ConnectSpec {
	HeaderSpec hdr;
	smith_inet inet{};
	uint32_t flags = 0; // SMITH_CONNECT_*
	uint16_t via = SMITH_VIA_CONNECT;
};

struct ModuleSpec {
	HeaderSpec hdr; // hdr.type: SMITH_REC_INIT_MODULE (default) or SMITH_REC_FINIT_MODULE
	uint32_t flags = 0;
	std::string name = "dummy";
	std::string path; // text path; encoded leaf first
	std::optional<std::string> path_raw;
	std::string params = "numdummies=2";
};

inline void fill_header(smith_rec_hdr &h, const HeaderSpec &s, uint16_t default_type)
{
	h.type = s.type != 0 ? s.type : default_type;
	h.abi = s.abi;
	h.ts = s.ts;
	h.retval = s.retval;
	smith_task &t = h.task;
	t.start_time = s.task.start_time;
	t.cgroup_id = s.task.cgroup_id;
	t.pid = s.task.pid;
	t.tid = s.task.tid;
	t.ppid = s.task.ppid;
	t.pgid = s.task.pgid;
	t.sid = s.task.sid;
	t.uid = s.task.uid;
	t.gid = s.task.gid;
	t.euid = s.task.euid;
	t.egid = s.task.egid;
	t.sessionid = s.task.sessionid;
	t.pidns = s.task.pidns;
	t.mntns = s.task.mntns;
	t.netns = s.task.netns;
	std::memcpy(t.comm, s.task.comm.data(), std::min(s.task.comm.size(), sizeof(t.comm)));
	std::memcpy(t.nodename, s.task.nodename.data(), std::min(s.task.nodename.size(), sizeof(t.nodename)));
}

// Fixed part followed by the tails; fills `len` (a member of `fixed`), hdr.fixed and hdr.size.
template <typename Fixed, size_t N>
std::vector<std::byte> assemble(Fixed &fixed, __u16 (&len)[N], const std::array<std::string, N> &tails)
{
	size_t total = sizeof(Fixed);
	for (size_t i = 0; i < N; ++i) {
		if (tails[i].size() > 0xffff)
			throw std::length_error("tail string longer than a u16 length");
		len[i] = static_cast<__u16>(tails[i].size());
		total += tails[i].size();
	}
	fixed.hdr.size = static_cast<__u32>(total);
	fixed.hdr.fixed = sizeof(Fixed);
	std::vector<std::byte> out(total);
	std::memcpy(out.data(), &fixed, sizeof(Fixed));
	size_t off = sizeof(Fixed);
	for (const auto &t : tails) {
		std::memcpy(out.data() + off, t.data(), t.size());
		off += t.size();
	}
	return out;
}

inline std::vector<std::byte> build_execve(const ExecSpec &s)
{
	smith_execve e{};
	fill_header(e.hdr, s.hdr, SMITH_REC_EXECVE);
	fill_pid_tree(e.pid_tree, s.hdr.pid_tree);
	e.flags = s.flags;
	e.argc = s.argc.value_or(static_cast<uint32_t>(s.argv.size()));
	e.stdin_fd = s.stdin_fd;
	e.stdout_fd = s.stdout_fd;
	std::array<std::string, SMITH_EXEC_STR_COUNT> tails;
	tails[SMITH_EXEC_FILENAME] = s.filename;
	tails[SMITH_EXEC_ARGV] = s.argv_raw.value_or(encode_argv(s.argv));
	tails[SMITH_EXEC_EXE] = s.exe_raw.value_or(encode_path(s.exe));
	tails[SMITH_EXEC_CWD] = s.cwd_raw.value_or(encode_path(s.cwd));
	tails[SMITH_EXEC_TTY] = s.tty;
	tails[SMITH_EXEC_LD_PRELOAD] = s.ld_preload;
	tails[SMITH_EXEC_CGROUP] = s.cgroup;
	tails[SMITH_EXEC_STDIN_PATH] = s.stdin_path_raw.value_or(encode_path(s.stdin_path));
	tails[SMITH_EXEC_STDOUT_PATH] = s.stdout_path_raw.value_or(encode_path(s.stdout_path));
	return assemble(e, e.len, tails);
}

inline std::vector<std::byte> build_connect(const ConnectSpec &s)
{
	smith_connect c{};
	fill_header(c.hdr, s.hdr, SMITH_REC_CONNECT);
	fill_pid_tree(c.pid_tree, s.hdr.pid_tree);
	c.inet = s.inet;
	c.flags = s.flags;
	c.via = s.via;
	c.hdr.size = sizeof(c);
	c.hdr.fixed = sizeof(c);
	std::vector<std::byte> out(sizeof(c));
	std::memcpy(out.data(), &c, sizeof(c));
	return out;
}

inline std::vector<std::byte> build_module(const ModuleSpec &s)
{
	smith_module m{};
	fill_header(m.hdr, s.hdr, SMITH_REC_INIT_MODULE);
	fill_pid_tree(m.pid_tree, s.hdr.pid_tree);
	m.flags = s.flags;
	std::array<std::string, SMITH_MODULE_STR_COUNT> tails;
	tails[SMITH_MODULE_NAME] = s.name;
	tails[SMITH_MODULE_PATH] = s.path_raw.value_or(encode_path(s.path));
	tails[SMITH_MODULE_PARAMS] = s.params;
	return assemble(m, m.len, tails);
}

struct ForkSpec {
	HeaderSpec hdr; // the parent
	uint32_t child_pid = 5000;
	uint64_t child_start_time = 2222;
};

inline std::vector<std::byte> build_fork(const ForkSpec &s)
{
	smith_fork f{};
	fill_header(f.hdr, s.hdr, SMITH_REC_FORK);
	f.child_pid = s.child_pid;
	f.child_start_time = s.child_start_time;
	f.hdr.size = sizeof(f);
	f.hdr.fixed = sizeof(f);
	std::vector<std::byte> out(sizeof(f));
	std::memcpy(out.data(), &f, sizeof(f));
	return out;
}

struct SuppressedSpec {
	HeaderSpec hdr; // the process held back
	uint64_t suppressed = 0;
	uint64_t first_ts = 0;
	uint64_t last_ts = 0;
	uint32_t rate = 0;
	uint32_t burst = 0;
};

inline std::vector<std::byte> build_connect_suppressed(const SuppressedSpec &s)
{
	smith_connect_suppressed c{};
	fill_header(c.hdr, s.hdr, SMITH_REC_CONNECT_SUPPRESSED);
	fill_pid_tree(c.pid_tree, s.hdr.pid_tree);
	c.suppressed = s.suppressed;
	c.first_ts = s.first_ts;
	c.last_ts = s.last_ts;
	c.rate = s.rate;
	c.burst = s.burst;
	c.hdr.size = sizeof(c);
	c.hdr.fixed = sizeof(c);
	std::vector<std::byte> out(sizeof(c));
	std::memcpy(out.data(), &c, sizeof(c));
	return out;
}

// Endpoint helpers (addresses in network byte order, ports in host order).
inline smith_inet inet4(uint8_t protocol, std::array<uint8_t, 4> s, uint16_t sport, std::array<uint8_t, 4> d,
			uint16_t dport)
{
	smith_inet in{};
	in.family = 2; // AF_INET
	in.protocol = protocol;
	in.sport = sport;
	in.dport = dport;
	std::memcpy(in.saddr, s.data(), 4);
	std::memcpy(in.daddr, d.data(), 4);
	return in;
}

inline smith_inet inet6(uint8_t protocol, std::array<uint8_t, 16> s, uint16_t sport,
			std::array<uint8_t, 16> d, uint16_t dport)
{
	smith_inet in{};
	in.family = 10; // AF_INET6
	in.protocol = protocol;
	in.sport = sport;
	in.dport = dport;
	std::memcpy(in.saddr, s.data(), 16);
	std::memcpy(in.daddr, d.data(), 16);
	return in;
}

inline std::array<uint8_t, 16> ip6_loopback()
{
	std::array<uint8_t, 16> a{};
	a[15] = 1;
	return a;
}

inline std::array<uint8_t, 16> ip6_mapped(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

inline std::string bytes_to_string(const std::vector<std::byte> &v)
{
	return {reinterpret_cast<const char *>(v.data()), v.size()};
}

} // namespace smith::test
