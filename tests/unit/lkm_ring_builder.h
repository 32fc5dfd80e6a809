// Test-only producer side of the smith.ko transport, byte-exact per
// include/smith/lkm_ring.h: an info page and per-CPU rings (control page, then
// ring_bytes of data) in one memory area, and a producer that writes records
// the way the module does: 8-byte aligned, never wrapping (a pad record fills
// the end of the data area), never overwriting (a record that does not fit is
// counted in drops[hook]), head published with release order.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "smith/lkm_ring.h"

namespace smith::test {

inline uint64_t page_size()
{
	return static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// The info page a module with `nr_rings` rings of `ring_bytes` writes.
inline smith_lkm_info make_lkm_info(uint32_t nr_rings, uint64_t ring_bytes)
{
	smith_lkm_info info{};
	info.magic = SMITH_LKM_MAGIC;
	info.transport_version = SMITH_LKM_TRANSPORT_VERSION;
	info.record_abi = SMITH_ABI_VERSION;
	info.nr_rings = nr_rings;
	info.page_size = static_cast<__u32>(page_size());
	info.ring_bytes = ring_bytes;
	info.ring_offset = page_size();
	info.ring_stride = page_size() + ring_bytes;
	info.map_bytes = info.ring_offset + nr_rings * info.ring_stride;
	info.hooks_armed = (1u << SMITH_HOOK_MAX) - 1;
	std::strncpy(info.version, "0.0-test", sizeof(info.version) - 1);
	return info;
}

// One ring's producer, over a control page and its data area.
class RingProducer {
public:
	RingProducer(smith_lkm_ring_ctl *ctl, std::byte *data, uint64_t ring_bytes)
	    : ctl_(ctl), data_(data), ring_bytes_(ring_bytes)
	{
		head_ = ctl_->head;
	}

	// Starts both positions at `pos` (8-byte aligned), as if that many bytes had gone through.
	void set_position(uint64_t pos)
	{
		head_ = pos;
		ctl_->head = pos;
		ctl_->tail = pos;
	}

	// Writes one record, with a pad record first when it would not fit before the
	// end of the data area. False (and drops[hook] + 1) when the ring has no room.
	bool push(std::span<const std::byte> record, unsigned hook = SMITH_HOOK_EXECVE)
	{
		const uint64_t size = record.size();
		const uint64_t need = SMITH_LKM_ALIGN(size);
		const uint64_t tail = std::atomic_ref<__u64>(ctl_->tail).load(std::memory_order_acquire);
		const uint64_t used = head_ - tail;
		uint64_t pos = head_ & (ring_bytes_ - 1);
		uint64_t pad = 0;
		if (pos + need > ring_bytes_)
			pad = ring_bytes_ - pos;
		if (used > ring_bytes_ || pad + need > ring_bytes_ - used) {
			ctl_->drops[hook]++;
			return false;
		}
		if (pad) {
			smith_rec_hdr h{};
			h.type = SMITH_LKM_REC_PAD;
			h.abi = SMITH_ABI_VERSION;
			h.size = static_cast<__u32>(pad);
			std::memcpy(data_ + pos, &h, pad < sizeof(h) ? 8 : sizeof(h));
			head_ += pad;
			pads_++;
			pos = 0;
		}
		std::memcpy(data_ + pos, record.data(), size);
		head_ += need;
		ctl_->records++;
		std::atomic_ref<__u64>(ctl_->head).store(head_, std::memory_order_release);
		return true;
	}

	uint64_t head() const { return head_; }
	uint64_t pads() const { return pads_; } // pad records written so far

private:
	smith_lkm_ring_ctl *ctl_;
	std::byte *data_;
	uint64_t ring_bytes_;
	uint64_t head_ = 0;
	uint64_t pads_ = 0;
};

} // namespace smith::test
