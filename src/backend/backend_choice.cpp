#include "backend/backend_choice.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace smith::backend {
namespace {

constexpr const char *kLkmNotBuilt = "the kernel-module backend is not built yet in this release of smith";

} // namespace

BackendChoice choose_backend(const std::string &requested, const EbpfOptions &ebpf)
{
	if (requested == "lkm")
		throw BackendError(fmt::format("--backend=lkm: {}", kLkmNotBuilt));
	if (requested == "ebpf") {
		auto b = std::make_unique<EbpfBackend>(ebpf);
		b->start();
		return {std::move(b), "requested with --backend=ebpf"};
	}
	if (requested != "auto")
		throw BackendError(
			fmt::format("unknown backend '{}' (expected auto, ebpf or lkm)", requested));

	std::string ebpf_reason = ebpf_unsupported_reason();
	if (ebpf_reason.empty()) {
		try {
			auto b = std::make_unique<EbpfBackend>(ebpf);
			b->start();
			std::string why = "auto: kernel has BTF and the BPF ring buffer, and the programs "
					  "loaded and attached";
			spdlog::info("backend ebpf chosen ({})", why);
			return {std::move(b), why};
		} catch (const BackendError &e) {
			ebpf_reason = e.what();
		}
	}
	spdlog::warn("backend ebpf cannot run: {}", ebpf_reason);
	throw BackendError(fmt::format("no backend can run on this kernel: ebpf: {}; lkm: {}", ebpf_reason,
				       kLkmNotBuilt));
}

} // namespace smith::backend
