// The kernel-module backend: reads raw records from smith.ko's per-CPU rings,
// mapped from /dev/smith (include/smith/lkm_ring.h), for kernels where the
// eBPF backend cannot run.
//
// start():
//   1. Gets smith.ko into the kernel (LkmModule::acquire(), lkm_module.h).
//   2. Opens /dev/smith (one reader at a time: EBUSY names the holder), maps
//      it, and checks magic, transport version and record ABI before trusting it.
//   Each failure throws BackendError saying which step failed and why.
//
// detach(): the module keeps its hooks armed while /dev/smith is open, and the
// device stays open while it is mapped, so smithd cannot disarm them without
// giving up the records already queued. detach() therefore freezes each
// ring's head instead: poll() then drains the records produced before
// detach() and returns 0 once they are delivered; later records are left in
// the rings and go with the module's buffers at stop(). This keeps the
// orderly-stop drain finite on a busy host.
//
// stop(): unmaps and closes /dev/smith (the module disarms its hooks), then
// unloads the module if this smithd loaded it (LkmModule::release()).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/lkm_module.h"
#include "backend/lkm_ring_reader.h"

namespace smith::backend {

class LkmBackend final : public Backend {
public:
	explicit LkmBackend(LkmOptions options);
	~LkmBackend() override;
	LkmBackend(const LkmBackend &) = delete;
	LkmBackend &operator=(const LkmBackend &) = delete;

	std::string name() const override { return "lkm"; }
	void start() override;
	// poll(2) on /dev/smith for at most `timeout`, then drains every ring,
	// whether or not the wait was woken (the module wakes the reader in
	// batches), in the order of the records' stamps across rings, as the BPF
	// ring buffer hands them over: a record written on one CPU after its cause
	// was written on another (a process's fork and then its first connect)
	// comes after it. Records stamped after poll() looked at the clock wait
	// for the next call. A corrupt ring or a device error throws BackendError.
	long poll(std::chrono::milliseconds timeout, RecordHandler &handler) override;
	// One entry per hook of enum smith_hook: "attached" (armed), "disabled"
	// (module parameter), "failed" (probe did not register) or "unavailable";
	// kernel_drops summed over the rings.
	std::vector<control::HookStatus> hooks() const override;
	bool hook_timing() const override { return options_.hook_timing; }
	control::RingStatus rings() const override
	{
		return {"percpu", rings_.size(), rings_.empty() ? 0 : rings_.front().ring_bytes()};
	}
	void detach() override;
	void stop() override;

	// How the module was found, for the log and status: "smith.ko 1.2 (loaded
	// by smithd from PATH)", "... (already loaded)", ...
	const std::string &origin() const { return origin_; }
	// Whether this smithd loaded the module (and so unloads it at stop()).
	bool loaded_module() const { return module_.loaded(); }

private:
	void open_and_map();

	LkmOptions options_;
	LkmModule module_;
	int fd_ = -1;			   // /dev/smith
	void *map_ = nullptr;		   // the whole mapping, map_bytes_ long
	uint64_t map_bytes_ = 0;	   //
	smith_lkm_info *info_ = nullptr;   // page 0 of map_
	std::vector<LkmRingReader> rings_; // one per ring, in ring order
	// Drops the rings held when this smithd mapped them (earlier readers' losses: the module
	// keeps its counters while it stays loaded); hooks() reports only this run's.
	std::array<uint64_t, SMITH_HOOK_MAX> drops_at_open_{};
	std::array<smith_timing, SMITH_HOOK_MAX> timing_at_open_{}; // all rings' timing counters at open
	bool detached_ = false;					    // detach() was called
	std::string origin_;					    // see origin()
};

} // namespace smith::backend
