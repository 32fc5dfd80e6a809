#include "smithd_fixture.h"
#include "backends.h"
#include "ctl/control_client.h"

#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simdjson.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace smith::e2e {

namespace {

// Set by the listener below when any assertion of the running test case fails, so that the fixture can
// print the daemon's log and keep its directory.
bool g_assertion_failed = false;
uint64_t g_test_case_start_ns = 0; // now_ns() when the running test case began

bool test_failed()
{
	return g_assertion_failed || std::uncaught_exceptions() > 0;
}

std::string trim(std::string s)
{
	while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
		s.pop_back();
	size_t i = 0;
	while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
		++i;
	return s.substr(i);
}

int status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

} // namespace

} // namespace smith::e2e

namespace {

class SmithE2eFailureListener : public Catch::TestEventListenerBase {
public:
	using TestEventListenerBase::TestEventListenerBase;
	void testCaseStarting(const Catch::TestCaseInfo &) override
	{
		smith::e2e::g_test_case_start_ns = smith::e2e::now_ns();
	}
	bool assertionEnded(const Catch::AssertionStats &stats) override
	{
		if (!stats.assertionResult.isOk())
			smith::e2e::g_assertion_failed = true;
		return true;
	}
};

} // namespace

CATCH_REGISTER_LISTENER(SmithE2eFailureListener)

namespace smith::e2e {

void require_root()
{
	if (geteuid() != 0)
		skip_test("the end-to-end tests run smithd against the kernel and need root (euid is " +
			  std::to_string(geteuid()) + ")");
}

void skip_test(const std::string &reason)
{
	if (const char *no = std::getenv("SMITH_TEST_NO_SKIPS"); no && std::string(no) == "1")
		FAIL("this test cannot run here, and SMITH_TEST_NO_SKIPS=1 forbids skipping: " << reason);
	std::cout << "SMITH-TEST-SKIPPED: " << reason << std::endl;
	std::cerr.flush();
	std::_Exit(0);
}

// ---- Processes --------------------------------------------------------------------------------------

CommandResult run_command(const std::vector<std::string> &argv_in, std::chrono::milliseconds timeout)
{
	CommandResult res;
	int out_pipe[2], err_pipe[2];
	if (pipe2(out_pipe, O_CLOEXEC) != 0)
		return res;
	if (pipe2(err_pipe, O_CLOEXEC) != 0) {
		close(out_pipe[0]);
		close(out_pipe[1]);
		return res;
	}
	std::vector<std::string> argv = argv_in;
	std::vector<char *> cargv = c_strings(argv);
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(out_pipe[1], 1);
		dup2(err_pipe[1], 2);
		execv(cargv[0], cargv.data());
		_exit(127);
	}
	close(out_pipe[1]);
	close(err_pipe[1]);
	if (pid < 0) {
		close(out_pipe[0]);
		close(err_pipe[0]);
		return res;
	}
	auto deadline = std::chrono::steady_clock::now() + timeout;
	pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
	std::string *sinks[2] = {&res.out, &res.err};
	int open_fds = 2;
	bool timed_out = false;
	while (open_fds > 0) {
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
			deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0) {
			timed_out = true;
			break;
		}
		int n = ::poll(fds, 2, static_cast<int>(left.count()));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		for (int i = 0; i < 2; ++i) {
			if (fds[i].fd < 0 || fds[i].revents == 0)
				continue;
			char buf[4096];
			ssize_t r = read(fds[i].fd, buf, sizeof buf);
			if (r > 0) {
				sinks[i]->append(buf, static_cast<size_t>(r));
			} else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
				close(fds[i].fd);
				fds[i].fd = -1;
				--open_fds;
			}
		}
	}
	for (auto &f : fds)
		if (f.fd >= 0)
			close(f.fd);
	if (timed_out)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	res.exit_code = timed_out ? -1 : status_code(status);
	return res;
}

pid_t spawn(const std::function<void()> &child)
{
	std::cout.flush();
	std::cerr.flush();
	pid_t pid = fork();
	if (pid == 0) {
		try {
			child();
		} catch (...) {
		}
		_exit(127);
	}
	return pid;
}

int wait_exit(pid_t pid, std::chrono::milliseconds timeout)
{
	auto deadline = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		int status = 0;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status_code(status);
		if (r < 0 && errno != EINTR)
			return -1;
		if (std::chrono::steady_clock::now() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		std::this_thread::sleep_for(10ms);
	}
}

