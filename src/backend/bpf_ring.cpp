#include "backend/bpf_ring.h"
#include "backend/time_order.h"
#include "backend/libbpf_error.h"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

namespace smith::backend {
namespace {

// consume() gives space back each time it has taken this fraction of the ring (as the lkm reader).
constexpr uint64_t kGiveBackFraction = 16;

// The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), 0 if it is gone.
uint64_t start_ticks(pid_t pid)
{
	std::ifstream in(fmt::format("/proc/{}/stat", pid));
	std::string stat;
	if (!std::getline(in, stat))
		return 0;
	// The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
	const size_t close = stat.rfind(')');
	if (close == std::string::npos)
		return 0;
	std::istringstream fields(stat.substr(close + 2));
	std::string field;
	for (int i = 3; i <= 22 && fields >> field; i++)
		if (i == 22)
			return std::strtoull(field.c_str(), nullptr, 10);
	return 0;
}

bool is_bpffs(const std::string &path)
{
	struct statfs fs {};
	return statfs(path.c_str(), &fs) == 0 && static_cast<unsigned long>(fs.f_type) == BPF_FS_MAGIC;
}

} // namespace

BpfRing::BpfRing(util::UniqueFd map_fd, std::string name) : fd_(std::move(map_fd)), name_(std::move(name))
{
	bpf_map_info info{};
	uint32_t len = sizeof(info);
	if (int err = bpf_obj_get_info_by_fd(fd_.get(), &info, &len); err != 0)
		throw BackendError(
			fmt::format("cannot inspect the ring {}: {}", name_, libbpf_error_text(err)));
	if (info.type != BPF_MAP_TYPE_RINGBUF)
		throw BackendError(
			fmt::format("{} is a BPF map of type {}, not a ring buffer", name_, info.type));
	ring_bytes_ = info.max_entries;
	page_size_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
	if (ring_bytes_ < page_size_ || (ring_bytes_ & (ring_bytes_ - 1)) != 0)
		throw BackendError(
			fmt::format("the ring {} has {} bytes, not a power of two", name_, ring_bytes_));
	consumer_ = mmap(nullptr, page_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
	if (consumer_ == MAP_FAILED) {
		consumer_ = nullptr;
		throw BackendError(
			fmt::format("cannot map the ring {}: {}", name_, libbpf_error_text(errno)));
	}
	// The data area is mapped twice in a row, so a record that wraps reads as one piece.
	producer_bytes_ = page_size_ + 2 * ring_bytes_;
	producer_ = mmap(nullptr, producer_bytes_, PROT_READ, MAP_SHARED, fd_.get(),
			 static_cast<off_t>(page_size_));
	if (producer_ == MAP_FAILED) {
		const int e = errno;
		producer_ = nullptr;
		munmap(consumer_, page_size_);
		consumer_ = nullptr;
		throw BackendError(fmt::format("cannot map the ring {}: {}", name_, libbpf_error_text(e)));
	}
}

BpfRing::BpfRing(BpfRing &&other) noexcept
    : fd_(std::move(other.fd_)), name_(std::move(other.name_)), ring_bytes_(other.ring_bytes_),
      page_size_(other.page_size_), consumer_(std::exchange(other.consumer_, nullptr)),
      producer_(std::exchange(other.producer_, nullptr)), producer_bytes_(other.producer_bytes_)
{}

BpfRing::~BpfRing()
{
	if (producer_)
		munmap(producer_, producer_bytes_);
	if (consumer_)
		munmap(consumer_, page_size_);
}

namespace {
std::atomic_ref<unsigned long> position(void *page)
{
	return std::atomic_ref<unsigned long>(*static_cast<unsigned long *>(page));
}
} // namespace

uint64_t BpfRing::unread_bytes() const
{
	return position(producer_).load(std::memory_order_acquire) -
	       position(consumer_).load(std::memory_order_relaxed);
}

void BpfRing::begin()
{
	pass_pos_ = published_ = position(consumer_).load(std::memory_order_relaxed); // ours
	pass_head_ = position(producer_).load(std::memory_order_acquire);
	pass_span_ = 0;
	if (pass_head_ - pass_pos_ > ring_bytes_)
		throw BackendError(fmt::format("the ring {} is corrupt: the producer's position {} is {} "
					       "bytes ahead of the reader's, more than the ring's {}",
					       name_, pass_head_, pass_head_ - pass_pos_, ring_bytes_));
}

std::span<const std::byte> BpfRing::next()
{
	const auto *data = static_cast<const std::byte *>(producer_) + page_size_;
	const uint64_t mask = ring_bytes_ - 1;
	pass_span_ = 0;
	while (pass_pos_ < pass_head_) {
		auto *hdr = const_cast<std::byte *>(data + (pass_pos_ & mask));
		const uint32_t len = std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t *>(hdr))
					     .load(std::memory_order_acquire);
		if (len & BPF_RINGBUF_BUSY_BIT)
			break; // still being written: a later pass takes it
		const uint32_t size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		const uint64_t span = (uint64_t{size} + BPF_RINGBUF_HDR_SZ + 7) & ~uint64_t{7};
		if (span > pass_head_ - pass_pos_)
			throw BackendError(
				fmt::format("the ring {} is corrupt at position {}: a record of {} bytes, "
					    "{} bytes before the producer's position",
					    name_, pass_pos_, size, pass_head_ - pass_pos_));
		if (len & BPF_RINGBUF_DISCARD_BIT) {
			pass_pos_ += span;
			continue;
		}
		pass_span_ = span;
		return {hdr + BPF_RINGBUF_HDR_SZ, size};
	}
	return {};
}

bool BpfRing::pop()
{
	pass_pos_ += pass_span_;
	pass_span_ = 0;
	return pass_pos_ - published_ >= ring_bytes_ / kGiveBackFraction;
}

void BpfRing::publish()
{
	if (pass_pos_ == published_)
		return;
	position(consumer_).store(pass_pos_, std::memory_order_release);
	published_ = pass_pos_;
}

long BpfRing::consume(RecordHandler &handler)
{
	return drain_ring(*this, handler);
}

RingPins::RingPins(std::string dir) : dir_(std::move(dir))
{
	const std::filesystem::path path(dir_);
	const std::string parent = path.parent_path().string();
	if (!is_bpffs(parent)) {
		// smithd runs as root; systemd mounts bpffs, a bare init or a container may not.
		if (parent == "/sys/fs/bpf" && mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") == 0)
			spdlog::info("mounted bpffs on /sys/fs/bpf");
		else
			throw BackendError(
				fmt::format("{} is not on a bpffs (mount -t bpf bpf /sys/fs/bpf)", parent));
	}
	if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
		throw BackendError(fmt::format("cannot create {}: {}", dir_, libbpf_error_text(errno)));
	own_path_ = fmt::format("{}/events-{}-{}", dir_, getpid(), start_ticks(getpid()));
}

std::vector<std::vector<BpfRing>> RingPins::adopt_leftovers() const
{
	struct Pin {
		std::string path;
		uint64_t pid;
		uint64_t start;
	};
	std::vector<Pin> pins;
	std::error_code ec;
	for (const auto &entry : std::filesystem::directory_iterator(dir_, ec)) {
		const std::string name = entry.path().filename().string();
		unsigned long pid = 0;
		unsigned long long start = 0;
		if (entry.path().string() == own_path_ ||
		    std::sscanf(name.c_str(), "events-%lu-%llu", &pid, &start) != 2)
			continue;
		if (start_ticks(static_cast<pid_t>(pid)) == start)
			continue; // its smithd still runs
		pins.push_back({entry.path().string(), pid, start});
	}
	// Oldest smithd first; a smithd's per-CPU rings next to each other.
	std::sort(pins.begin(), pins.end(), [](const Pin &a, const Pin &b) {
		return std::tie(a.start, a.pid, a.path) < std::tie(b.start, b.pid, b.path);
	});
	std::vector<std::vector<BpfRing>> groups;
	const Pin *last = nullptr;
	for (const Pin &p : pins) {
		util::UniqueFd fd(bpf_obj_get(p.path.c_str()));
		if (!fd.valid()) {
			spdlog::warn("cannot open the ring {} a stopped smithd left: {}", p.path,
				     libbpf_error_text(errno));
			continue;
		}
		try {
			BpfRing ring(std::move(fd), p.path);
			spdlog::info("reading the {} bytes a smithd that did not stop cleanly left in {}",
				     ring.unread_bytes(), p.path);
			if (!last || last->pid != p.pid || last->start != p.start)
				groups.emplace_back();
			groups.back().push_back(std::move(ring));
			last = &p;
		} catch (const BackendError &e) {
			spdlog::warn("{}; removing it", e.what());
			release(p.path);
		}
	}
	return groups;
}

void RingPins::release(const std::string &path)
{
	if (unlink(path.c_str()) != 0 && errno != ENOENT)
		spdlog::warn("cannot remove {}: {}", path, libbpf_error_text(errno));
}

} // namespace smith::backend
