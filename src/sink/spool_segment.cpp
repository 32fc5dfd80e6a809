#include "sink/spool_segment.h"
#include "util/fd.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace smith::sink::spool {
namespace {

constexpr size_t kChunkBytes = 1 << 20;
constexpr size_t kNameDigits = 20;
constexpr std::string_view kSegmentSuffix = ".seg";

constexpr std::array<uint32_t, 256> make_crc32c_table()
{
	std::array<uint32_t, 256> table{};
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1; // reflected Castagnoli polynomial
		table[i] = c;
	}
	return table;
}

constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

void put32(char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = static_cast<char>(v >> (8 * i));
}

void put64(char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = static_cast<char>(v >> (8 * i));
}

uint32_t get32(const char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | static_cast<unsigned char>(p[i]);
	return v;
}

uint64_t get64(const char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | static_cast<unsigned char>(p[i]);
	return v;
}

} // namespace

namespace {

uint32_t crc32c_table(uint32_t crc, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		crc = kCrc32cTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
// The SSE4.2 crc32 instruction computes CRC-32C, 8 bytes a step: about 20 times the table's speed,
// which matters because every spooled event is summed when appended and again when read.
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;
		std::memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	crc = static_cast<uint32_t>(c);
	for (; len > 0; p++, len--)
		crc = __builtin_ia32_crc32qi(crc, *p);
	return crc;
}

bool have_sse42()
{
	static const bool yes = [] {
		__builtin_cpu_init();
		return __builtin_cpu_supports("sse4.2") != 0;
	}();
	return yes;
}
#endif

} // namespace

uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	const auto *p = static_cast<const unsigned char *>(data);
#if defined(__x86_64__)
	if (have_sse42())
		return ~crc32c_sse42(~crc, p, len);
#endif
	return ~crc32c_table(~crc, p, len);
}

void append_frame(std::string &out, uint64_t offset, std::string_view key, std::string_view value)
{
	char header[kFrameHeaderBytes];
	std::memcpy(header, kFrameMagic, sizeof kFrameMagic);
	put64(header + 8, offset);
	put32(header + 16, static_cast<uint32_t>(key.size()));
	put32(header + 20, static_cast<uint32_t>(value.size()));
	uint32_t crc = crc32c(0, header + 8, kFrameHeaderBytes - 8);
	crc = crc32c(crc, key.data(), key.size());
	crc = crc32c(crc, value.data(), value.size());
	put32(header + 4, crc);
	out.append(header, sizeof header);
	out.append(key);
	out.append(value);
}

uint64_t decode_frame(const char *p, uint64_t &offset, std::string_view &key, std::string_view &value)
{
	offset = get64(p + 8);
	const uint32_t key_len = get32(p + 16);
	const uint32_t value_len = get32(p + 20);
	key = std::string_view(p + kFrameHeaderBytes, key_len);
	value = std::string_view(p + kFrameHeaderBytes + key_len, value_len);
	return frame_bytes(key_len, value_len);
}

std::string segment_name(uint64_t first_offset)
{
	return fmt::format("{:020}{}", first_offset, kSegmentSuffix);
}

bool parse_segment_name(std::string_view name, uint64_t &first_offset)
{
	if (name.size() != kNameDigits + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix))
		return false;
	const char *begin = name.data();
	const char *end = begin + kNameDigits;
	if (!std::all_of(begin, end, [](char c) { return c >= '0' && c <= '9'; }))
		return false;
	uint64_t v = 0;
	auto [ptr, ec] = std::from_chars(begin, end, v);
	if (ec != std::errc() || ptr != end)
		return false; // out of range
	first_offset = v;
	return true;
}

SegmentScanner::SegmentScanner()
{
	buf_.resize(kChunkBytes);
}

SegmentScanner::~SegmentScanner()
{
	close();
}

void SegmentScanner::reset(int fd)
{
	close();
	fd_ = fd;
	pos_ = 0;
	buf_start_ = 0;
	buf_len_ = 0;
}

void SegmentScanner::close()
{
	if (fd_ >= 0)
		::close(fd_);
	fd_ = -1;
	buf_len_ = 0;
}

bool SegmentScanner::ensure(uint64_t pos, size_t len, uint64_t limit)
{
	if (pos + len > limit)
		return false;
	if (pos >= buf_start_ && pos + len <= buf_start_ + buf_len_)
		return true;
	size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(len, kChunkBytes), limit - pos));
	if (buf_.size() < want)
		buf_.resize(want);
	buf_start_ = pos;
	// An error or a file shorter than expected: what is there is all there is.
	buf_len_ = util::pread_full(fd_, buf_.data(), want, static_cast<off_t>(pos)).done;
	return buf_len_ >= len;
}

bool SegmentScanner::frame_at(uint64_t limit, uint64_t min_offset, uint64_t max_offset, Frame &out)
{
	if (!ensure(pos_, kFrameHeaderBytes, limit))
		return false;
	const char *h = buf_.data() + (pos_ - buf_start_);
	if (std::memcmp(h, kFrameMagic, sizeof kFrameMagic) != 0)
		return false;
	uint32_t crc = get32(h + 4);
	uint64_t offset = get64(h + 8);
	uint32_t key_len = get32(h + 16);
	uint32_t value_len = get32(h + 20);
	if (static_cast<uint64_t>(key_len) + value_len > kMaxPayloadBytes || offset < min_offset ||
	    offset >= max_offset)
		return false;
	uint64_t total = frame_bytes(key_len, value_len);
	if (!ensure(pos_, static_cast<size_t>(total), limit))
		return false;
	h = buf_.data() + (pos_ - buf_start_); // the buffer may have been refilled
	if (crc32c(0, h + 8, static_cast<size_t>(total) - 8) != crc)
		return false;
	out.offset = offset;
	out.key = std::string_view(h + kFrameHeaderBytes, key_len);
	out.value = std::string_view(h + kFrameHeaderBytes + key_len, value_len);
	out.pos = pos_;
	out.end = pos_ + total;
	return true;
}

void SegmentScanner::skip_to_next_magic(uint64_t limit)
{
	constexpr size_t kMagicBytes = sizeof kFrameMagic;
	uint64_t p = pos_ + 1;
	while (p + kMagicBytes <= limit) {
		if (p < buf_start_ || p + kMagicBytes > buf_start_ + buf_len_) {
			if (!ensure(p, static_cast<size_t>(std::min<uint64_t>(kChunkBytes, limit - p)),
				    limit))
				break;
		}
		const char *s = buf_.data() + (p - buf_start_);
		size_t n = static_cast<size_t>(buf_start_ + buf_len_ - p);
		const void *hit = ::memmem(s, n, kFrameMagic, kMagicBytes);
		if (hit) {
			pos_ = p + static_cast<uint64_t>(static_cast<const char *>(hit) - s);
			return;
		}
		p += n - (kMagicBytes - 1); // a magic may straddle the end of what was searched
	}
	pos_ = limit;
}

SegmentScanner::Result SegmentScanner::next(uint64_t limit, uint64_t min_offset, uint64_t max_offset,
					    Frame &out, bool &damaged, uint64_t &damage_pos)
{
	while (fd_ >= 0 && pos_ < limit) {
		if (frame_at(limit, min_offset, max_offset, out)) {
			pos_ = out.end;
			return Result::frame;
		}
		if (!damaged) {
			damaged = true;
			damage_pos = pos_;
		}
		skip_to_next_magic(limit);
	}
	return Result::end;
}

} // namespace smith::sink::spool
