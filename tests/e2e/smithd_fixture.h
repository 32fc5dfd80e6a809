// End-to-end fixture: runs the real smithd (ebpf backend, file sink) in a fresh temporary directory,
// reads the events it writes, and offers the host facts that events are checked against.
//
// Every test case starts its own smithd (a Smithd object) and stops it when the object goes out of
// scope. When any assertion of the test case failed, the daemon's log and the matching output lines are
// printed and the temporary directory is kept for inspection.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace smith::e2e {

using namespace std::chrono_literals;

// Ends the test program as skipped: prints "SMITH-TEST-SKIPPED: <reason>", the line CTest recognises
// (tests/CMakeLists.txt), and exits 0 at once, so no failure can follow the line. tests/run.sh lists
// every skip, and under CI=true fails those tests/allowed-skips.txt does not name.
[[noreturn]] void skip_test(const std::string &reason);

// Skips (skip_test) when this host cannot run the ebpf backend tests: not root, or no kernel BTF.
void require_ebpf_preconditions();

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
int wait_exit(pid_t pid, std::chrono::milliseconds timeout = 10s);

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

// ---- Events -----------------------------------------------------------------------------------------

// One parsed output line. Values are kept as parsed, in the line's key order.
class Event {
public:
	using Value = std::variant<std::nullptr_t, bool, int64_t, uint64_t, double, std::string,
				   std::vector<std::string>>;

	// Parses one JSON line; returns nullopt and sets *error when it is not a JSON object of scalars and
	// string arrays.
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

// The schema v1 field order: the common fields, then the type's own.
const std::vector<std::string> &expected_keys(const std::string &type);

using EventPredicate = std::function<bool(const Event &)>;

// Checks (with CHECK) what every event written by this run of smithd must hold whatever the process:
// schema 1, the schema v1 key order for its type, data_type, backend "ebpf", hostname, host_id, seq > 0,
// a 32-hex-digit run_id, ts within 5 s of now, container_id "" (the tests run on the host).
void check_host_fields(const Event &e, const std::string &type);
// Checks the fields that the test's processes (this one and its children) share with this process:
// uid/gid/euid/egid 0 and user "root", pgid, sid, tty, sessionid, pid/mnt/net namespaces, cgroup id.
void check_inherited_context(const Event &e);

// ---- The daemon -------------------------------------------------------------------------------------

class Smithd {
public:
	// Checks the preconditions (may skip), starts smithd and waits until it is ready (pid file written
	// and `smithctl status --json` succeeds), for at most 30 s; fails the test with the log otherwise.
	// `extra_args` are appended to smithd's command line. Without `file_sink`
	// smithd gets no --sink/--output, so `extra_args` choose the sink.
	explicit Smithd(std::vector<std::string> extra_args = {}, bool file_sink = true);
	// Stops smithd if it still runs (SIGTERM, then SIGKILL after 15 s); prints diagnostics if the test
	// failed.
	~Smithd();
	Smithd(const Smithd &) = delete;
	Smithd &operator=(const Smithd &) = delete;

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

	// Waits until an event matching `pred` appears (at most `timeout`) and returns it. Fails the test
	// (with `what`, the log, the unparsable lines and the events of `pid_hint`) when none does.
	Event wait_for(const std::string &what, const EventPredicate &pred,
		       std::chrono::milliseconds timeout = 10s, int64_t pid_hint = -1);
	// Reads new lines, then counts the events read so far that match `pred`.
	size_t count(const EventPredicate &pred);
	// The events of `pid` seen so far, as raw lines (diagnostics).
	std::string lines_of_pid(int64_t pid) const;

	// `smithctl <args> --socket=<this socket>`
	CommandResult ctl(std::vector<std::string> args) const;

	// Sends SIGTERM and waits for the exit (at most 15 s); returns the exit status, 128 + signal, or -1.
	int terminate();
	bool running() const { return pid_ > 0; }

private:
	void start();
	void fail_start(const std::string &why);

	std::vector<std::string> extra_args_; // appended to the command line
	bool file_sink_ = true;		      // events go to output_path_
	TempDir dir_;			      // holds output, socket, pid file and log
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

// A file descriptor closed on destruction.
class Fd {
public:
	Fd() = default;
	explicit Fd(int fd) : fd_(fd) {}
	~Fd();
	Fd(Fd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	Fd &operator=(Fd &&o) noexcept;
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	int get() const { return fd_; }
	int release() { return std::exchange(fd_, -1); }
	void reset(int fd = -1);

private:
	int fd_ = -1;
};

} // namespace smith::e2e
