// The pipeline: backend -> decode/normalize -> sink, with the counters
// smithctl status shows. run() does all of it on the calling thread; only
// status_json() is called from others (the control socket's). It publishes a
// status snapshot after each idle poll and at least every 100 ms of input,
// always right after flushing the sink (see Sink::flush for what that
// guarantees of the snapshot's last_seq).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "backend/backend.h"
#include "backend/replay_backend.h"
#include "control/status.h"
#include "event/normalizer.h"
#include "sink/sink.h"

namespace smith::daemon {

// Facts the status shows that the pipeline does not own.
struct StatusContext {
	std::string backend_reason;
	std::string kernel;
	std::chrono::seconds heartbeat_interval{0}; // status to the sink's heartbeat this often; 0: never
	std::string previous_run_id;		    // the run before this one (run_state.h)
	bool previous_run_clean = true;
	bool own_records = false; // run_start, loss and run_end in the stream (smithd: not for a replay)
};

class Pipeline final : private backend::RecordHandler {
public:
	Pipeline(backend::Backend &backend, event::Normalizer &normalizer, sink::Sink &sink,
		 StatusContext context, backend::ReplayWriter *recorder = nullptr);

	// Runs until `stop` is set or the backend ends (replay). Sets of `reopen`
	// are handled between batches (SIGHUP). On the way out: detach, drain what
	// the kernel already queued, flush, publish the final status (stopping:
	// true), and send it as the last heartbeat when heartbeats are on.
	void run(const std::atomic<bool> &stop, std::atomic<bool> &reopen);

	// The last published status as JSON; safe from any thread.
	std::string status_json() const;
	// The last published status itself (the same snapshot status_json() gives); safe from any thread.
	control::StatusSnapshot status() const;
	// Sequence number of the last event written.
	uint64_t last_seq() const { return seq_; }

private:
	void on_record(std::span<const std::byte> record) override;
	void on_batch_end() override { sink_.persist(); }
	void publish(bool stopping = false);

	// smithd's own records in the event stream (README, "smithd's own records"): run_start before
	// anything else, a loss record when the kernel counted drops since the last one, run_end at a
	// clean stop. Each takes the next seq, like an event.
	template <typename Fill> void write_own(const char *type, int64_t data_type, Fill fill);
	void emit_run_start();
	void emit_loss_if_any();
	void emit_run_end();

	backend::Backend &backend_;
	event::Normalizer &normalizer_;
	sink::Sink &sink_;
	backend::ReplayWriter *recorder_; // raw records also go here, if set
	StatusContext context_;

	std::string line_; // the event being serialised, reused
	uint64_t seq_ = 0; // last seq assigned
	std::array<uint64_t, control::kEventTypeCount> received_{};
	std::array<uint64_t, control::kEventTypeCount> sent_{};
	uint64_t decode_errors_ = 0;
	uint64_t suppressed_connects_ = 0; // sum of the connect_suppressed events' counts
	std::array<uint64_t, control::kHookCount> drops_reported_{}; // kernel drops by hook, in loss records
	uint64_t own_records_ = 0;				     // run_start, loss and run_end written
	std::chrono::steady_clock::time_point started_;
	std::chrono::steady_clock::time_point last_publish_{};
	std::chrono::steady_clock::time_point last_heartbeat_{};
	double last_cpu_seconds_ = 0; // at last_cpu_sample_
	std::chrono::steady_clock::time_point last_cpu_sample_{};
	double cpu_percent_ = 0;

	mutable std::mutex status_mutex_;
	std::string status_json_;	 // guarded by status_mutex_
	control::StatusSnapshot status_; // guarded by status_mutex_; status_json_ is its JSON
};

} // namespace smith::daemon
