// End-to-end fixture: the real smithd and smithctl binaries in a fresh temporary directory, the events
// they write, and the host facts that events are checked against. The behaviour suite (backends.h)
// runs on this host and, unchanged, inside every guest kernel (tests/vm), against every backend there.
//
// When any assertion of a test case failed, a Smithd prints the daemon's log when it goes and keeps its
// directory for inspection.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "util/fd.h"

namespace smith::e2e {

using namespace std::chrono_literals;

// Ends the test program as skipped: prints "SMITH-TEST-SKIPPED: <reason>", the line CTest recognises
// (tests/CMakeLists.txt), and exits 0 at once, so no failure can follow the line. tests/run.sh lists
// every skip, and under CI=true fails those tests/allowed-skips.txt does not name. Where one program
// runs every test (the guests set SMITH_TEST_NO_SKIPS=1), the test fails instead, with the reason.
[[noreturn]] void skip_test(const std::string &reason);

// Skips (skip_test) unless this process is root: every test here runs smithd against the kernel.
void require_root();

// ---- Processes --------------------------------------------------------------------------------------

struct CommandResult {
	int exit_code = -1; // exit status, or 128 + signal number, or -1 if it could not run
	std::string out;    // everything written to stdout
	std::string err;    // everything written to stderr
};

// Runs argv[0] (a path) with argv, waits at most `timeout` (then kills it), and captures its output.
CommandResult run_command(const std::vector<std::string> &argv, std::chrono::milliseconds timeout = 15s);

// Forks; the child runs `child` (which should exec or _exit) and exits 127 if it returns.
pid_t spawn(const std::function<void()> &child);

// Waits for `pid` to exit for at most `timeout`; returns its exit status, 128 + signal, or -1 on timeout
// (the process is then killed and reaped).
int wait_exit(pid_t pid, std::chrono::milliseconds timeout = 60s);

// NULL-terminated char* views of `v` for execve(2); valid while `v` lives unchanged.
std::vector<char *> c_strings(std::vector<std::string> &v);

// ---- Host facts -------------------------------------------------------------------------------------

std::string self_exe();				// realpath of /proc/self/exe
std::string real_path(const std::string &path); // realpath(3), "" on error
std::string self_comm();			// /proc/self/comm without the newline
std::string current_dir();			// getcwd(3)
std::string host_name();			// gethostname(2)
std::string uts_nodename();			// uname(2) nodename
std::string kernel_release();			// uname(2) release
std::string machine_id();			// /etc/machine-id, trimmed
int64_t expected_sessionid();			// /proc/self/sessionid, -1 when unset (4294967295)
uint64_t ns_inode(const char *ns);		// stat(/proc/self/ns/<ns>).st_ino
std::optional<uint64_t> cgroup_v2_id();	   // inode of this process's cgroup v2 directory, if it can be found
std::optional<std::string> expected_tty(); // "" without a controlling tty, "pts/N", nullopt otherwise
uint64_t now_ns();			   // CLOCK_REALTIME in ns
std::string read_file(const std::string &path);
bool kernel_has_modules();  // loadable module support (CONFIG_MODULES): /proc/modules exists
bool kernel_has_execveat(); // the execveat(2) syscall exists (Linux 3.19+)
// BPF trampolines work: an empty fexit program on getpid's entry loads and attaches (some kernels
// refuse them: lockdown, a hardened BPF policy).
bool kernel_allows_trampolines(); // prints why not
std::string trampoline_refusal(); // "" when they work, else why not

// Removes the directory tree when destroyed, unless keep() was called.
class TempDir {
public:
	explicit TempDir(const std::string &prefix = "smith-e2e-");
	~TempDir();
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;

	const std::string &path() const { return path_; }
	std::string file(const std::string &name) const { return path_ + "/" + name; }
	void keep() { keep_ = true; }

private:
	std::string path_;  // absolute, symlink-free
	bool keep_ = false; // leave the tree on disk
};

// A tmpfs of `size` ("256k") mounted on a fresh directory for the life of the object: a disk to fill.
class SmallTmpfs {
public:
	explicit SmallTmpfs(const std::string &size);
	~SmallTmpfs();
	SmallTmpfs(const SmallTmpfs &) = delete;
	SmallTmpfs &operator=(const SmallTmpfs &) = delete;
	const std::string &path() const { return dir_.path(); }
	std::string file(const std::string &name) const { return dir_.file(name); }

private:
	TempDir dir_;
};

// A bpffs directory for smithd's pinned ring (--bpf-pin-dir) that outlives the daemons given it: what
// a killed smithd left there is read by the next one given the same directory. Removed, with what it
// holds, with the object. Each Smithd not given one has its own, so no test reads another's leftovers.
class PinDir {
public:
	PinDir();
	~PinDir();
	PinDir(const PinDir &) = delete;
	PinDir &operator=(const PinDir &) = delete;
	const std::string &path() const { return path_; }
	// The rings pinned there now.
	size_t rings() const;

private:
	std::string path_;
};

// Writes to `path` until the file system takes no more; true when it ended with ENOSPC.
bool fill_file_system(const std::string &path);

// ---- Events -----------------------------------------------------------------------------------------

// One parsed output line. Values are kept as parsed, in the line's key order.
class Event {
public:
	using Value = std::variant<std::nullptr_t, bool, int64_t, uint64_t, double, std::string,
				   std::vector<std::string>>;

