#include "backend/backend_choice.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace smith::backend {

BackendStarters default_starters(const EbpfOptions &ebpf, const LkmOptions &lkm)
{
	BackendStarters s;
	s.ebpf = [ebpf] {
		auto b = std::make_unique<EbpfBackend>(ebpf);
		b->start();
		return BackendChoice{std::move(b), "kernel has BTF and the BPF ring buffer, and the programs "
						   "loaded and attached"};
	};
	s.lkm = [lkm] {
		auto b = std::make_unique<LkmBackend>(lkm);
		b->start();
		std::string origin = b->origin();
		return BackendChoice{std::move(b), origin};
	};
	return s;
}

BackendChoice choose_backend(const std::string &requested, const BackendStarters &start)
{
	if (requested == "ebpf") {
		BackendChoice c = start.ebpf();
		c.reason = "requested with --backend=ebpf";
		return c;
	}
	if (requested == "lkm") {
		try {
			BackendChoice c = start.lkm();
			c.reason = fmt::format("requested with --backend=lkm; {}", c.reason);
			return c;
		} catch (const BackendError &e) {
			throw BackendError(fmt::format("--backend=lkm: {}", e.what()));
		}
	}
	if (requested != "auto")
		throw BackendError(
			fmt::format("unknown backend '{}' (expected auto, ebpf or lkm)", requested));

	std::string ebpf_reason;
	try {
		BackendChoice c = start.ebpf();
		c.reason = "auto: " + c.reason;
		spdlog::info("backend ebpf chosen ({})", c.reason);
		return c;
	} catch (const BackendError &e) {
		ebpf_reason = e.what();
	}
	spdlog::warn("backend ebpf cannot run: {}; trying the kernel module", ebpf_reason);
	try {
		BackendChoice c = start.lkm();
		c.reason = fmt::format("auto: ebpf cannot run ({}); lkm: {}", ebpf_reason, c.reason);
		spdlog::info("backend lkm chosen ({})", c.reason);
		return c;
	} catch (const BackendError &e) {
		spdlog::warn("backend lkm cannot run: {}", e.what());
		throw BackendError(fmt::format("no backend can run on this kernel: ebpf: {}; lkm: {}",
					       ebpf_reason, e.what()));
	}
}

BackendChoice choose_backend(const std::string &requested, const EbpfOptions &ebpf, const LkmOptions &lkm)
{
	return choose_backend(requested, default_starters(ebpf, lkm));
}

} // namespace smith::backend