std::vector<char *> c_strings(std::vector<std::string> &v)
{
	std::vector<char *> out;
	for (auto &s : v)
		out.push_back(s.data());
	out.push_back(nullptr);
	return out;
}

// ---- Host facts -------------------------------------------------------------------------------------

std::string real_path(const std::string &path)
{
	char buf[PATH_MAX];
	if (!realpath(path.c_str(), buf))
		return "";
	return buf;
}

std::string self_exe()
{
	return real_path("/proc/self/exe");
}

std::string read_file(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

std::string self_comm()
{
	return trim(read_file("/proc/self/comm"));
}

std::string current_dir()
{
	char buf[PATH_MAX];
	if (!getcwd(buf, sizeof buf))
		return "";
	return buf;
}

std::string host_name()
{
	char buf[HOST_NAME_MAX + 1] = {};
	gethostname(buf, sizeof buf - 1);
	return buf;
}

std::string uts_nodename()
{
	utsname u{};
	uname(&u);
	return u.nodename;
}

std::string kernel_release()
{
	utsname u{};
	uname(&u);
	return u.release;
}

std::string machine_id()
{
	return trim(read_file("/etc/machine-id"));
}

int64_t expected_sessionid()
{
	std::string s = trim(read_file("/proc/self/sessionid"));
	if (s.empty())
		return -1;
	unsigned long long v = std::stoull(s);
	return v == 4294967295ULL ? -1 : static_cast<int64_t>(v);
}

uint64_t ns_inode(const char *ns)
{
	struct stat st {};
	std::string p = std::string("/proc/self/ns/") + ns;
	if (stat(p.c_str(), &st) != 0)
		return 0;
	return st.st_ino;
}

std::optional<uint64_t> cgroup_v2_id()
{
	std::string rel;
	{
		std::istringstream in(read_file("/proc/self/cgroup"));
		std::string line;
		while (std::getline(in, line))
			if (line.rfind("0::", 0) == 0)
				rel = line.substr(3);
	}
	if (rel.empty())
		return std::nullopt;
	std::istringstream in(read_file("/proc/self/mountinfo"));
	std::string line;
	while (std::getline(in, line)) {
		auto dash = line.find(" - ");
		if (dash == std::string::npos)
			continue;
		std::istringstream tail(line.substr(dash + 3));
		std::string fstype;
		tail >> fstype;
		if (fstype != "cgroup2")
			continue;
		std::istringstream head(line.substr(0, dash));
		std::string id, parent, devno, root, mnt;
		head >> id >> parent >> devno >> root >> mnt;
		if (root != "/")
			return std::nullopt;
		struct stat st {};
		if (stat((mnt + rel).c_str(), &st) != 0)
			return std::nullopt;
		return st.st_ino;
	}
	return std::nullopt;
}

std::optional<std::string> expected_tty()
{
	std::string stat = read_file("/proc/self/stat");
	auto close_paren = stat.rfind(')');
	if (close_paren == std::string::npos)
		return std::nullopt;
	std::istringstream in(stat.substr(close_paren + 1));
	std::string state;
	long ppid = 0, pgrp = 0, session = 0;
	unsigned long tty_nr = 0;
	in >> state >> ppid >> pgrp >> session >> tty_nr;
	if (tty_nr == 0)
		return std::string();
	unsigned major = (tty_nr >> 8) & 0xfff;
	unsigned minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
	if (major >= 136 && major <= 143)
		return "pts/" + std::to_string((major - 136) * 256 + minor);
	return std::nullopt;
}

bool kernel_has_modules()
{
	return access("/proc/modules", F_OK) == 0;
}

bool kernel_has_execveat()
{
	// A bad fd: EBADF where the call exists, ENOSYS where it does not.
	return syscall(SYS_execveat, -1, "", nullptr, nullptr, 0) < 0 && errno != ENOSYS;
}

std::string trampoline_refusal()
{
	btf *vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return std::string("no kernel BTF: ") + std::strerror(errno);
	// getpid's entry, or connect's where the kernel's BTF lacks it.
	int target = -1;
	for (const char *fn : {"__x64_sys_getpid", "__x64_sys_connect"})
		if (target < 0)
			target = btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC);
	btf__free(vmlinux);
	if (target < 0)
		return "no syscall entry function in the kernel's BTF";
	const bpf_insn insns[] = {
		{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
		{BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT,
		    .attach_btf_id = static_cast<uint32_t>(target));
	const Fd prog(bpf_prog_load(BPF_PROG_TYPE_TRACING, "smith_test", "GPL", insns, 2, &opts));
	if (prog.get() < 0)
		return std::string("fexit load: ") + std::strerror(errno);
	const Fd link(bpf_raw_tracepoint_open(nullptr, prog.get()));
	if (link.get() < 0)
		return std::string("fexit attach: ") + std::strerror(errno);
	return "";
}

bool kernel_allows_trampolines()
{
	static const std::string refusal = trampoline_refusal();
	if (!refusal.empty())
		std::printf("(BPF trampolines refused here: %s)\n", refusal.c_str());
	return refusal.empty();
}

uint64_t now_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_REALTIME, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

bool stamped_in_this_test(const Event &e)
{
	return e.u64("ts") + 1000000000ULL >= g_test_case_start_ns;
}

TempDir::TempDir(const std::string &prefix)
{
	std::string tmpl = "/tmp/" + prefix + "XXXXXX";
	if (!mkdtemp(tmpl.data()))
		throw std::runtime_error("mkdtemp failed: " + std::string(strerror(errno)));
	path_ = real_path(tmpl);
}

TempDir::~TempDir()
{
	if (keep_) {
		std::cout << "kept " << path_ << std::endl;
		return;
	}
	std::error_code ec;
	std::filesystem::remove_all(path_, ec);
}

PinDir::PinDir()
{
	static std::atomic<unsigned> serial{0};
	path_ = "/sys/fs/bpf/smith-e2e-" + std::to_string(getpid()) + "-" + std::to_string(serial++);
}

PinDir::~PinDir()
{
	std::error_code ec;
	std::filesystem::remove_all(path_, ec);
}

size_t PinDir::rings() const
{
	std::error_code ec;
	size_t n = 0;
	for (auto it = std::filesystem::directory_iterator(path_, ec);
	     !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
		n++;
	return n;
}

// ---- Events -----------------------------------------------------------------------------------------

std::optional<Event> Event::parse(std::string_view line, std::string *error)
{
	simdjson::dom::parser parser;
	simdjson::dom::element doc;
	if (auto err = parser.parse(line.data(), line.size()).get(doc); err) {
		*error = simdjson::error_message(err);
		return std::nullopt;
	}
	simdjson::dom::object obj;
	if (doc.get_object().get(obj)) {
		*error = "not a JSON object";
		return std::nullopt;
	}
	Event ev;
	ev.line_ = std::string(line);
	for (auto field : obj) {
		std::string key(field.key);
		Value v;
		simdjson::dom::element e = field.value;
		switch (e.type()) {
		case simdjson::dom::element_type::NULL_VALUE: v = nullptr; break;
		case simdjson::dom::element_type::BOOL: v = bool(e.get_bool().value_unsafe()); break;
		case simdjson::dom::element_type::INT64: v = int64_t(e.get_int64().value_unsafe()); break;
		case simdjson::dom::element_type::UINT64: v = uint64_t(e.get_uint64().value_unsafe()); break;
		case simdjson::dom::element_type::DOUBLE: v = double(e.get_double().value_unsafe()); break;
		case simdjson::dom::element_type::STRING:
			v = std::string(e.get_string().value_unsafe());
			break;
		case simdjson::dom::element_type::ARRAY: {
			std::vector<std::string> arr;
			simdjson::dom::array items;
			if (e.get_array().get(items)) {
				*error = "field " + key + " is not an array";
				return std::nullopt;
			}
			for (simdjson::dom::element item : items) {
				std::string_view sv;
				simdjson::dom::object o;
				int64_t pid = 0;
				if (!item.get_string().get(sv)) {
					arr.emplace_back(sv);
				} else if (!item.get_object().get(o) && o.size() == 2 &&
					   !o["pid"].get_int64().get(pid) &&
					   !o["comm"].get_string().get(sv)) {
					// A pid_tree entry: kept as "pid:comm".
					arr.push_back(std::to_string(pid) + ":" + std::string(sv));
				} else {
					*error = "array " + key +
						 " holds neither strings nor {pid, comm} objects";
					return std::nullopt;
				}
			}
			v = std::move(arr);
			break;
		}
		default: *error = "field " + key + " is an object"; return std::nullopt;
		}
		ev.keys_.push_back(key);
		ev.values_[key] = std::move(v);
	}
	return ev;
}

namespace {

[[noreturn]] void bad_field(const std::string &key, const std::string &want, const std::string &line)
{
	throw std::runtime_error("field \"" + key + "\" missing or not " + want + " in: " + line);
}

} // namespace

std::string Event::str(const std::string &key) const
{
	auto it = values_.find(key);
	if (it == values_.end() || !std::holds_alternative<std::string>(it->second))
		bad_field(key, "a string", line_);
	return std::get<std::string>(it->second);
}

int64_t Event::i64(const std::string &key) const
{
	auto it = values_.find(key);
	if (it != values_.end()) {
		if (auto *i = std::get_if<int64_t>(&it->second))
			return *i;
		if (auto *u = std::get_if<uint64_t>(&it->second); u && *u <= uint64_t(INT64_MAX))
			return static_cast<int64_t>(*u);
	}
	bad_field(key, "an int64", line_);
}

uint64_t Event::u64(const std::string &key) const
{
	auto it = values_.find(key);
	if (it != values_.end()) {
		if (auto *u = std::get_if<uint64_t>(&it->second))
			return *u;
		if (auto *i = std::get_if<int64_t>(&it->second); i && *i >= 0)
			return static_cast<uint64_t>(*i);
	}
	bad_field(key, "a uint64", line_);
}

bool Event::boolean(const std::string &key) const
{
	auto it = values_.find(key);
	if (it == values_.end() || !std::holds_alternative<bool>(it->second))
		bad_field(key, "a bool", line_);
	return std::get<bool>(it->second);
}

std::vector<std::string> Event::strings(const std::string &key) const
{
	auto it = values_.find(key);
	if (it == values_.end() || !std::holds_alternative<std::vector<std::string>>(it->second))
		bad_field(key, "an array of strings", line_);
	return std::get<std::vector<std::string>>(it->second);
}

std::string Event::type() const
{
	auto it = values_.find("type");
	if (it == values_.end())
		return "";
	auto *s = std::get_if<std::string>(&it->second);
	return s ? *s : "";
}

int64_t Event::pid() const
{
	auto it = values_.find("pid");
	if (it == values_.end())
		return -1;
	if (auto *i = std::get_if<int64_t>(&it->second))
		return *i;
	return -1;
}

const std::vector<std::string> &expected_keys(const std::string &type)
{
	static const std::vector<std::string> common = {
		"schema",    "seq",	     "run_id",	 "ts",
		"type",	     "data_type",    "backend",	 "hostname",
		"host_id",   "nodename",     "pid",	 "tid",
		"ppid",	     "pgid",	     "sid",	 "uid",
		"gid",	     "euid",	     "egid",	 "user",
		"comm",	     "exe",	     "cwd",	 "tty",
		"sessionid", "pidns",	     "mntns",	 "netns",
		"cgroup_id", "container_id", "pid_tree", "pid_tree_truncated"};
	auto with = [](std::vector<std::string> extra) {
		std::vector<std::string> all = common;
		all.insert(all.end(), extra.begin(), extra.end());
		return all;
	};
	static const std::vector<std::string> execve =
		with({"filename", "argv", "argv_truncated", "stdin", "stdout", "ld_preload", "retval",
		      "env_truncated", "path_truncated", "compat"});
	static const std::vector<std::string> connect =
		with({"family", "protocol", "saddr", "sport", "daddr", "dport", "retval", "daddr_source",
		      "via", "compat"});
	static const std::vector<std::string> module =
		with({"module", "module_path", "params", "retval", "module_path_truncated",
		      "params_truncated", "compat"});
	static const std::vector<std::string> connect_suppressed =
		with({"suppressed", "first_ts", "last_ts", "budget_rate", "budget_burst", "retval"});
	// smithd's own records: the header without a process, then their fields.
	static const std::vector<std::string> own = {"schema",	  "seq",     "run_id",	 "ts",	   "type",
						     "data_type", "backend", "hostname", "host_id"};
	auto own_with = [](std::vector<std::string> extra) {
		std::vector<std::string> all = own;
		all.insert(all.end(), extra.begin(), extra.end());
		return all;
	};
	static const std::vector<std::string> run_start =
		own_with({"first_seq", "version", "kernel", "backend_reason", "previous_run_id",
			  "previous_clean_stop"});
	static const std::vector<std::string> run_end =
		own_with({"first_seq", "last_seq", "dropped_since_start", "decode_errors"});
	static const std::vector<std::string> loss = own_with(
		{"dropped", "dropped_execve", "dropped_execveat", "dropped_connect", "dropped_init_module",
		 "dropped_finit_module", "dropped_fork", "dropped_since_start"});
	if (type == "run_start")
		return run_start;
	if (type == "run_end")
		return run_end;
	if (type == "loss")
		return loss;
	if (type == "execve")
		return execve;
	if (type == "connect_suppressed")
		return connect_suppressed;
	if (type == "connect")
		return connect;
	if (type == "init_module" || type == "finit_module")
		return module;
	return common;
}

std::optional<Status> parse_status(const std::string &json, std::string *error)
{
	simdjson::dom::parser parser;
	simdjson::dom::element doc;
	if (auto err = parser.parse(json).get(doc); err) {
		*error = simdjson::error_message(err);
		return std::nullopt;
	}
	Status s;
	std::string_view sv;
	if (doc["backend"].get_string().get(sv) == simdjson::SUCCESS)
		s.backend = sv;
	if (doc["backend_reason"].get_string().get(sv) == simdjson::SUCCESS)
		s.backend_reason = sv;
	uint64_t u = 0;
	if (doc["last_seq"].get_uint64().get(u) == simdjson::SUCCESS)
		s.last_seq = u;
	if (doc["decode_errors"].get_uint64().get(u) == simdjson::SUCCESS)
		s.decode_errors = u;
	if (doc["queue_depth"].get_uint64().get(u) == simdjson::SUCCESS)
		s.queue_depth = u;
	if (doc["rings"]["mode"].get_string().get(sv) == simdjson::SUCCESS)
		s.rings_mode = sv;
	if (doc["rings"]["count"].get_uint64().get(u) == simdjson::SUCCESS)
		s.rings_count = u;
	if (doc["rings"]["bytes"].get_uint64().get(u) == simdjson::SUCCESS)
		s.rings_bytes = u;
	simdjson::dom::object received;
	if (doc["events"]["received"].get_object().get(received) == simdjson::SUCCESS)
		for (auto field : received)
			if (field.value.get_uint64().get(u) == simdjson::SUCCESS)
				s.received += u;
	simdjson::dom::array hooks;
	if (doc["hooks"].get_array().get(hooks) == simdjson::SUCCESS) {
		for (simdjson::dom::element h : hooks) {
			std::string_view name, state, reason, attach;
			if (h["name"].get_string().get(name) != simdjson::SUCCESS)
				continue;
			s.hook_names.emplace_back(name);
			if (h["kernel_drops"].get_uint64().get(u) == simdjson::SUCCESS)
				s.drops[std::string(name)] = u;
			if (h["state"].get_string().get(state) == simdjson::SUCCESS)
				s.hook_state[std::string(name)] = std::string(state);
			if (h["reason"].get_string().get(reason) == simdjson::SUCCESS)
				s.hook_reason[std::string(name)] = std::string(reason);
			if (h["attach"].get_string().get(attach) == simdjson::SUCCESS)
				s.hook_attach[std::string(name)] = std::string(attach);
		}
	}
	if (s.backend.empty()) {
		*error = "no \"backend\" in status: " + json;
		return std::nullopt;
	}
	return s;
}

// ---- The daemon -------------------------------------------------------------------------------------

namespace {

std::string dir_of(const std::string &path)
{
	auto slash = path.rfind('/');
	return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string beside_self_or(const char *name, const char *fallback)
{
	std::string beside = dir_of(self_exe()) + "/" + name;
	return access(beside.c_str(), X_OK) == 0 ? beside : fallback;
}

// In the child, before exec: a private mount namespace in which the kernel's BTF reads as empty, so
// that libbpf cannot relocate the programs and the eBPF backend cannot load. A kernel without BTF
// needs nothing.
void hide_btf_or_exit(const std::string &dir)
{
	if (access("/sys/kernel/btf/vmlinux", F_OK) != 0)
		return; // a kernel without BTF: nothing to hide
	if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
		dprintf(2, "hide_btf: unshare/make-private: %s\n", strerror(errno));
		_exit(125);
	}
	const std::string empty = dir + "/empty-btf";
	int fd = open(empty.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (fd < 0 || close(fd) != 0 ||
	    mount(empty.c_str(), "/sys/kernel/btf/vmlinux", nullptr, MS_BIND, nullptr) != 0) {
		dprintf(2, "hide_btf: bind %s over /sys/kernel/btf/vmlinux: %s\n", empty.c_str(),
			strerror(errno));
		_exit(125);
	}
}

// In the child, before exec: the identity of another host (SmithdOptions::hostname, host_id). The
// machine-id file was written by the parent; its bind mount lives in a private mount namespace.
void own_identity_or_exit(const std::string &hostname, const std::string &machine_id_file)
{
	if (!hostname.empty() &&
	    (unshare(CLONE_NEWUTS) != 0 || sethostname(hostname.data(), hostname.size()) != 0)) {
		dprintf(2, "own identity: UTS namespace with hostname %s: %s\n", hostname.c_str(),
			strerror(errno));
		_exit(125);
	}
	if (machine_id_file.empty())
		return;
	if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
	    mount(machine_id_file.c_str(), "/etc/machine-id", nullptr, MS_BIND, nullptr) != 0) {
		dprintf(2, "own identity: bind %s over /etc/machine-id: %s\n", machine_id_file.c_str(),
			strerror(errno));
		_exit(125);
	}
}

} // namespace

std::string smithd_path()
{
	return beside_self_or("smithd", SMITHD_PATH);
}

SmallTmpfs::SmallTmpfs(const std::string &size)
{
	REQUIRE(mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, ("size=" + size + ",mode=0700").c_str()) ==
		0);
}

SmallTmpfs::~SmallTmpfs()
{
	umount2(dir_.path().c_str(), MNT_DETACH);
}

bool fill_file_system(const std::string &path)
{
	Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	const std::string chunk(4096, 'x');
	for (;;) {
		const ssize_t n = write(fd.get(), chunk.data(), chunk.size());
		if (n < 0)
			return errno == ENOSPC;
		if (n == 0)
			return false;
	}
}

std::string smithctl_path()
{
	return beside_self_or("smithctl", SMITHCTL_PATH);
}

Smithd::Smithd(SmithdOptions options, bool wait)
    : options_(std::move(options)), dir_("smith-e2e-" + options_.label + "-")
{
	require_root();
	output_path_ = dir_.file("events.jsonl");
	socket_path_ = dir_.file("smithd.sock");
	pid_file_ = dir_.file("smithd.pid");
	log_path_ = dir_.file("smithd.log");
	start();
	if (!wait)
		return;
	const std::string why = wait_ready(start_timeout());
	if (!why.empty())
		FAIL(why);
}

void Smithd::start()
{
	std::vector<std::string> argv = {smithd_path(),
					 "--backend=" + options_.backend,
					 "--foreground",
					 "--socket=" + socket_path_,
					 "--pid-file=" + pid_file_,
					 "--config=" + options_.config,
					 "--state-file=" + (options_.state_file.empty()
								    ? dir_.file("smithd.state")
								    : options_.state_file)};
	if (options_.bpf_pin_dir.empty() && !own_pins_)
		own_pins_ = std::make_unique<PinDir>();
	argv.push_back("--bpf-pin-dir=" + (own_pins_ ? own_pins_->path() : options_.bpf_pin_dir));
	if (options_.file_sink) {
		argv.push_back("--sink=file");
		argv.push_back("--output=" + output_path_);
	}
	argv.insert(argv.end(), options_.extra.begin(), options_.extra.end());
	std::vector<char *> cargv = c_strings(argv);
	int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0)
		FAIL("cannot create " << log_path_ << ": " << strerror(errno));
	const bool hide_btf = options_.hide_btf;
	const std::string dir = dir_.path();
	const std::string hostname = options_.hostname;
	std::string machine_id_file;
	if (!options_.host_id.empty()) {
		machine_id_file = dir_.file("machine-id");
		std::ofstream(machine_id_file) << options_.host_id << "\n";
		if (read_file(machine_id_file) != options_.host_id + "\n")
			FAIL("cannot write " << machine_id_file);
	}
	std::cout.flush();
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(log_fd, 1);
		dup2(log_fd, 2);
		if (hide_btf)
			hide_btf_or_exit(dir);
		own_identity_or_exit(hostname, machine_id_file);
		execv(cargv[0], cargv.data());
		dprintf(2, "exec %s: %s\n", cargv[0], strerror(errno));
		_exit(127);
	}
	close(log_fd);
	if (pid < 0)
		FAIL("fork: " << strerror(errno));
	pid_ = pid;
}

