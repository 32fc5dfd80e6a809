#include "sink/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include "sink/sink.h"
#include "util/fd.h"

namespace smith::sink {
namespace {

using spool::frame_bytes;
using spool::segment_name;

constexpr size_t kBufferBytes = 1 << 20;
// What may wait in memory while the disk takes nothing (full, failing); past it appends are
// refused and counted as dropped. Order is kept: the buffer goes out first when the disk is back.
constexpr size_t kMemoryCapBytes = 64u << 20;
constexpr uint64_t kNoOffset = std::numeric_limits<uint64_t>::max();

// dir/state: magic, version, committed position, CRC-32C of the 16 bytes before it.
constexpr char kStateName[] = "state";
constexpr char kStateTmpName[] = "state.tmp";
constexpr char kStateMagic[4] = {'\xF5', 'S', 'P', 'S'};
constexpr uint32_t kStateVersion = 1;
constexpr size_t kStateBytes = 24;

void put_le(char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = static_cast<char>(v >> (8 * i));
}

uint64_t get_le(const char *p, int bytes)
{
	uint64_t v = 0;
	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | static_cast<unsigned char>(p[i]);
	return v;
}

} // namespace

Spool::Spool(SpoolOptions options) : options_(std::move(options))
{
	options_.segment_bytes = std::max<uint64_t>(options_.segment_bytes, 1);
	buffer_.reserve(kBufferBytes);
	open_dir();

	uint64_t state_committed = 0;
	bool have_state = load_state(state_committed);
	scan_dir();
	recover_last_segment();

	uint64_t oldest = segments_.empty() ? next_offset_ : segments_.front().first_offset;
	if (have_state) {
		// Never hand out an offset that `state` already calls delivered,
		// even when the records behind it did not survive a crash.
		next_offset_ = std::max(next_offset_, state_committed);
		committed_ = std::max(state_committed, oldest);
	} else {
		committed_ = oldest; // replay everything: duplicates, never losses
	}
	remove_delivered_segments(); // a crash between saving `state` and deleting
	rewind();
	spdlog::info("spool {}: {} segments, {} bytes, {} records to replay (offsets {}..{})", options_.dir,
		     segments_.size(), bytes(), records(), committed_, next_offset_);
}

Spool::~Spool()
{
	flush();
	reader_.close();
	if (active_fd_ >= 0)
		::close(active_fd_);
	if (dir_fd_ >= 0)
		::close(dir_fd_);
}

void Spool::open_dir()
{
	std::string &dir = options_.dir;
	while (dir.size() > 1 && dir.back() == '/')
		dir.pop_back();
	if (dir.empty())
		throw SinkError("spool directory not set");
	std::filesystem::path parent = std::filesystem::path(dir).parent_path();
	std::error_code ec;
	if (!parent.empty())
		std::filesystem::create_directories(parent, ec); // mkdir below reports the failure
	if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
		throw SinkError(
			fmt::format("cannot create spool directory {}: {}", dir, std::strerror(errno)));
	dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd_ < 0)
		throw SinkError(fmt::format("cannot open spool directory {}: {}", dir, std::strerror(errno)));
	if (::faccessat(dir_fd_, ".", W_OK | X_OK, AT_EACCESS) != 0)
		throw SinkError(
			fmt::format("spool directory {} is not writable: {}", dir, std::strerror(errno)));
}

