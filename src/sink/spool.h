// The on-disk spool: where events wait while the broker is away or slower
// than input, to be replayed in order later.
//
// Layout of `dir`: segment files holding records in offset order (format in
// sink/spool_segment.h), and `state`, the committed position (the first
// offset not yet delivered), replaced atomically (tmp + rename + fsync of the
// directory). Other files in `dir` are ignored.
//
// Contract:
//   - Offsets increase by one per appended record, across segments and
//     restarts (while `state` survives).
//   - Nothing is lost silently. append() refuses a record only when it would
//     pass max_bytes, and counts it in dropped(). A crash loses at most the
//     appends not yet flush()ed; recovery at open cuts a partial record off
//     the tail of the last segment. A damaged record is skipped when read and
//     counted in corrupt(); reading resumes at the next valid frame.
//   - A restart resumes at the committed position: records appended and not
//     committed are read again, in order. Without a readable `state`,
//     reading starts at the oldest segment (duplicates, never losses).
//   - Disk errors after open (write, fsync, rename) are logged and kept in
//     last_error(); appended records stay buffered and are written by the
//     next flush(), before anything appended later. The buffer is bounded by max_bytes like the
//     segments, and by 64 MiB: past it, appends are refused and counted in dropped().
//   - Hot path: append() does not allocate once its buffer is warm, except
//     when it starts a new segment (once per segment_bytes).
//
// Thread safety: none. One thread (the pipeline's) owns a Spool.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "sink/spool_segment.h"

namespace smith::sink {

struct SpoolOptions {
	std::string dir = "/var/lib/smith/spool";
	uint64_t max_bytes = 1ull << 30;      // bound on all segment files together
	uint64_t segment_bytes = 16ull << 20; // a segment is closed and a new one started past this
};

struct SpoolRecord {
	uint64_t offset;
	std::string_view key;	// views valid until the next call on the Spool
	std::string_view value; //
};

class Spool {
public:
	// Creates `dir` (mode 0700) if missing and recovers the segments in it.
	// Throws SinkError (sink/sink.h) if the directory cannot be created,
	// opened, listed or written, or the last segment cannot be repaired.
	explicit Spool(SpoolOptions options);
	// Flushes (write and fsync); the committed position is already on disk.
	~Spool();
	Spool(const Spool &) = delete;
	Spool &operator=(const Spool &) = delete;

	// Adds one record after all others. False when it would pass max_bytes
	// (or is larger than spool::kMaxPayloadBytes): counted in dropped(),
	// nothing written. Buffered: written by flush(), or here once the buffer
	// passes 1 MiB.
	bool append(std::string_view key, std::string_view value);
	// Writes buffered appends and fsyncs the active segment (and the
	// directory after a new segment). A no-op when nothing was appended.
	void flush();
	// Writes what append() buffered, without waiting for the disk (no fdatasync): it survives
	// the process, not a power loss.
	void write_out();
	// write_out(), and when read() has returned every record before the buffered ones and there
	// are at most `max` of them, swaps the buffer just written with `frames`: the caller gets those
	// records' frames (spool_segment.h; decode_frame() reads them) without reading them back, and
	// they count as read (read() goes on after them). Returns how many; 0, with `frames` left
	// alone, when the reader is behind, the buffer holds more than `max` or the write failed:
	// read() returns those records later, in order.
	size_t write_out_and_take(size_t max, std::string &frames);
	size_t buffered_records() const { return buffer_records_; } // appended, not yet written

	// Calls `fn` for the next records after the read position, oldest first,
	// at most `max`; returns how many. Does not remove them: the caller
	// commits offsets as deliveries succeed. Buffered appends are written
	// first so that they can be read. Damage met on the way is counted once
	// in corrupt(), however often it is read over.
	size_t read(size_t max, const std::function<void(const SpoolRecord &)> &fn);
	// Moves the read position back to the committed position (after failed
	// deliveries): the next read() returns the first record not committed.
	void rewind();
	// Every record with an offset <= `upto_offset` is delivered. Persists the
	// position and deletes segments whose records are all delivered. A
	// position at or below the committed one is ignored.
	void commit(uint64_t upto_offset);

	uint64_t bytes() const { return disk_bytes_ + buffer_.size(); } // segments not fully committed
	uint64_t records() const { return next_offset_ - committed_; }	// appended and not committed
	uint64_t dropped() const { return dropped_; }			// refused by the bound, since start
	uint64_t corrupt() const { return corrupt_; }		      // damaged records skipped, since start
	bool empty() const { return committed_ >= next_offset_; }     // no record past the committed position
	const std::string &last_error() const { return last_error_; } // the last disk error, "" if none

private:
	struct Segment {
		uint64_t first_offset; // its name
		uint64_t size;	       // bytes of complete frames on disk
	};

	void open_dir();
	bool load_state(uint64_t &committed);
	void save_state();
	void scan_dir();
	void recover_last_segment();
	void start_segment();
	bool open_active();
	bool write_buffer(bool clear = true); // clear: empty the buffer once written
	void advance_committed(uint64_t to);
	void remove_delivered_segments();
	void remove_segment_file(uint64_t first_offset);
	void disk_error(std::string_view what);

	const Segment *first_segment_from(uint64_t first_offset) const;
	const Segment *find_segment(uint64_t first_offset) const;
	bool open_reader();
	void account_damage(uint64_t next_valid_offset);

	SpoolOptions options_;
	int dir_fd_ = -1; // files in dir are opened relative to this

	std::deque<Segment> segments_; // oldest first; the last one is the active segment
	int active_fd_ = -1;	       // the active segment, open for writing; -1 until opened
	std::string buffer_;	       // appended frames not yet written to the active segment
	size_t buffer_records_ = 0;    // frames in buffer_
	uint64_t disk_bytes_ = 0;      // sum of segments_[].size
	uint64_t next_offset_ = 0;     // offset of the next append
	uint64_t committed_ = 0;       // first offset not delivered
	bool need_sync_ = false;       // written since the last fsync of the active segment
	bool need_dir_sync_ = false;   // a segment was created since the last fsync of dir

	spool::SegmentScanner reader_;	  // reads the segment reader_first_ names
	uint64_t reader_first_ = 0;	  // first offset of the segment being read
	uint64_t reader_end_ = 0;	  // size of that segment, kept for when it is deleted
	uint64_t read_next_ = 0;	  // records below this offset are not returned again
	uint64_t reader_expected_ = 0;	  // lowest offset the next frame may have
	bool reader_damaged_ = false;	  // bytes skipped since the last valid frame
	uint64_t reader_damage_pos_ = 0;  // where, in the segment being read
	uint64_t counted_damage_seg_ = 0; // the last damage counted in corrupt_: segment,
	uint64_t counted_damage_pos_ = 0; // and position (+1, so that 0 means none)
	uint64_t lost_tail_begin_ = 0;	  // offsets in [begin, end) were lost to damage at
	uint64_t lost_tail_end_ = 0;	  // the end of the spool; commit() passes over them

	uint64_t dropped_ = 0;
	uint64_t corrupt_ = 0;
	std::string last_error_;
};

} // namespace smith::sink