std::string Smithd::wait_ready(std::chrono::milliseconds timeout)
{
	auto deadline = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		int code = 0;
		if (exited(&code))
			return "smithd (" + label() + ") exited during startup with status " +
			       std::to_string(code) + "\n---- smithd log ----\n" + log();
		if (access(pid_file_.c_str(), F_OK) == 0 && ctl({"status", "--json"}).exit_code == 0)
			return "";
		if (std::chrono::steady_clock::now() >= deadline)
			return "smithd (" + label() + ") was not ready after " +
			       std::to_string(
				       std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
			       " s (pid file and `smithctl status --json`)\n---- smithd log ----\n" + log();
		std::this_thread::sleep_for(100ms);
	}
}

bool Smithd::exited(int *code)
{
	if (pid_ <= 0)
		return true;
	int status = 0;
	if (waitpid(pid_, &status, WNOHANG) != pid_)
		return false;
	pid_ = -1;
	*code = status_code(status);
	return true;
}

Smithd::~Smithd()
{
	int code = 0;
	if (pid_ > 0)
		code = terminate();
	if (!test_failed())
		return;
	std::cout << "---- smithd log (" << label() << ", " << log_path_ << ", exit " << code << ") ----\n"
		  << log() << "\n";
	if (!bad_lines_.empty()) {
		std::cout << "---- unparsable output lines ----\n";
		for (auto &[line, err] : bad_lines_)
			std::cout << err << ": " << line << "\n";
	}
	std::cout << "---- " << events_.size() << " events read from " << output_path_ << " ----"
		  << std::endl;
	dir_.keep();
}