	// Parses one JSON line; returns nullopt and sets *error when it is not a JSON object of scalars and
	// string arrays. The objects of pid_tree ({"pid":N,"comm":"c"}) are kept as strings "N:c".
	static std::optional<Event> parse(std::string_view line, std::string *error);

	const std::string &line() const { return line_; }
	const std::vector<std::string> &keys() const { return keys_; }
	bool has(const std::string &key) const { return values_.count(key) != 0; }

	// Typed accessors: throw std::runtime_error (with the line) when the key is missing or has another
	// type.
	std::string str(const std::string &key) const;
	int64_t i64(const std::string &key) const;  // any integer that fits in int64
	uint64_t u64(const std::string &key) const; // any non-negative integer
	bool boolean(const std::string &key) const;
	std::vector<std::string> strings(const std::string &key) const;

	// Shorthands that never throw, for predicates.
	std::string type() const;
	int64_t pid() const; // -1 if missing

private:
	std::string line_;		      // the raw line, without the newline
	std::vector<std::string> keys_;	      // in line order
	std::map<std::string, Value> values_; // key -> value
};

// Whether `e` is stamped after the running test case began (less a second, the slack of smithd's
// boot-to-epoch measure). A predicate that knows a socket by its source port needs it: one process runs
// every test, and the ports of an earlier test's sockets, and their events, come back.
bool stamped_in_this_test(const Event &e);

// The schema v1 field order: the common fields, then the type's own.
const std::vector<std::string> &expected_keys(const std::string &type);

using EventPredicate = std::function<bool(const Event &)>;

// A few fields of `smithctl status --json`.
struct Status {
	std::string backend;
	std::string backend_reason;
	std::map<std::string, uint64_t> drops;		// hook name -> kernel_drops
	std::map<std::string, std::string> hook_state;	// hook name -> state
	std::map<std::string, std::string> hook_reason; // hook name -> reason
	std::map<std::string, std::string> hook_attach; // hook name -> attach
	std::vector<std::string> hook_names;		// in status order
	uint64_t last_seq = 0;
	uint64_t received = 0; // records decoded, all types
	uint64_t decode_errors = 0;
	uint64_t queue_depth = 0;
	std::string rings_mode; // rings: mode, count, bytes of each
	uint64_t rings_count = 0;
	uint64_t rings_bytes = 0;
};
// Parses `smithctl status --json`; nullopt (and *error) when it does not parse.
std::optional<Status> parse_status(const std::string &json, std::string *error);

// ---- The daemon -------------------------------------------------------------------------------------

// Where smithd and smithctl are: beside this program when they are there (a guest's /opt/smith/bin),
// else the build directory this program was built in.
std::string smithd_path();
std::string smithctl_path();

struct SmithdOptions {
	std::string label = "smithd";	  // names the daemon in messages and its directory
	std::string backend = "auto";	  // --backend=
	std::vector<std::string> extra;	  // more arguments, after the fixture's own
	bool file_sink = true;		  // --sink=file --output=<dir>/events.jsonl; else `extra` chooses
	bool hide_btf = false;		  // run in a mount namespace where /sys/kernel/btf/vmlinux is empty
	std::string config = "/dev/null"; // --config=
	std::string events_backend;	  // what its events must name; "": lkm for --backend=lkm, else ebpf
	std::string state_file;		  // --state-file=; "": one in the daemon's own directory
	std::string bpf_pin_dir;	  // --bpf-pin-dir=; "": one of the daemon's own (PinDir)
	// Another host's identity, for tests of many hosts on one machine: smithd runs in a UTS
	// namespace of its own with this hostname, and in a mount namespace of its own where
	// /etc/machine-id holds this host_id. "" keeps this machine's.
	std::string hostname;
	std::string host_id;
};

class Smithd {
public:
	// Starts smithd (the options' backend, sink and arguments, with its own socket, pid file and log in
	// a fresh directory) and, unless `wait` is false, waits until it is ready (wait_ready(), at most
	// start_timeout() of backends.h), failing the test with its log when it is not.
	explicit Smithd(SmithdOptions options, bool wait = true);
	// Stops smithd if it still runs (SIGTERM, then SIGKILL); prints diagnostics if the test failed.
	~Smithd();
	Smithd(const Smithd &) = delete;
	Smithd &operator=(const Smithd &) = delete;

	// Waits until the pid file exists and `smithctl status --json` answers; "" when ready, else why not
	// (with the log).
	std::string wait_ready(std::chrono::milliseconds timeout);

