// The reader's side of the smith.ko transport (include/smith/lkm_ring.h),
// over raw memory: checking the info page and walking one ring. No system
// calls, so the unit tests build rings in ordinary memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "backend/backend.h"
#include "smith/lkm_ring.h"

namespace smith::backend {

static_assert(sizeof(smith_lkm_info) == 104, "struct smith_lkm_info layout changed");
static_assert(offsetof(smith_lkm_ring_ctl, head) == 0);
static_assert(offsetof(smith_lkm_ring_ctl, drops) == 16);
static_assert(offsetof(smith_lkm_ring_ctl, tail) == 128, "the reader's tail sits on its own cache line");
static_assert(sizeof(smith_rec_hdr) >= 8);

// Checks page 0 of /dev/smith's mapping: magic, transport version, record ABI,
// then that the ring geometry is self-consistent and fits in `map_bytes`-sized
// mappings of `page_size`-byte pages. Throws BackendError naming the field,
// the value found and the value expected.
void lkm_check_info(const smith_lkm_info &info, uint64_t page_size);

// The module's version string from the info page ("" if unset), read within its 32 bytes.
std::string lkm_module_version(const smith_lkm_info &info);

// One ring: a control page and ring_bytes of data, read by a single consumer.
// Not thread-safe; the producer may write concurrently (it is the kernel, or
// the test).
class LkmRingReader {
public:
	// `ctl` and `data` must stay mapped while the reader is used. `ring_bytes`
	// is a power of two >= 8 (lkm_check_info checked it). `index` names the
	// ring in error messages.
	LkmRingReader(smith_lkm_ring_ctl *ctl, const std::byte *data, uint64_t ring_bytes, uint32_t index);

	// Hands every record between tail and the producer's head (or the head
	// frozen by freeze()) to `handler`, in order, skipping pad records. The
	// tail is published (release order) every 1/16 of the ring and at the end,
	// each time right after handler.on_batch_end() returned: the producer never
	// reuses the space of a record the handler has not made safe. Each record's
	// span is valid during the handler call only. Returns the records delivered.
	// A header whose size breaks the ring's rules (shorter than a record
	// header, over SMITH_REC_MAX, wrapping past the end of the data area, past
	// head, a pad that does not end at the end of the data area) throws
	// BackendError naming the ring, position and size; nothing out of range
	// is read, and the tail is left at the last good record once on_batch_end()
	// has taken the records before it (if it throws, they stay in the ring).
	long drain(RecordHandler &handler);

	// drain() in steps, for a reader that merges several rings: begin() takes
	// the head (or the frozen head) as the end of a pass; next() returns the
	// record at the tail, pad records skipped, or an empty span at the end of
	// the pass (after drain()'s checks: a corrupt record throws); pop() moves
	// past the record next() returned and says whether 1/16 of the ring now
	// waits to be given back; publish() gives the producer the space of every
	// record popped (the caller has made them safe first). next() may be called
	// again without pop(): it returns the same record, valid until pop().
	void begin();
	std::span<const std::byte> next();
	bool pop();
	void publish();
	bool pending() const { return pass_pos_ != published_; } // records passed, not given back

	// From now on drain() stops at the head as it is now: records the
	// producer adds later are left in the ring.
	void freeze();

	// Bytes between tail and head, as the producer published them.
	uint64_t unread_bytes() const;
	// Records dropped for lack of space for `hook` (relaxed read of the producer's counter).
	uint64_t drops(unsigned hook) const;
	// This CPU's timing of `hook` (relaxed reads of the producer's counters; zeros past the hooks).
	smith_timing timing(unsigned hook) const;
	uint32_t index() const { return index_; }
	uint64_t ring_bytes() const { return ring_bytes_; }

private:
	uint64_t load_head() const;
	[[noreturn]] void corrupt(uint64_t pos, const std::string &what) const;

	smith_lkm_ring_ctl *ctl_; // the ring's control page (head, drops written by the producer)
	const std::byte *data_;	  // ring_bytes of data
	uint64_t ring_bytes_;	  // a power of two
	uint32_t index_;	  // ring number, for messages
	bool frozen_ = false;	  // drain() stops at frozen_head_
	uint64_t frozen_head_ = 0;
	// The pass begin() started: its end, the next record's position and span, the tail published.
	uint64_t pass_head_ = 0;
	uint64_t pass_pos_ = 0;
	uint64_t pass_span_ = 0;
	uint64_t published_ = 0;
};

} // namespace smith::backend