std::string Smithd::log() const
{
	return read_file(log_path_);
}

const std::vector<Event> &Smithd::poll()
{
	const Fd fd(open(output_path_.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd.valid()) {
		// Not written yet; any other reason (a test that used up its descriptors) would leave
		// every later wait looking at the same events, and failing for the wrong reason.
		if (errno != ENOENT)
			FAIL("[" << label() << "] cannot open the output file " << output_path_ << ": "
				 << std::strerror(errno));
		return events_;
	}
	std::string chunk;
	char buf[1 << 16];
	for (;;) {
		const util::IoResult r = util::pread_full(fd.get(), buf, sizeof buf,
							  static_cast<off_t>(read_offset_ + chunk.size()));
		chunk.append(buf, r.done);
		if (r.done < sizeof buf)
			break;
	}
	read_offset_ += chunk.size();
	partial_ += chunk;
	size_t start = 0;
	for (;;) {
		size_t nl = partial_.find('\n', start);
		if (nl == std::string::npos)
			break;
		std::string_view line(partial_.data() + start, nl - start);
		start = nl + 1;
		if (line.empty())
			continue;
		std::string err;
		if (auto ev = Event::parse(line, &err))
			events_.push_back(std::move(*ev));
		else
			bad_lines_.emplace_back(std::string(line), err);
	}
	partial_.erase(0, start);
	return events_;
}

std::optional<Event> Smithd::find(const EventPredicate &pred, std::chrono::milliseconds timeout)
{
	auto deadline = std::chrono::steady_clock::now() + timeout;
	size_t checked = 0;
	for (;;) {
		const auto &evs = poll();
		for (; checked < evs.size(); ++checked)
			if (pred(evs[checked]))
				return evs[checked];
		if (std::chrono::steady_clock::now() >= deadline)
			return std::nullopt;
		std::this_thread::sleep_for(50ms);
	}
}

size_t Smithd::count(const EventPredicate &pred)
{
	size_t n = 0;
	for (auto &e : poll())
		if (pred(e))
			++n;
	return n;
}

std::string Smithd::lines_of_pid(int64_t pid) const
{
	std::string out;
	for (auto &e : events_)
		if (e.pid() == pid)
			out += e.line() + "\n";
	return out;
}

Event Smithd::wait_for(const std::string &what, const EventPredicate &pred, std::chrono::milliseconds timeout,
		       int64_t pid_hint)
{
	if (auto e = find(pred, timeout))
		return *e;
	std::ostringstream msg;
	msg << "[" << label() << "] no event matching: " << what << " within " << timeout.count() << " ms ("
	    << events_.size() << " events read, " << bad_lines_.size() << " unparsable lines)";
	if (pid_hint > 0)
		msg << "\nevents of pid " << pid_hint << ":\n" << lines_of_pid(pid_hint);
	for (size_t i = 0; i < bad_lines_.size() && i < 5; ++i)
		msg << "\nunparsable (" << bad_lines_[i].second
		    << "): " << bad_lines_[i].first.substr(0, 2000);
	FAIL(msg.str());
	throw std::logic_error("unreachable");
}

CommandResult Smithd::ctl(std::vector<std::string> args) const
{
	std::vector<std::string> argv = {smithctl_path()};
	argv.insert(argv.end(), args.begin(), args.end());
	argv.push_back("--socket=" + socket_path_);
	return run_command(argv, 60s);
}

std::string Smithd::status_json() const
{
	CommandResult r = ctl({"status", "--json"});
	return r.exit_code == 0 ? r.out : "";
}

std::string Smithd::status_quiet() const
{
	try {
		return smith::ctl::control_request(socket_path_, "status");
	} catch (const smith::ctl::ControlError &) {
		return "";
	}
}

Status Smithd::status() const
{
	CommandResult r = ctl({"status", "--json"});
	std::string err;
	std::optional<Status> s = r.exit_code == 0 ? parse_status(r.out, &err) : std::nullopt;
	if (!s)
		FAIL("[" << label() << "] smithctl status --json: exit " << r.exit_code << ": " << err
			 << r.err);
	return *s;
}

int Smithd::terminate(std::chrono::milliseconds timeout)
{
	if (pid_ <= 0)
		return -1;
	kill(pid_, SIGTERM);
	int code = wait_exit(pid_, timeout);
	pid_ = -1;
	return code;
}

// ---- Sockets ----------------------------------------------------------------------------------------

namespace {

Endpoint endpoint_of(const sockaddr_storage &ss)
{
	Endpoint ep;
	char buf[INET6_ADDRSTRLEN] = {};
	if (ss.ss_family == AF_INET) {
		auto *sin = reinterpret_cast<const sockaddr_in *>(&ss);
		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
		ep.port = ntohs(sin->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
		ep.port = ntohs(sin6->sin6_port);
	}
	ep.addr = buf;
	return ep;
}

socklen_t make_sockaddr(int family, const std::string &addr, uint16_t port, sockaddr_storage *ss)
{
	std::memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		auto *sin = reinterpret_cast<sockaddr_in *>(ss);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		inet_pton(AF_INET, addr.c_str(), &sin->sin_addr);
		return sizeof *sin;
	}
	auto *sin6 = reinterpret_cast<sockaddr_in6 *>(ss);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	inet_pton(AF_INET6, addr.c_str(), &sin6->sin6_addr);
	return sizeof *sin6;
}

} // namespace

Endpoint local_endpoint(int fd)
{
	sockaddr_storage ss{};
	socklen_t len = sizeof ss;
	if (getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len) != 0)
		return {};
	return endpoint_of(ss);
}

