// Picks and starts the backend smithd runs: --backend=auto|ebpf|lkm.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"
#include "backend/ebpf_backend.h"

namespace smith::backend {

struct BackendChoice {
	std::unique_ptr<Backend> backend; // started
	std::string reason;		  // why it was chosen, for the log and smithctl status
};

// Starts the requested backend. "auto" probes the kernel: eBPF when BTF and the
// ring buffer are there and the programs load and attach, else the kernel
// module. Throws BackendError naming each backend's reason when none can run.
BackendChoice choose_backend(const std::string &requested, const EbpfOptions &ebpf);

} // namespace smith::backend
