#include "backend/lkm_ring_reader.h"
#include "backend/time_order.h"

#include <fmt/format.h>

#include <atomic>
#include <cstring>

namespace smith::backend {
namespace {

constexpr uint32_t kMaxRings = 1u << 16;	      // far above any CPU count
constexpr uint64_t kMaxRingBytes = uint64_t{1} << 32; // 4 GiB per ring
// drain() publishes the tail each time it has consumed this fraction of the
// ring: often enough that the producer finds room during a long drain, rarely
// enough that the reader's store does not pull the producer's cache line on
// every record.
constexpr uint64_t kPublishFraction = 16;

bool power_of_two(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

} // namespace

std::string lkm_module_version(const smith_lkm_info &info)
{
	return std::string(info.version, strnlen(info.version, sizeof(info.version)));
}

void lkm_check_info(const smith_lkm_info &info, uint64_t page_size)
{
	// Identity first: nothing else in the page means anything if these differ.
	if (info.magic != SMITH_LKM_MAGIC)
		throw BackendError(
			fmt::format("the info page's magic is {:#x}, expected {:#x}: not a smith.ko "
				    "transport, or a module that failed to set it up",
				    info.magic, SMITH_LKM_MAGIC));
	std::string version = lkm_module_version(info);
	if (version.empty())
		version = "(no version string)";
	if (info.transport_version != SMITH_LKM_TRANSPORT_VERSION)
		throw BackendError(
			fmt::format("smith.ko {} speaks /dev/smith transport version {}, this smithd "
				    "speaks version {}; install a smithd and smith.ko of one release",
				    version, info.transport_version, SMITH_LKM_TRANSPORT_VERSION));
	if (info.record_abi != SMITH_ABI_VERSION)
		throw BackendError(
			fmt::format("smith.ko {} produces records of ABI version {}, this smithd "
				    "decodes ABI version {}; install a smithd and smith.ko of one release",
				    version, info.record_abi, SMITH_ABI_VERSION));

	// Geometry: every offset the reader will use must fall inside the mapping.
	auto bad = [&](const std::string &what) {
		return BackendError(
			fmt::format("smith.ko {} describes an impossible ring layout: {}", version, what));
	};
	if (info.page_size != page_size)
		throw bad(fmt::format("page_size {}, but this system's page size is {}", info.page_size,
				      page_size));
	if (info.nr_rings == 0 || info.nr_rings > kMaxRings)
		throw bad(fmt::format("nr_rings {} (expected 1 to {})", info.nr_rings, kMaxRings));
	if (!power_of_two(info.ring_bytes) || info.ring_bytes < page_size || info.ring_bytes > kMaxRingBytes)
		throw bad(fmt::format("ring_bytes {} is not a power of two between the page size {} and {}",
				      info.ring_bytes, page_size, kMaxRingBytes));
	if (info.ring_offset < page_size || info.ring_offset % page_size != 0 ||
	    info.ring_offset > kMaxRingBytes)
		throw bad(fmt::format("ring_offset {} is not a page-aligned offset after the info page",
				      info.ring_offset));
	if (info.ring_stride != page_size + info.ring_bytes)
		throw bad(fmt::format("ring_stride {} is not page_size + ring_bytes = {}", info.ring_stride,
				      page_size + info.ring_bytes));
	// Bounded operands above: ring_stride <= 2^32 + 2^32, nr_rings <= 2^16, so no overflow.
	uint64_t expected = info.ring_offset + uint64_t{info.nr_rings} * info.ring_stride;
	if (info.map_bytes != expected)
		throw bad(fmt::format("map_bytes {} is not ring_offset + nr_rings * ring_stride = {}",
				      info.map_bytes, expected));
}

LkmRingReader::LkmRingReader(smith_lkm_ring_ctl *ctl, const std::byte *data, uint64_t ring_bytes,
			     uint32_t index)
    : ctl_(ctl), data_(data), ring_bytes_(ring_bytes), index_(index)
{}

uint64_t LkmRingReader::load_head() const
{
	return std::atomic_ref<__u64>(ctl_->head).load(std::memory_order_acquire);
}

void LkmRingReader::freeze()
{
	if (frozen_)
		return;
	frozen_head_ = load_head();
	frozen_ = true;
}

uint64_t LkmRingReader::unread_bytes() const
{
	const uint64_t tail = std::atomic_ref<__u64>(ctl_->tail).load(std::memory_order_relaxed);
	return load_head() - tail;
}

uint64_t LkmRingReader::drops(unsigned hook) const
{
	if (hook >= SMITH_HOOK_MAX)
		return 0;
	return std::atomic_ref<__u64>(ctl_->drops[hook]).load(std::memory_order_relaxed);
}

smith_timing LkmRingReader::timing(unsigned hook) const
{
	smith_timing t{};
	if (hook >= SMITH_HOOK_MAX)
		return t;
	const auto load = [](__u64 &v) { return std::atomic_ref<__u64>(v).load(std::memory_order_relaxed); };
	smith_timing &src = ctl_->timing[hook];
	t.calls = load(src.calls);
	t.sum_ns = load(src.sum_ns);
	for (uint32_t b = 0; b < SMITH_TIMING_BUCKETS; ++b)
		t.buckets[b] = load(src.buckets[b]);
	return t;
}

void LkmRingReader::corrupt(uint64_t pos, const std::string &what) const
{
	throw BackendError(
		fmt::format("/dev/smith ring {} (cpu {}) is corrupt at position {} (offset {}): {}", index_,
			    std::atomic_ref<__u32>(ctl_->cpu).load(std::memory_order_relaxed), pos,
			    pos & (ring_bytes_ - 1), what));
}

void LkmRingReader::begin()
{
	const uint64_t tail = std::atomic_ref<__u64>(ctl_->tail).load(std::memory_order_relaxed); // ours
	const uint64_t head = frozen_ ? frozen_head_ : load_head();
	pass_pos_ = published_ = tail;
	pass_head_ = head;
	pass_span_ = 0;
	if (head == tail)
		return;
	if ((tail | head) % 8 != 0)
		corrupt(tail, fmt::format("tail {} or head {} is not 8-byte aligned", tail, head));
	if (head - tail > ring_bytes_)
		corrupt(tail,
			fmt::format("head {} is {} bytes ahead of tail {}, more than the ring's {} bytes",
				    head, head - tail, tail, ring_bytes_));
}

std::span<const std::byte> LkmRingReader::next()
{
	const uint64_t mask = ring_bytes_ - 1;
	while (pass_pos_ != pass_head_) {
		const uint64_t pos = pass_pos_, head = pass_head_;
		const uint64_t off = pos & mask;
		const uint64_t to_end = ring_bytes_ - off; // >= 8: off and ring_bytes are multiples of 8
		const uint64_t avail = head - pos;	   // >= 8: pos and head are multiples of 8
		uint16_t type;
		uint32_t size;
		std::memcpy(&type, data_ + off + offsetof(smith_rec_hdr, type), sizeof(type));
		std::memcpy(&size, data_ + off + offsetof(smith_rec_hdr, size), sizeof(size));
		if (type == SMITH_LKM_REC_PAD) {
			if (size != to_end)
				corrupt(pos,
					fmt::format("pad record of size {} does not end at the end of the "
						    "data area, {} bytes away",
						    size, to_end));
			if (size > avail)
				corrupt(pos,
					fmt::format("pad record of size {} runs past head {}", size, head));
			pass_pos_ += size;
			continue;
		}
		if (size < sizeof(smith_rec_hdr) || size > SMITH_REC_MAX)
			corrupt(pos, fmt::format("record of type {} has size {}, outside {}..{}", type, size,
						 sizeof(smith_rec_hdr), SMITH_REC_MAX));
		const uint64_t span = SMITH_LKM_ALIGN(size);
		if (span > to_end)
			corrupt(pos,
				fmt::format("record of type {} and size {} wraps past the end of the data "
					    "area, {} bytes away",
					    type, size, to_end));
		if (span > avail)
			corrupt(pos, fmt::format("record of type {} and size {} runs past head {}", type,
						 size, head));
		pass_span_ = span;
		return {data_ + off, size};
	}
	pass_span_ = 0;
	return {};
}

bool LkmRingReader::pop()
{
	pass_pos_ += pass_span_;
	pass_span_ = 0;
	// The producer gets its room back as the pass goes, not only at its end:
	// handlers are slow next to the hooks, and a full ring drops.
	return pass_pos_ - published_ >= ring_bytes_ / kPublishFraction;
}

void LkmRingReader::publish()
{
	if (pass_pos_ == published_)
		return;
	std::atomic_ref<__u64>(ctl_->tail).store(pass_pos_, std::memory_order_release);
	published_ = pass_pos_;
}

long LkmRingReader::drain(RecordHandler &handler)
{
	return drain_ring(*this, handler);
}

} // namespace smith::backend
