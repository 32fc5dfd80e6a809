// Shared by smithd and smithctl. What `smithctl status` shows: one consistent snapshot of the daemon's state,
// published by the pipeline after each batch, and its JSON form.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "smith/abi.h"

namespace smith::control {

// Event types and hooks, as the event table (include/smith/event_table.h) names them.
inline constexpr size_t kEventTypeCount = SMITH_REC_TYPE_COUNT;
inline constexpr std::array<const char *, kEventTypeCount> kEventTypeNames = {
#define SMITH_X(ID, value, name, data_type, record) name,
	SMITH_RECORD_TYPES(SMITH_X)
#undef SMITH_X
};
// Where a record type's counters are in arrays of kEventTypeCount: values run 1, 2, 3, ...
constexpr size_t event_type_index(smith_rec_type type)
{
	return static_cast<size_t>(type) - 1;
}
static_assert(
	[] {
		size_t index = 0;
#define SMITH_X(ID, value, name, data_type, record) index += (value == index + 1);
		SMITH_RECORD_TYPES(SMITH_X)
#undef SMITH_X
		return index == kEventTypeCount;
	}(),
	"event_table.h: record type values must run 1, 2, 3, ... in table order");

inline constexpr size_t kHookCount = SMITH_HOOK_MAX;
inline constexpr std::array<const char *, kHookCount> kHookNames = {
#define SMITH_X(ID, syscall, record, nr_x86_64, nr_i386, reports) #syscall,
	SMITH_HOOKS(SMITH_X)
#undef SMITH_X
};

struct HookStatus {
	std::string name;   // kHookNames
	std::string state;  // "attached", "unavailable", "disabled" or "failed"
	std::string reason; // why it is not attached; "" when attached
	// How it is attached: "fexit" (BPF trampolines on the syscalls' functions), "sys_exit" (the
	// tracepoint every syscall returns through), "tp_btf"/"tracepoint" (on what tasks do), "kprobe"
	std::string attach;
	uint64_t kernel_drops = 0; // ring reserve failures counted in the kernel
	// What the hook itself cost since start, measured in the kernel while hook_timing is on (all 0
	// while it is off): calls timed, their mean and 99th percentile in ns.
	uint64_t calls = 0;
	uint64_t avg_ns = 0;
	uint64_t p99_ns = 0;
};

// One BPF program as the kernel's own run-time statistics count it (ebpf with hook_timing on):
// every run, prologue included, whichever hook it served.
struct ProgramStatus {
	std::string name;	  // the program's function name
	uint64_t run_cnt = 0;	  // runs since hook_timing took effect
	uint64_t run_time_ns = 0; // their total time
};

// The kernel side's rings: what a burst can fill before the hooks drop.
struct RingStatus {
	std::string mode;   // "shared" (one for all CPUs), "percpu" (one per CPU); "" when none (replay)
	uint64_t count = 0; // rings
	uint64_t bytes = 0; // data bytes of each
};

struct SinkStatus {
	std::string type;	    // "stdout", "file" or "kafka"
	std::string target;	    // output path, or broker list
	bool connected = false;	    // the sink accepts writes now (kafka: a broker answered lately)
	std::string last_error;	    // "" if none
	uint64_t written = 0;	    // events at the destination (kafka: acknowledged by the broker)
	uint64_t failed = 0;	    // writes or deliveries that failed (kafka: the event went to the spool)
	uint64_t in_flight = 0;	    // kafka: events queued in memory, not yet acknowledged
	uint64_t spooled = 0;	    // events written to the spool since start
	uint64_t replayed = 0;	    // spooled events delivered since start
	uint64_t spool_bytes = 0;   // bytes in the spool now
	uint64_t spool_records = 0; // events in the spool now
	uint64_t spool_dropped = 0; // events lost to the spool's size bound since start
	uint64_t spool_corrupt = 0; // damaged spool records skipped since start
	uint64_t dead_lettered = 0; // kafka: events the broker refused for good, in <spool>/dead-letter.jsonl
	uint64_t producer_rebuilds = 0; // kafka: producers rebuilt after a fatal error
};

struct StatusSnapshot {
	std::string version;
	int64_t pid = 0;
	double uptime_seconds = 0;
	double time = 0; // wall clock when the snapshot was taken, seconds since the Unix epoch
	// Seconds between heartbeats (0: none are sent): a reader of the heartbeat topic knows from it when
	// the next one is due.
	uint64_t heartbeat_interval_seconds = 0;
	std::string hostname;
	std::string host_id;
	std::string run_id;
	std::string kernel;		// uname release
	std::string backend;		// "ebpf", "lkm", "replay"
	std::string backend_reason;	// why --backend=auto chose it, or "requested"
	std::string previous_run_id;	// the run before this one ("" when none was recorded)
	bool previous_run_clean = true; // whether it stopped cleanly (run_state.h)
	bool stopping = false;		// the last status of a clean stop
	RingStatus rings;
	bool hook_timing = false; // whether hooks are timed (setting hook_timing)
	std::vector<HookStatus> hooks;
	std::vector<ProgramStatus> programs;		  // ebpf with hook_timing on; empty otherwise
	std::array<uint64_t, kEventTypeCount> received{}; // records decoded, by type
	std::array<uint64_t, kEventTypeCount> sent{};	  // events written to the sink, by type
	uint64_t decode_errors = 0; // records that could not be decoded (skipped, counted)
	// Connect calls the connect budget held back since start: the sum of the `suppressed` counts of
	// the connect_suppressed events received
	uint64_t suppressed_connects = 0;
	uint64_t last_seq = 0; // seq of the last event written; all events <= last_seq are flushed
	uint64_t own_records =
		0; // smithd's own records written (run_start, loss, run_end): they take seqs too
	uint64_t queue_depth = 0; // events waiting between pipeline and sink
	uint64_t spool_bytes = 0; // bytes in the on-disk spool
	SinkStatus sink;
	uint64_t rss_bytes = 0;
	double cpu_seconds = 0; // user + system since start
	double cpu_percent = 0; // over the last status interval
};

// One JSON object, stable field names (documented in README).
std::string status_to_json(const StatusSnapshot &s);

} // namespace smith::control
