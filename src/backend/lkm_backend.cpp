#include "backend/lkm_backend.h"
#include "backend/hook_timing.h"
#include "backend/time_order.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <queue>

namespace smith::backend {
namespace {

// The hooks on a syscall come first in the event table.
constexpr unsigned kSyscallHooks = 0 SMITH_SYSCALL_HOOKS(SMITH_COUNT_ONE);

} // namespace

LkmBackend::LkmBackend(LkmOptions options) : options_(options), module_(std::move(options)) {}

LkmBackend::~LkmBackend()
{
	stop();
}

void LkmBackend::start()
{
	if (fd_ >= 0)
		return;
	origin_.clear();
	// A start that fails leaves nothing behind: no mapping, no open device,
	// and no module that this smithd loaded.
	try {
		module_.acquire();
		open_and_map();
		const auto armed = info_->hooks_armed;
		if ((armed & ((1u << SMITH_HOOK_MAX) - 1)) == 0) {
			std::string states;
			for (const auto &h : hooks())
				states += fmt::format("{}{}: {} ({})", states.empty() ? "" : "; ", h.name,
						      h.state, h.reason);
			throw BackendError(fmt::format("smith.ko armed no hook: {}", states));
		}
	} catch (...) {
		stop();
		throw;
	}
	for (const auto &h : hooks()) {
		if (h.state == "attached")
			spdlog::info("hook {} attached", h.name);
		else
			spdlog::warn("hook {} {}: {}", h.name, h.state, h.reason);
	}
}

void LkmBackend::open_and_map()
{
	const std::string &device = options_.device;
	fd_ = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
	if (fd_ < 0) {
		int err = errno;
		switch (err) {
		case EBUSY:
			throw BackendError(
				fmt::format("another reader has {} open{}; smith.ko serves one reader at "
					    "a time (is another smithd running?)",
					    device, lkm_device_holders(device)));
		case EACCES:
		case EPERM:
			throw BackendError(fmt::format("cannot open {}: {} (smithd needs root)", device,
						       errno_text(err)));
		case ENXIO:
		case ENODEV:
			throw BackendError(
				fmt::format("cannot open {}: {}: no driver answers the device node "
					    "(a stale node left after smith.ko was unloaded?)",
					    device, errno_text(err)));
		default: throw BackendError(fmt::format("cannot open {}: {}", device, errno_text(err)));
		}
	}

	// Page 0 says how much to map.
	const long page = sysconf(_SC_PAGESIZE);
	void *first = mmap(nullptr, static_cast<size_t>(page), PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
	if (first == MAP_FAILED)
		throw BackendError(fmt::format("cannot map the info page of {} ({} bytes): {}", device, page,
					       errno_text(errno)));
	smith_lkm_info info;
	std::memcpy(&info, first, sizeof(info));
	munmap(first, static_cast<size_t>(page));
	try {
		lkm_check_info(info, static_cast<uint64_t>(page));
	} catch (const BackendError &e) {
		throw BackendError(fmt::format("{}: {}", device, e.what()));
	}

	map_ = mmap(nullptr, info.map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
	if (map_ == MAP_FAILED) {
		map_ = nullptr;
		throw BackendError(fmt::format("cannot map {} ({} rings of {} bytes, {} bytes in all): {}",
					       device, info.nr_rings, info.ring_bytes, info.map_bytes,
					       errno_text(errno)));
	}
	map_bytes_ = info.map_bytes;
	info_ = static_cast<smith_lkm_info *>(map_);

	auto *base = static_cast<std::byte *>(map_);
	rings_.reserve(info.nr_rings);
	for (uint32_t i = 0; i < info.nr_rings; i++) {
		std::byte *ring = base + info.ring_offset + uint64_t{i} * info.ring_stride;
		rings_.emplace_back(reinterpret_cast<smith_lkm_ring_ctl *>(ring), ring + info.page_size,
				    info.ring_bytes, i);
	}
	for (unsigned h = 0; h < SMITH_HOOK_MAX; h++) {
		drops_at_open_[h] = 0;
		timing_at_open_[h] = {};
		for (const auto &ring : rings_) {
			drops_at_open_[h] += ring.drops(h);
			timing_add(timing_at_open_[h], ring.timing(h));
		}
	}

	const std::string version = lkm_module_version(info);
	origin_ =
		fmt::format("smith.ko {} ({})", version.empty() ? "(no version)" : version, module_.origin());
	spdlog::info("lkm: {}: {} rings of {} KiB mapped from {}", origin_, info.nr_rings,
		     info.ring_bytes / 1024, device);
	if (options_.ring_kb && options_.ring_kb != info.ring_bytes / 1024)
		spdlog::warn("lkm_ring_kb {} not applied: smith.ko was already loaded with rings of {} KiB; "
			     "unload it (rmmod smith) for the setting to take effect",
			     options_.ring_kb, info.ring_bytes / 1024);
}

long LkmBackend::poll(std::chrono::milliseconds timeout, RecordHandler &handler)
{
	if (fd_ < 0)
		throw BackendError("lkm backend polled before start");
	if (!detached_) {
		pollfd p{fd_, POLLIN, 0};
		int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
		if (r < 0 && errno != EINTR)
			throw BackendError(
				fmt::format("poll on {} failed: {}", options_.device, errno_text(errno)));
		if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
			throw BackendError(fmt::format("{} reported {}{}{}", options_.device,
						       p.revents & POLLERR ? "POLLERR " : "",
						       p.revents & POLLHUP ? "POLLHUP " : "",
						       p.revents & POLLNVAL ? "POLLNVAL " : ""));
	}
	// Every ring, woken or not: the module wakes the reader in batches, and
	// an idle wait should not leave records behind for another timeout.
	return drain_in_time_order(std::span<LkmRingReader>(rings_), handler,
				   detached_ ? UINT64_MAX : boottime_ns());
}

std::vector<control::HookStatus> LkmBackend::hooks() const
{
	if (!info_)
		return {};
	auto bits = [](__u32 &field) {
		return std::atomic_ref<__u32>(field).load(std::memory_order_relaxed);
	};
	const uint32_t armed = bits(info_->hooks_armed);
	const uint32_t disabled = bits(info_->hooks_disabled);
	const uint32_t failed = bits(info_->hooks_failed);
	const uint32_t missing = bits(info_->hooks_unavailable);
	std::vector<control::HookStatus> out(SMITH_HOOK_MAX);
	for (unsigned h = 0; h < SMITH_HOOK_MAX; h++) {
		auto &s = out[h];
		s.name = control::kHookNames[h];
		// smith.ko sees the syscalls at the sys_exit tracepoint, the rest at the task tracepoints.
		s.attach = h < kSyscallHooks ? "sys_exit" : "tracepoint";
		const uint32_t bit = 1u << h;
		if (armed & bit) {
			s.state = detached_ ? "detached" : "attached";
			if (detached_)
				s.reason = "smithd is stopping";
		} else if (missing & bit) {
			s.state = "unavailable";
			s.reason = fmt::format("kernel has no {} syscall to probe (none in the kernel tree "
					       "smith.ko was built for)",
					       s.name);
		} else if (failed & bit) {
			s.state = "failed";
			s.reason = "probe failed to register (the kernel log says why)";
		} else if (disabled & bit) {
			s.state = "disabled";
			s.reason = "disabled by module parameter";
		} else {
			s.state = "unavailable";
			s.reason = "smith.ko did not arm it";
		}
		for (const auto &ring : rings_)
			s.kernel_drops += ring.drops(h);
		s.kernel_drops -= std::min(s.kernel_drops, drops_at_open_[h]);
		if (options_.hook_timing) {
			smith_timing now{};
			for (const auto &ring : rings_)
				timing_add(now, ring.timing(h));
			const TimingSummary t = summarize(timing_since(now, timing_at_open_[h]));
			s.calls = t.calls;
			s.avg_ns = t.avg_ns;
			s.p99_ns = t.p99_ns;
		}
	}
	return out;
}

void LkmBackend::detach()
{
	if (fd_ < 0 || detached_)
		return;
	for (auto &ring : rings_)
		ring.freeze();
	detached_ = true;
}

void LkmBackend::stop()
{
	rings_.clear();
	info_ = nullptr;
	if (map_) {
		munmap(map_, map_bytes_);
		map_ = nullptr;
		map_bytes_ = 0;
	}
	if (fd_ >= 0) {
		::close(fd_); // the module disarms its hooks when its last reader goes
		fd_ = -1;
	}
	detached_ = false;
	module_.release();
}

} // namespace smith::backend
