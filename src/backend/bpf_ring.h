// The reader's side of a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF), over its
// mmap()ed pages, and the pins that let a ring outlive the smithd that read it.
//
// libbpf's ring_buffer__consume() moves the consumer position past each record
// as soon as its callback returns, so a smithd killed between reading records
// and making them safe (Sink::persist) loses them. This reader gives the kernel
// a record's space back only after RecordHandler::on_batch_end() has returned
// (backend.h), and the ring is pinned in bpffs: killed at any moment, smithd
// leaves every record it had not made safe in a ring the next start reads first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "util/fd.h"

namespace smith::backend {

class BpfRing {
public:
	// Maps the ring of `map_fd` (the reader takes the fd). Throws BackendError
	// when it is not a ring buffer map or cannot be mapped. `name` names it in
	// messages.
	BpfRing(util::UniqueFd map_fd, std::string name);
	~BpfRing();
	BpfRing(BpfRing &&other) noexcept;
	BpfRing &operator=(BpfRing &&) = delete;
	BpfRing(const BpfRing &) = delete;

	int fd() const { return fd_.get(); }
	const std::string &name() const { return name_; }
	uint64_t ring_bytes() const { return ring_bytes_; }

	// Hands each committed record (discarded ones skipped) to `handler`, in
	// order, up to the first one still being written or the producer's
	// position when it began (at most one ring's worth: under a producer as fast
	// as the reader, the caller still gets control back), and gives their space
	// back every 1/16 of the ring and at the end, each time right after
	// handler.on_batch_end() returned. If it throws, what it had not taken
	// stays in the ring. A record whose length does not fit the ring throws
	// BackendError. Returns the records handed.
	long consume(RecordHandler &handler);

	// consume() in steps, for a reader that merges several rings by time
	// (time_order.h): begin() takes the producer's position as the end of a
	// pass; next() returns the committed record at the reader's position,
	// discarded ones skipped, or an empty span at the end of the pass or at a
	// record still being written (a corrupt length throws); pop() moves past
	// the record next() returned and says whether 1/16 of the ring now waits
	// to be given back; publish() gives the kernel the space of every record
	// popped (the caller has made them safe first).
	void begin();
	std::span<const std::byte> next();
	bool pop();
	void publish();
	bool pending() const { return pass_pos_ != published_; } // records passed, not given back

	// Bytes the producer has committed (or reserved) that the reader has not given back.
	uint64_t unread_bytes() const;

private:
	util::UniqueFd fd_;
	std::string name_;
	uint64_t ring_bytes_ = 0;
	size_t page_size_ = 0;
	void *consumer_ = nullptr; // one page, read-write: the consumer position
	void *producer_ = nullptr; // the producer page, then the data twice (PROT_READ)
	size_t producer_bytes_ = 0;
	// The pass begin() started: its end, the next record's position and span, the position
	// given back.
	uint64_t pass_head_ = 0;
	uint64_t pass_pos_ = 0;
	uint64_t pass_span_ = 0;
	uint64_t published_ = 0;
};

// The pins of one directory in bpffs (/sys/fs/bpf/smith by default). Each smithd pins its
// ring as events-<pid>-<start time>: a ring whose smithd is gone is a leftover the next
// start adopts and reads before its own, oldest first.
class RingPins {
public:
	// Makes `dir` (0700) on a bpffs, mounting one at /sys/fs/bpf when nothing is mounted
	// there. Throws BackendError saying why it cannot.
	explicit RingPins(std::string dir);

	// Where this process pins its ring.
	const std::string &own_path() const { return own_path_; }
	// The rings of smithds that are gone, oldest smithd first, each opened (their pins stay
	// until release()): one group per smithd, its shared ring or its per-CPU rings
	// (pinned as events-<pid>-<start time>-cpu<N>), to be read together in time order.
	std::vector<std::vector<BpfRing>> adopt_leftovers() const;
	// Removes the pin of `ring` (a leftover read out, or this process's own ring at a stop
	// that left it empty).
	static void release(const std::string &path);

private:
	std::string dir_;
	std::string own_path_;
};

} // namespace smith::backend