Endpoint peer_endpoint(int fd)
{
	sockaddr_storage ss{};
	socklen_t len = sizeof ss;
	if (getpeername(fd, reinterpret_cast<sockaddr *>(&ss), &len) != 0)
		return {};
	return endpoint_of(ss);
}

int tcp_listener(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sockaddr_storage ss{};
	socklen_t len = make_sockaddr(family, family == AF_INET ? "127.0.0.1" : "::1", 0, &ss);
	if (bind(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0 || listen(fd, 16) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int connect_to(int fd, int family, const std::string &addr, uint16_t port)
{
	sockaddr_storage ss{};
	socklen_t len = make_sockaddr(family, addr, port, &ss);
	int r = ::connect(fd, reinterpret_cast<sockaddr *>(&ss), len);
	return r == 0 ? 0 : -errno;
}

int syn_dropping_listener()
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sock_filter drop_all[] = {{BPF_RET | BPF_K, 0, 0, 0}};
	sock_fprog prog{1, drop_all};
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0 ||
	    bind(fd, reinterpret_cast<sockaddr *>(&sin), sizeof sin) != 0 || listen(fd, 16) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

bool wait_syn_sent(int fd, std::chrono::milliseconds timeout)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		tcp_info info{};
		socklen_t len = sizeof info;
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
		    info.tcpi_state == TCP_SYN_SENT)
			return true;
		if (std::chrono::steady_clock::now() >= deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
}

// ---- Kernel modules ---------------------------------------------------------------------------------

int load_module_from_memory(const std::string &path, const std::string &params)
{
	std::string image = read_file(path);
	if (image.empty())
		return -ENOENT;
	long r = syscall(SYS_init_module, image.data(), image.size(), params.c_str());
	return r == 0 ? 0 : -errno;
}

int load_module_from_file(const std::string &path, const std::string &params, int flags)
{
	const Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd.valid())
		return -errno;
	long r = syscall(SYS_finit_module, fd.get(), params.c_str(), flags);
	return r == 0 ? 0 : -errno;
}

int unload_module(const std::string &name)
{
	long r = syscall(SYS_delete_module, name.c_str(), O_NONBLOCK);
	return r == 0 ? 0 : -errno;
}

bool module_loaded(const std::string &name)
{
	struct stat st {};
	return stat(("/sys/module/" + name).c_str(), &st) == 0;
}

} // namespace smith::e2e