	const SmithdOptions &options() const { return options_; }
	const std::string &label() const { return options_.label; }
	// The backend its events and status must name.
	std::string expected_backend() const
	{
		if (!options_.events_backend.empty())
			return options_.events_backend;
		return options_.backend == "lkm" ? "lkm" : "ebpf";
	}
	pid_t pid() const { return pid_; }
	const std::string &dir() const { return dir_.path(); }
	const std::string &output_path() const { return output_path_; }
	const std::string &socket_path() const { return socket_path_; }
	const std::string &pid_file() const { return pid_file_; }
	std::string log() const; // everything smithd wrote to stderr and stdout so far

	// Reads the lines appended to the output file since the last call; returns all events read so far.
	const std::vector<Event> &poll();
	// Lines that did not parse as JSON objects, with the parse error.
	const std::vector<std::pair<std::string, std::string>> &bad_lines() const { return bad_lines_; }

	// The first event so far, or within `timeout`, that matches; nullopt when none came.
	std::optional<Event> find(const EventPredicate &pred, std::chrono::milliseconds timeout);
	// As find(), but fails the test (with `what`, the log, the unparsable lines and the events of
	// `pid_hint`) when none comes.
	Event wait_for(const std::string &what, const EventPredicate &pred, std::chrono::milliseconds timeout,
		       int64_t pid_hint = -1);
	// Reads new lines, then counts the events read so far that match `pred`.
	size_t count(const EventPredicate &pred);
	// The events of `pid` seen so far, as raw lines (diagnostics).
	std::string lines_of_pid(int64_t pid) const;

	// `smithctl <args> --socket=<this socket>`
	CommandResult ctl(std::vector<std::string> args) const;
	// `smithctl status --json`, parsed; fails the test when it cannot be had.
	Status status() const;
	std::string status_json() const; // its raw text ("" when smithctl failed)
	// The status line asked for on the control socket by this process, without running smithctl:
	// a query that makes no exec event of its own ("" when there is no answer). For loops that
	// wait for smithd to have nothing left to deliver, which each smithctl run would refill.
	std::string status_quiet() const;

	// Sends SIGTERM and waits for the exit (at most `timeout`); the exit status, 128 + signal, or -1.
	int terminate(std::chrono::milliseconds timeout = 60s);
	bool running() const { return pid_ > 0; }
	// Whether the process has exited by itself; its status goes to *code.
	bool exited(int *code);

private:
	void start();

	SmithdOptions options_;
	TempDir dir_;			   // holds output, socket, pid file and log
	std::unique_ptr<PinDir> own_pins_; // when the options name no pin directory
	std::string output_path_;
	std::string socket_path_;
	std::string pid_file_;
	std::string log_path_;
	pid_t pid_ = -1;	    // smithd's pid while it runs, -1 after it was reaped
	size_t read_offset_ = 0;    // bytes of the output file consumed by poll()
	std::string partial_;	    // an incomplete last line, kept until its newline arrives
	std::vector<Event> events_; // every event read so far
	std::vector<std::pair<std::string, std::string>> bad_lines_; // (line, parse error)
};

// ---- Sockets ----------------------------------------------------------------------------------------

using Fd = util::UniqueFd;

// "127.0.0.1" / "::1" loopback address helpers. Ports are in host order.
struct Endpoint {
	std::string addr; // inet_ntop text form
	uint16_t port = 0;
};
Endpoint local_endpoint(int fd); // getsockname
Endpoint peer_endpoint(int fd);	 // getpeername
// A listening TCP socket on the loopback address of `family` (AF_INET or AF_INET6), ephemeral port.
int tcp_listener(int family);
// connect(2) on `fd` to addr:port; returns 0 or -errno, exactly as the syscall did.
int connect_to(int fd, int family, const std::string &addr, uint16_t port);
// A TCP listener on 127.0.0.1 that drops every SYN: a socket filter that accepts nothing, attached before
// listen(). Its connects wait in SYN_SENT for the kernel's SYN retries (about two minutes), on every
// kernel: a full accept queue drops SYNs too, but 3.10 still answers some of them (SYN cookies, or a
// request queue with room), and the connects it answers complete.
int syn_dropping_listener();
// Waits until the TCP socket `fd` is in SYN_SENT (TCP_INFO), which it reaches inside connect(2), after
// the call has read its arguments and taken the socket. False if it is not there within `timeout`.
bool wait_syn_sent(int fd, std::chrono::milliseconds timeout);

// ---- Kernel modules ---------------------------------------------------------------------------------

// Loads a module image with init_module(2) (from memory) or finit_module(2) (from the open file);
// returns 0 or -errno.
int load_module_from_memory(const std::string &path, const std::string &params);
int load_module_from_file(const std::string &path, const std::string &params, int flags = 0);
// delete_module(2) with O_NONBLOCK; returns 0 or -errno.
int unload_module(const std::string &name);
bool module_loaded(const std::string &name); // /sys/module/<name> exists

} // namespace smith::e2e
