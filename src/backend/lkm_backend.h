// The kernel-module backend: reads raw records from smith.ko's per-CPU rings,
// mapped from /dev/smith (include/smith/lkm_ring.h), for kernels where the
// eBPF backend cannot run.
//
// start():
//   1. If /dev/smith exists, the module is loaded: use it.
//   2. Else, if the module is loaded but its device node is missing, wait for
//      udev/devtmpfs, then create the node from sysfs.
//   3. Else load it: from `module_path` with finit_module(2) when one is
//      configured (lkm_module, --lkm-module), otherwise with `modprobe smith`
//      (a DKMS install). Parameters: ring_kb=<ring_kb> when ring_kb is set;
//      every hook is on.
//   4. Open /dev/smith (one reader at a time: EBUSY names the holder), map it,
//      and check magic, transport version and record ABI before trusting it.
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
// unloads the module with delete_module(2) if this smithd loaded it. A module
// that cannot be unloaded (in use, for example) is a warning, not an error.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/lkm_ring_reader.h"

namespace smith::backend {

struct LkmOptions {
	std::string module_path;	       // smith.ko to load with finit_module; "" = modprobe smith
	uint32_t ring_kb = 0;		       // ring_kb= module parameter; 0 = the module's default
	std::string device = SMITH_LKM_DEVICE; // the character device
	std::string module_name = SMITH_LKM_MODULE_NAME; // for /sys/module, modprobe and delete_module
};

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
	// batches). A corrupt ring or a device error throws BackendError.
	long poll(std::chrono::milliseconds timeout, RecordHandler &handler) override;
	// One entry per hook of enum smith_hook: "attached" (armed), "disabled"
	// (module parameter), "failed" (probe did not register) or "unavailable";
	// kernel_drops summed over the rings.
	std::vector<control::HookStatus> hooks() const override;
	void detach() override;
	void stop() override;

	// How the module was found, for the log and status: "smith.ko 1.2 (loaded
	// by smithd from PATH)", "... (already loaded)", ...
	const std::string &origin() const { return origin_; }
	// Whether this smithd loaded the module (and so unloads it at stop()).
	bool loaded_module() const { return loaded_module_; }

private:
	void ensure_module();
	void load_module_file();
	void load_with_modprobe();
	void wait_for_device();
	void open_and_map();

	LkmOptions options_;
	int fd_ = -1;			   // /dev/smith
	void *map_ = nullptr;		   // the whole mapping, map_bytes_ long
	uint64_t map_bytes_ = 0;	   //
	smith_lkm_info *info_ = nullptr;   // page 0 of map_
	std::vector<LkmRingReader> rings_; // one per ring, in ring order
	// Drops the rings held when this smithd mapped them (earlier readers' losses: the module
	// keeps its counters while it stays loaded); hooks() reports only this run's.
	std::array<uint64_t, SMITH_HOOK_MAX> drops_at_open_{};
	bool loaded_module_ = false; // this smithd loaded smith.ko: unload it at stop()
	bool detached_ = false;	     // detach() was called
	std::string origin_;	     // see origin()
};

} // namespace smith::backend
