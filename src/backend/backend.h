// The backend interface: where raw records (include/smith/abi.h) come from.
//
// Contract, for every implementation (ebpf, lkm, replay):
//   - start() attaches to the source. It throws BackendError, whose text says
//     what failed and why, when the backend cannot run at all. Hooks the kernel
//     lacks do not fail start(): they are reported by hooks() as "unavailable".
//   - poll() waits at most `timeout` for records and hands each complete record
//     to `handler` in the order the source produced them (per CPU for kernel
//     sources). A record's memory is owned by the backend and is valid only
//     during the handler call: copy what must outlive it.
//     It returns the number of records delivered, 0 when the timeout expired
//     with none, or PollEnd when the source is finished (replay: end of file;
//     kernel backends never end). An interrupted wait (EINTR) returns 0.
//     Errors the backend cannot recover from throw BackendError.
//     Crash safety: a kernel backend gives the kernel a record's space back only after
//     handler.on_batch_end() has returned for the batch that held it. So a record is either
//     in the sink's keeping or still in the kernel's ring, where the next reader finds it
//     (ebpf: the ring is pinned in bpffs and outlives smithd; lkm: smith.ko keeps its rings),
//     whatever moment smithd is killed at. A batch is at most 1/16 of a ring (lkm) or what one
//     poll() finds (ebpf).
//   - hooks() gives each hook's state and its kernel drop count since start().
//     It is called from the pipeline thread between polls, every status
//     publication (up to ten times a second): a few syscalls at most (ebpf:
//     one map lookup per hook), never a scan of /proc or the kernel log.
//   - detach() removes the hooks, so no new records are produced; records
//     already queued can still be drained with poll() until it returns 0.
//     An orderly stop is detach(), drain, stop().
//   - stop() releases everything; it is idempotent and also done by the destructor.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "control/status.h"

namespace smith::backend {

class BackendError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

class RecordHandler {
public:
	virtual ~RecordHandler() = default;
	// One complete raw record, valid only during the call.
	virtual void on_record(std::span<const std::byte> record) = 0;
	// The records handed so far are about to leave the kernel's ring: make them survive the
	// process (Sink::persist). A throw keeps them in the ring.
	virtual void on_batch_end() {}
};

// Guards a read of a kernel ring: when the read leaves by an exception (a corrupt record, a
// handler that throws), runs `finish` (the handler's on_batch_end(), then the store that gives
// the records' space back). What was handed is kept if the handler can still make it safe, and
// stays in the ring for the next reader if it cannot (finish throws, and that is swallowed here:
// the first exception goes on).
template <typename Finish> class FinishOnUnwind {
public:
	explicit FinishOnUnwind(Finish &finish) : finish_(finish), exceptions_(std::uncaught_exceptions()) {}
	~FinishOnUnwind()
	{
		if (std::uncaught_exceptions() == exceptions_)
			return;
		try {
			finish_();
		} catch (...) {
		}
	}
	FinishOnUnwind(const FinishOnUnwind &) = delete;
	FinishOnUnwind &operator=(const FinishOnUnwind &) = delete;

private:
	Finish &finish_;
	int exceptions_;
};

inline constexpr long PollEnd = -1;

class Backend {
public:
	virtual ~Backend() = default;

	// "ebpf", "lkm" or "replay".
	virtual std::string name() const = 0;
	// The backend name events carry ("ebpf"/"lkm"; replay reports the recorded one).
	virtual std::string event_backend() const { return name(); }

	virtual void start() = 0;
	// The kernel side's rings (none: mode "").
	virtual control::RingStatus rings() const { return {}; }
	virtual long poll(std::chrono::milliseconds timeout, RecordHandler &handler) = 0;
	virtual std::vector<control::HookStatus> hooks() const = 0;
	// Whether the hooks are timed (hook_timing): hooks() then fills calls, avg_ns and p99_ns.
	virtual bool hook_timing() const { return false; }
	// The kernel's run-time statistics of each BPF program, while hooks are timed; none otherwise.
	virtual std::vector<control::ProgramStatus> programs() const { return {}; }
	virtual void detach() {}
	virtual void stop() = 0;

	// Offset to add to a record's ts (ns since boot) for ns since the epoch, when
	// the source dictates it (replay files); nullopt-like 0 means "measure here".
	virtual int64_t boot_to_epoch_ns() const { return 0; }
};

} // namespace smith::backend
