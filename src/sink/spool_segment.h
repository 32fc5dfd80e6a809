// The spool's segment file format, and a scanner that reads it back.
//
// A segment is a sequence of frames; its file is named by the offset of its
// first record, zero-padded to 20 digits ("00000000000000000042.seg").
// A frame, all integers little-endian:
//
//   0  magic      4 bytes, kFrameMagic ('\xF5' never occurs in UTF-8 text)
//   4  crc        u32, CRC-32C of bytes 8..24, then key, then value
//   8  offset     u64, the record's offset: increasing across segments and restarts
//   16 key_len    u32
//   20 value_len  u32
//   24 key, value
//
// The offset is inside the CRC, so a frame found by scanning forward after
// damage still carries its own position in the stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smith::sink::spool {

inline constexpr char kFrameMagic[4] = {'\xF5', 'S', 'P', 'L'};
inline constexpr size_t kFrameHeaderBytes = 24;
// A frame whose key and value together exceed this is damage when read, and
// refused when appended.
inline constexpr uint64_t kMaxPayloadBytes = 64ull << 20;

// CRC-32C (Castagnoli), table-driven. Start with crc = 0; pass the previous
// result to continue over more bytes.
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

// Appends one frame to `out`. Does not allocate when `out` has the capacity.
void append_frame(std::string &out, uint64_t offset, std::string_view key, std::string_view value);

// The frame at `p`, as append_frame() wrote it (not checked): its offset, key and value; returns
// its size in bytes.
uint64_t decode_frame(const char *p, uint64_t &offset, std::string_view &key, std::string_view &value);

inline uint64_t frame_bytes(size_t key_len, size_t value_len)
{
	return kFrameHeaderBytes + static_cast<uint64_t>(key_len) + value_len;
}

// "00000000000000000042.seg" for 42.
std::string segment_name(uint64_t first_offset);
// The first offset a segment file name stands for; false for any other name.
bool parse_segment_name(std::string_view name, uint64_t &first_offset);

struct Frame {
	uint64_t offset;	// the record's offset
	std::string_view key;	// views into the scanner's buffer, valid until its next call
	std::string_view value; //
	uint64_t pos;		// file position of the frame
	uint64_t end;		// file position just past it
};

// Reads the frames of one segment file in order. A region that is not a valid
// frame (bad magic, absurd length, bad CRC, cut short) is skipped by
// scanning forward for the next valid frame, and reported. Reads only below
// the `limit` given to next(), so bytes past the last complete write are
// never buffered.
class SegmentScanner {
public:
	enum class Result { frame, end };

	SegmentScanner();
	~SegmentScanner();
	SegmentScanner(const SegmentScanner &) = delete;
	SegmentScanner &operator=(const SegmentScanner &) = delete;

	// Takes ownership of `fd` and scans it from file position 0.
	void reset(int fd);
	// The next frame is looked for at file position `pos` (the end of a frame already known).
	void seek(uint64_t pos) { pos_ = pos; }
	void close();
	bool is_open() const { return fd_ >= 0; }
	uint64_t position() const { return pos_; }

	// The next valid frame below file position `limit` whose offset is in
	// [min_offset, max_offset), or end. A frame with an offset outside the
	// range is damage: offsets only increase. `damaged` is set (never
	// cleared) when bytes were skipped to get there; `damage_pos` is then
	// where the first skipped byte was.
	Result next(uint64_t limit, uint64_t min_offset, uint64_t max_offset, Frame &out, bool &damaged,
		    uint64_t &damage_pos);

private:
	bool ensure(uint64_t pos, size_t len, uint64_t limit);
	bool frame_at(uint64_t limit, uint64_t min_offset, uint64_t max_offset, Frame &out);
	void skip_to_next_magic(uint64_t limit);

	int fd_ = -1;
	uint64_t pos_ = 0;	 // file position of the next frame to examine
	std::vector<char> buf_;	 // file bytes [buf_start_, buf_start_ + buf_len_)
	uint64_t buf_start_ = 0; //
	size_t buf_len_ = 0;	 //
};

} // namespace smith::sink::spool
