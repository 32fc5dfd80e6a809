// Getting smith.ko into the kernel for the lkm backend, and out again: the
// module-loading policy, apart from reading its rings (lkm_backend.h).
//
// acquire():
//   1. If the device node exists, the module is loaded: use it.
//   2. Else, if the module is loaded but its device node is missing, wait for
//      udev/devtmpfs, then create the node from sysfs.
//   3. Else load it: from `module_path` with finit_module(2) when one is
//      configured (lkm_module, --lkm-module), otherwise with `modprobe smith`
//      (a DKMS install). Parameters: ring_kb=<ring_kb> when ring_kb is set,
//      connect_budget_rate and connect_budget_burst; every hook is on.
//   In cases 1 and 2, and when another loader won the race, the budget is
//   written to /sys/module/smith/parameters/ instead (the module reads it at
//   every connect): each smithd runs with the budget it was configured with,
//   whoever loaded the module.
//   Each failure throws BackendError saying which step failed and why.
//
// release(): unloads the module with delete_module(2) if acquire() loaded it.
// A module that cannot be unloaded (in use, for example) is a warning, not an
// error. Idempotent; also done by the destructor.
#pragma once

#include <string>

#include "smith/budget.h"
#include "smith/lkm_ring.h"

namespace smith::backend {

struct LkmOptions {
	std::string module_path; // smith.ko to load with finit_module; "" = modprobe smith
	uint32_t ring_kb = 0;	 // ring_kb= module parameter; 0 = the module's default
	// Each process's budget of connect events (include/smith/budget.h); rate 0: none.
	uint32_t connect_budget_rate = SMITH_BUDGET_RATE_DEFAULT;
	uint32_t connect_budget_burst = SMITH_BUDGET_BURST_DEFAULT;
	bool hook_timing = false;	       // the module's hook_timing parameter, set at every start
	std::string device = SMITH_LKM_DEVICE; // the character device
	std::string module_name = SMITH_LKM_MODULE_NAME; // for /sys/module, modprobe and delete_module
};

class LkmModule {
public:
	explicit LkmModule(LkmOptions options) : options_(std::move(options)) {}
	~LkmModule() { release(); }
	LkmModule(const LkmModule &) = delete;
	LkmModule &operator=(const LkmModule &) = delete;

	void acquire();
	void release();

	// How the module was found: "already loaded", "loaded by smithd from PATH", "loaded by
	// smithd with modprobe".
	const std::string &origin() const { return origin_; }
	// Whether acquire() loaded the module (and so release() unloads it).
	bool loaded() const { return loaded_; }

private:
	void load_module_file();
	void load_with_modprobe();
	void wait_for_device();
	void set_runtime_params();

	LkmOptions options_;
	bool loaded_ = false; // acquire() loaded smith.ko: release() unloads it
	std::string origin_;
};

// " (held by pid 812 smithd)" for the processes that have `device` open, or "".
std::string lkm_device_holders(const std::string &device);

// "Operation not permitted (errno 1)".
std::string errno_text(int err);

} // namespace smith::backend
