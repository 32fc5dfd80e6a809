// The eBPF backend: loads bpf/smith.bpf.c (CO-RE), attaches each hook the
// kernel has, and reads raw records from the BPF ring buffer.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "smith/budget.h"
#include "util/fd.h"

namespace smith::backend {

struct EbpfOptions {
	uint32_t ringbuf_bytes = 8u << 20; // ring buffer size, a power of two >= page size
	// Records wake the reader only once this many bytes wait in the ring; below
	// it the reader finds them within poll_interval. 0 means ringbuf_bytes / 64.
	uint32_t wakeup_bytes = 0;
	// The longest a record waits for the reader when no wakeup comes.
	std::chrono::milliseconds poll_interval{10};
	// Each process's budget of connect events (include/smith/budget.h); rate 0: none.
	uint32_t connect_budget_rate = SMITH_BUDGET_RATE_DEFAULT;
	uint32_t connect_budget_burst = SMITH_BUDGET_BURST_DEFAULT;
	// How the syscall hooks attach (event_table.h, SMITH_BPF_PROGRAMS): "fexit" (BPF
	// trampolines on the syscalls' entry functions: nothing else pays), "sys_exit" (the raw
	// tracepoint every syscall returns through), or "auto": fexit where the kernel allows
	// trampolines, probed at start, else sys_exit.
	std::string attach = "auto";
	// The bpffs directory the ring is pinned in (bpf_ring.h), so that what a killed smithd had
	// not made safe waits there for the next start; "": not pinned (kill -9 loses what the
	// ring holds).
	std::string pin_dir = "/sys/fs/bpf/smith";
	// "shared": one ring buffer of ringbuf_bytes for all CPUs, each reservation under its lock;
	// "percpu": one per possible CPU (cpu_ring_bytes()), no CPU waits on another, and the
	// reader merges them by time stamp.
	std::string ring = "shared";
	// Time each hook's work in the programs (per-hook calls, mean, p99), and turn on the kernel's
	// run-time statistics of BPF programs (every program on the host pays for those while on).
	bool hook_timing = false;
};

// The size of each CPU's ring in the percpu mode: `total_bytes` shared out over `ncpus`, a power
// of two, at least a page and four records of the largest size (SMITH_REC_MAX).
uint32_t cpu_ring_bytes(uint32_t total_bytes, int ncpus);

// Why this kernel refuses BPF trampolines ("" if it allows them): loads and attaches an empty
// fexit program on connect's entry function, and takes it away again.
std::string trampoline_refusal();

// Why the eBPF backend cannot run on this kernel ("" if it can be tried):
// BTF, the ring buffer map type and the bpf_loop helper are probed, not inferred from versions.
std::string ebpf_unsupported_reason();

class EbpfBackend final : public Backend {
public:
	explicit EbpfBackend(EbpfOptions options);
	~EbpfBackend() override;

	std::string name() const override { return "ebpf"; }
	void start() override;
	long poll(std::chrono::milliseconds timeout, RecordHandler &handler) override;
	std::vector<control::HookStatus> hooks() const override;
	bool hook_timing() const override { return options_.hook_timing; }
	std::vector<control::ProgramStatus> programs() const override;
	control::RingStatus rings() const override;
	void detach() override;
	void stop() override;

private:
	struct State;
	// Opens, loads and attaches the programs of one mode (SMITH_BPF_MODE_FEXIT or _SYS_EXIT).
	std::unique_ptr<State> load(int mode) const;
	void unpin_if_empty();
	// The percpu mode's rings, made (and pinned) once before the programs load, so that a
	// fallback from fexit to sys_exit keeps them.
	void create_cpu_rings();
	std::string cpu_pin(size_t cpu) const; // where CPU `cpu`'s ring is pinned
	void release_pins();

	EbpfOptions options_;
	std::string pin_path_; // where the ring is pinned (per-CPU rings: with -cpu<N>); "" if not
	std::vector<util::UniqueFd> cpu_rings_; // percpu mode: one ring per possible CPU
	uint32_t cpu_ring_bytes_ = 0;
	bool detached_ = false;
	std::unique_ptr<State> state_;
};

} // namespace smith::backend