bool Spool::load_state(uint64_t &committed)
{
	const util::UniqueFd fd(::openat(dir_fd_, kStateName, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!fd.valid()) {
		if (errno != ENOENT)
			spdlog::warn("spool {}: cannot open state: {}; replaying from the oldest segment",
				     options_.dir, std::strerror(errno));
		return false;
	}
	char buf[kStateBytes + 1];
	const util::IoResult got = util::read_full(fd.get(), buf, sizeof buf);
	if (!got.ok() || got.done != kStateBytes || std::memcmp(buf, kStateMagic, sizeof kStateMagic) != 0 ||
	    get_le(buf + 4, 4) != kStateVersion || get_le(buf + 16, 4) != spool::crc32c(0, buf, 16)) {
		spdlog::warn("spool {}: state file damaged; replaying from the oldest segment", options_.dir);
		return false;
	}
	committed = get_le(buf + 8, 8);
	return true;
}

void Spool::save_state()
{
	char buf[kStateBytes] = {};
	std::memcpy(buf, kStateMagic, sizeof kStateMagic);
	put_le(buf + 4, kStateVersion, 4);
	put_le(buf + 8, committed_, 8);
	put_le(buf + 16, spool::crc32c(0, buf, 16), 4);

	util::UniqueFd fd(::openat(dir_fd_, kStateTmpName,
				   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
	if (!fd.valid())
		return disk_error("cannot create spool state");
	const util::IoResult w = util::write_full(fd.get(), buf, sizeof buf);
	if (!w.ok() || ::fsync(fd.get()) != 0) {
		if (!w.ok())
			errno = w.error;
		return disk_error("cannot write spool state");
	}
	fd.reset();
	if (::renameat(dir_fd_, kStateTmpName, dir_fd_, kStateName) != 0)
		return disk_error("cannot rename spool state");
	if (::fsync(dir_fd_) != 0)
		return disk_error("cannot fsync spool directory");
}

void Spool::scan_dir()
{
	int fd = ::dup(dir_fd_);
	DIR *d = fd >= 0 ? ::fdopendir(fd) : nullptr;
	if (!d) {
		if (fd >= 0)
			::close(fd);
		throw SinkError(fmt::format("cannot list spool directory {}: {}", options_.dir,
					    std::strerror(errno)));
	}
	::rewinddir(d);
	while (struct dirent *e = ::readdir(d)) {
		std::string_view name = e->d_name;
		if (name == kStateTmpName) {
			::unlinkat(dir_fd_, e->d_name, 0); // a save interrupted by a crash
			continue;
		}
		uint64_t first = 0;
		if (!spool::parse_segment_name(name, first))
			continue; // not ours
		struct stat st;
		if (::fstatat(dir_fd_, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		next_offset_ = std::max(next_offset_, first);
		if (st.st_size == 0) {
			::unlinkat(dir_fd_, e->d_name, 0); // holds nothing; its name still moved next_offset_
			continue;
		}
		segments_.push_back({first, static_cast<uint64_t>(st.st_size)});
	}
	::closedir(d);
	std::sort(segments_.begin(), segments_.end(),
		  [](const Segment &a, const Segment &b) { return a.first_offset < b.first_offset; });
	for (const Segment &s : segments_)
		disk_bytes_ += s.size;
}

void Spool::recover_last_segment()
{
	if (segments_.empty())
		return;
	Segment &last = segments_.back();
	std::string name = segment_name(last.first_offset);
	int fd = ::openat(dir_fd_, name.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		throw SinkError(fmt::format("cannot open spool segment {}/{}: {}", options_.dir, name,
					    std::strerror(errno)));
	int scan_fd = ::dup(fd);
	if (scan_fd < 0) {
		::close(fd);
		throw SinkError(fmt::format("cannot scan spool segment {}/{}: {}", options_.dir, name,
					    std::strerror(errno)));
	}

	// Damage inside the segment is left for read() to skip and count; only
	// what follows the last valid frame goes.
	reader_.reset(scan_fd);
	spool::Frame f;
	bool damaged = false;
	uint64_t damage_pos = 0;
	uint64_t valid_end = 0;
	uint64_t min_offset = last.first_offset;
	while (reader_.next(last.size, min_offset, kNoOffset, f, damaged, damage_pos) ==
	       spool::SegmentScanner::Result::frame) {
		valid_end = f.end;
		min_offset = f.offset + 1;
	}
	reader_.close();
	if (valid_end > 0)
		next_offset_ = std::max(next_offset_, min_offset);

	if (valid_end < last.size) {
		// A frame cut short is the record being written at a crash. A tail
		// that is exactly one frame by its own header was a complete
		// record, damaged: count it.
		char h[spool::kFrameHeaderBytes];
		if (::pread(fd, h, sizeof h, static_cast<off_t>(valid_end)) ==
			    static_cast<ssize_t>(sizeof h) &&
		    std::memcmp(h, spool::kFrameMagic, sizeof spool::kFrameMagic) == 0 &&
		    valid_end + frame_bytes(get_le(h + 16, 4), get_le(h + 20, 4)) == last.size)
			corrupt_++;
		spdlog::warn("spool {}: {}: cutting {} bytes after the last complete record", options_.dir,
			     name, last.size - valid_end);
		if (::ftruncate(fd, static_cast<off_t>(valid_end)) != 0)
			disk_error(fmt::format("cannot truncate spool segment {}",
					       name)); // appends write over it
		disk_bytes_ -= last.size - valid_end;
		last.size = valid_end;
	}
	if (valid_end == 0) {
		// Nothing valid: gone. The segment before it, if any, becomes the
		// active one again, opened when first written.
		::close(fd);
		::unlinkat(dir_fd_, name.c_str(), 0);
		segments_.pop_back();
		return;
	}
	active_fd_ = fd; // append() starts a new segment when this one is full
}

const Spool::Segment *Spool::first_segment_from(uint64_t first_offset) const
{
	auto it = std::lower_bound(segments_.begin(), segments_.end(), first_offset,
				   [](const Segment &s, uint64_t v) { return s.first_offset < v; });
	return it == segments_.end() ? nullptr : &*it;
}

const Spool::Segment *Spool::find_segment(uint64_t first_offset) const
{
	const Segment *s = first_segment_from(first_offset);
	return s && s->first_offset == first_offset ? s : nullptr;
}

void Spool::start_segment()
{
	if (!segments_.empty()) {
		if (!write_buffer())
			return; // the buffer belongs to the active segment; try again later
		if (active_fd_ >= 0) {
			if (need_sync_ && ::fdatasync(active_fd_) != 0)
				disk_error("cannot fsync spool segment");
			::close(active_fd_);
			active_fd_ = -1;
		}
		need_sync_ = false;
	}
	segments_.push_back({next_offset_, 0});
	open_active();
}

bool Spool::open_active()
{
	// A new segment starts empty, whatever a file of that name held; an
	// existing one (reopened after a failure) is written after its frames.
	const Segment &seg = segments_.back();
	std::string name = segment_name(seg.first_offset);
	int flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (seg.size == 0 ? O_TRUNC : 0);
	int fd = ::openat(dir_fd_, name.c_str(), flags, 0600);
	if (fd < 0) {
		disk_error(fmt::format("cannot create spool segment {}", name));
		return false;
	}
	active_fd_ = fd;
	need_dir_sync_ = true;
	return true;
}

bool Spool::write_buffer(bool clear)
{
	if (buffer_.empty())
		return true;
	if (active_fd_ < 0 && !open_active())
		return false;
	Segment &seg = segments_.back();
	// pwrite at the end of the complete frames: a write that fails half way
	// is written over by the next attempt, and readers never look past
	// seg.size.
	if (const util::IoResult w = util::pwrite_full(active_fd_, buffer_.data(), buffer_.size(),
						       static_cast<off_t>(seg.size));
	    !w.ok()) {
		errno = w.error;
		disk_error("cannot write spool segment");
		return false;
	}
	seg.size += buffer_.size();
	disk_bytes_ += buffer_.size();
	need_sync_ = true;
	if (clear) {
		buffer_.clear();
		buffer_records_ = 0;
	}
	return true;
}

void Spool::disk_error(std::string_view what)
{
	std::string error = fmt::format("{} in {}: {}", what, options_.dir, std::strerror(errno));
	if (error != last_error_)
		spdlog::error("{}", error);
	last_error_ = std::move(error);
}

bool Spool::append(std::string_view key, std::string_view value)
{
	uint64_t frame = frame_bytes(key.size(), value.size());
	if (static_cast<uint64_t>(key.size()) + value.size() > spool::kMaxPayloadBytes ||
	    bytes() + frame > options_.max_bytes || buffer_.size() + frame > kMemoryCapBytes) {
		dropped_++;
		return false;
	}
	if (segments_.empty())
		start_segment();
	else {
		uint64_t active = segments_.back().size + buffer_.size();
		if (active > 0 && active + frame > options_.segment_bytes)
			start_segment();
	}
	spool::append_frame(buffer_, next_offset_++, key, value);
	buffer_records_++;
	if (buffer_.size() >= kBufferBytes)
		write_buffer();
	return true;
}

void Spool::write_out()
{
	write_buffer();
}

size_t Spool::write_out_and_take(size_t max, std::string &frames)
{
	const size_t count = buffer_records_;
	const uint64_t first = next_offset_ - count;
	if (count == 0 || count > max || read_next_ != first || reader_damaged_ || segments_.empty()) {
		write_buffer();
		return 0;
	}
	const Segment &seg = segments_.back();
	if (!write_buffer(false))
		return 0;
	frames.clear();
	frames.swap(buffer_);
	buffer_records_ = 0;
	// The reader goes on after these records, in the active segment, without reading them back.
	if (!reader_.is_open() || reader_first_ != seg.first_offset) {
		reader_.close();
		reader_first_ = seg.first_offset;
		open_reader(); // if it fails, read() opens the segment again and passes over these
	}
	reader_.seek(seg.size);
	reader_end_ = seg.size;
	reader_expected_ = next_offset_;
	read_next_ = next_offset_;
	return count;
}

void Spool::flush()
{
	write_buffer();
	if (active_fd_ >= 0 && need_sync_) {
		if (::fdatasync(active_fd_) == 0)
			need_sync_ = false;
		else
			disk_error("cannot fsync spool segment");
	}
	if (need_dir_sync_) {
		if (::fsync(dir_fd_) == 0)
			need_dir_sync_ = false;
		else
			disk_error("cannot fsync spool directory");
	}
}

bool Spool::open_reader()
{
	std::string name = segment_name(reader_first_);
	int fd = ::openat(dir_fd_, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		disk_error(fmt::format("cannot open spool segment {}", name));
		return false;
	}
	reader_.reset(fd);
	return true;
}

void Spool::account_damage(uint64_t next_valid_offset)
{
	if (!reader_damaged_)
		return;
	reader_damaged_ = false;
	// Damage is met in file order and rewind() only goes back: anything at
	// or before the last damage counted was counted already.
	uint64_t pos = reader_damage_pos_ + 1;
	if (reader_first_ < counted_damage_seg_ ||
	    (reader_first_ == counted_damage_seg_ && pos <= counted_damage_pos_))
		return;
	counted_damage_seg_ = reader_first_;
	counted_damage_pos_ = pos;
	if (next_valid_offset <= committed_)
		return; // only delivered records were there
	uint64_t from = std::max(reader_expected_, committed_);
	corrupt_ += next_valid_offset > from ? next_valid_offset - from : 1;
}

size_t Spool::read(size_t max, const std::function<void(const SpoolRecord &)> &fn)
{
	write_buffer(); // buffered appends become readable
	size_t n = 0;
	spool::Frame f;
	while (n < max) {
		const Segment *seg = find_segment(reader_first_);
		if (!reader_.is_open()) {
			const Segment *from = first_segment_from(reader_first_);
			if (!from)
				break; // nothing written yet
			reader_first_ = from->first_offset;
			reader_expected_ = from->first_offset;
			reader_end_ = from->size;
			seg = from;
			if (!open_reader()) {
				reader_damaged_ = true; // unreadable: what it held is lost
				reader_damage_pos_ = 0;
			}
		}
		if (seg)
			reader_end_ = seg->size;
		const Segment *after = first_segment_from(reader_first_ + 1);
		uint64_t max_offset = after ? after->first_offset : next_offset_;

		if (reader_.is_open() &&
		    reader_.next(reader_end_, reader_expected_, max_offset, f, reader_damaged_,
				 reader_damage_pos_) == spool::SegmentScanner::Result::frame) {
			account_damage(f.offset);
			reader_expected_ = f.offset + 1;
			if (f.offset < read_next_ || f.offset < committed_)
				continue;
			read_next_ = f.offset + 1;
			fn(SpoolRecord{f.offset, f.key, f.value});
			n++;
			continue;
		}
		if (after) {
			account_damage(after->first_offset);
			reader_.close();
			reader_first_ = after->first_offset;
			continue;
		}
		// The end of the spool, for now. Damage at the very end hides
		// offsets no frame will ever carry; commit() passes over them.
		if (reader_damaged_ && buffer_.empty()) {
			lost_tail_begin_ = reader_expected_;
			lost_tail_end_ = next_offset_;
			account_damage(next_offset_);
			if (committed_ >= lost_tail_begin_)
				advance_committed(lost_tail_end_);
		}
		if (!reader_.is_open())
			reader_first_++; // unreadable and last: look for the next segment next time
		break;
	}
	return n;
}

void Spool::rewind()
{
	reader_.close();
	reader_damaged_ = false;
	read_next_ = committed_;
	// The segment holding committed_: the last one starting at or before it.
	reader_first_ = committed_;
	for (const Segment &s : segments_) {
		if (s.first_offset > committed_)
			break;
		reader_first_ = s.first_offset;
	}
}

void Spool::commit(uint64_t upto_offset)
{
	if (next_offset_ == 0)
		return;
	advance_committed(std::min(upto_offset, next_offset_ - 1) + 1);
}

void Spool::advance_committed(uint64_t to)
{
	if (to <= committed_)
		return;
	committed_ = to;
	if (lost_tail_end_ > lost_tail_begin_ && committed_ >= lost_tail_begin_ &&
	    committed_ < lost_tail_end_)
		committed_ = lost_tail_end_;
	save_state();
	remove_delivered_segments();
}

void Spool::remove_segment_file(uint64_t first_offset)
{
	std::string name = segment_name(first_offset);
	if (::unlinkat(dir_fd_, name.c_str(), 0) != 0 && errno != ENOENT)
		disk_error(fmt::format("cannot remove spool segment {}", name));
}

void Spool::remove_delivered_segments()
{
	while (segments_.size() > 1 && segments_[1].first_offset <= committed_) {
		remove_segment_file(segments_.front().first_offset);
		disk_bytes_ -= segments_.front().size;
		segments_.pop_front();
	}
	// All delivered, the active segment and the buffer too: the next append
	// starts a new segment.
	if (segments_.size() == 1 && committed_ >= next_offset_) {
		buffer_.clear();
		buffer_records_ = 0;
		if (active_fd_ >= 0)
			::close(active_fd_);
		active_fd_ = -1;
		need_sync_ = false;
		remove_segment_file(segments_.front().first_offset);
		disk_bytes_ -= segments_.front().size;
		segments_.pop_front();
	}
}

} // namespace smith::sink
