// Picks and starts the backend smithd runs: --backend=auto|ebpf|lkm.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "backend/ebpf_backend.h"
#include "backend/lkm_backend.h"

namespace smith::backend {

struct BackendChoice {
	std::unique_ptr<Backend> backend; // started
	std::string reason;		  // why it was chosen, for the log and smithctl status
};

// How each backend is started. Each returns a started backend and a short
// account of what it found (lkm: where smith.ko came from), or throws
// BackendError saying why it cannot run. The defaults start the real ones.
struct BackendStarters {
	std::function<BackendChoice()> ebpf;
	std::function<BackendChoice()> lkm;
};
BackendStarters default_starters(const EbpfOptions &ebpf, const LkmOptions &lkm);

// Starts the requested backend. "auto" tries eBPF first (BTF and the ring
// buffer are probed, and the programs must load and attach), and when it
// cannot run, the kernel module; the reason names what ebpf lacked and what
// lkm found. Throws BackendError naming each backend's reason when none can
// run, and for "lkm" or "ebpf" when the one requested cannot.
BackendChoice choose_backend(const std::string &requested, const BackendStarters &start);
BackendChoice choose_backend(const std::string &requested, const EbpfOptions &ebpf, const LkmOptions &lkm);

} // namespace smith::backend
