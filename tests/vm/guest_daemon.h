// The smithd instances the VM checks run inside a guest kernel: several at once, one per backend, over
// the same actions, each with its own file sink, socket and pid file under /tmp.
//
// Starting an instance and waiting for it are separate steps, so that the eBPF verifier's work (slow
// under an emulated CPU) overlaps for every instance that needs it.
#pragma once

#include "../e2e/smithd_fixture.h"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace smith::vm {

using namespace std::chrono_literals;
using e2e::CommandResult;
using e2e::Event;
using e2e::EventPredicate;

// Where smithd and smithctl are: the directory of this program when it holds them (the guest's
// /opt/smith/bin), else the build directory it was built in.
std::string smithd_path();
std::string smithctl_path();
// The guest's modules directory (/opt/smith/modules), or SMITH_VM_MODULE_DIR.
std::string module_dir();

// How long a start may take: BPF program loads under TCG take minutes (SMITH_VM_START_TIMEOUT, s).
std::chrono::seconds start_timeout();

struct DaemonOptions {
	std::string label;		  // for messages: "auto", "lkm", ...
	std::string backend;		  // --backend=
	std::vector<std::string> extra;	  // more arguments
	bool hide_btf = false;		  // run in a mount namespace where /sys/kernel/btf/vmlinux is empty
	std::string config = "/dev/null"; // --config=
};

class Daemon {
public:
	explicit Daemon(DaemonOptions options);
	~Daemon(); // SIGKILLs a daemon still running (terminate() is the orderly stop)
	Daemon(const Daemon &) = delete;
	Daemon &operator=(const Daemon &) = delete;

	// Forks and execs smithd; returns at once.
	void start();
	// Waits until the pid file exists and `smithctl status --json` answers; "" when ready, else why not
	// (with the log's tail).
	std::string wait_ready(std::chrono::milliseconds timeout);

	const DaemonOptions &options() const { return options_; }
	const std::string &label() const { return options_.label; }
	pid_t pid() const { return pid_; }
	std::string log() const;
	const std::string &output_path() const { return output_path_; }

	// Reads new lines of the output file; returns every event read so far.
	const std::vector<Event> &poll();
	const std::vector<std::pair<std::string, std::string>> &bad_lines() const { return bad_lines_; }
	// The first event so far, or within `timeout`, that matches; nullopt when none came.
	std::optional<Event> find(const EventPredicate &pred, std::chrono::milliseconds timeout);
	size_t count(const EventPredicate &pred);
	std::string lines_of_pid(int64_t pid) const;

	CommandResult ctl(std::vector<std::string> args) const;
	// `smithctl status --json`, its stdout ("" when it failed).
	std::string status_json() const;

	// SIGTERM, then wait (at most `timeout`); the exit status, 128 + signal, or -1.
	int terminate(std::chrono::milliseconds timeout = 60s);
	bool running() const { return pid_ > 0; }
	// Whether the process has exited by itself; its status goes to *code.
	bool exited(int *code);

private:
	DaemonOptions options_;
	e2e::TempDir dir_;
	std::string output_path_, socket_path_, pid_file_, log_path_;
	pid_t pid_ = -1;
	size_t read_offset_ = 0;
	std::string partial_;
	std::vector<Event> events_;
	std::vector<std::pair<std::string, std::string>> bad_lines_;
};

// A few fields of a status object.
struct Status {
	std::string backend;
	std::string backend_reason;
	std::map<std::string, uint64_t> drops; // hook name -> kernel_drops
	std::map<std::string, std::string> hook_state;
	uint64_t last_seq = 0;
	uint64_t decode_errors = 0;
	uint64_t queue_depth = 0;
};
// Parses `smithctl status --json`; nullopt (and *error) when it does not parse.
std::optional<Status> parse_status(const std::string &json, std::string *error);

// Loads a module image with init_module(2) (from memory) or finit_module(2) (from the open file);
// returns 0 or -errno.
int load_module_from_memory(const std::string &path, const std::string &params);
int load_module_from_file(const std::string &path, const std::string &params, int flags = 0);
// delete_module(2) with O_NONBLOCK; returns 0 or -errno.
int unload_module(const std::string &name);
bool module_loaded(const std::string &name); // /sys/module/<name> exists

} // namespace smith::vm
