#include "sink/file_sink.h"
#include "util/fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace smith::sink {
namespace {

constexpr size_t kBufferBytes = 1 << 20;

// Events the destination did not take (a full disk) wait in memory up to this; past it, new events
// are dropped and counted as failed.
constexpr size_t kPendingCapBytes = 64u << 20;

size_t count_lines(std::string_view text)
{
	return size_t(std::count(text.begin(), text.end(), '\n'));
}

} // namespace

FileSink::FileSink() : fd_(STDOUT_FILENO)
{
	buffer_.reserve(kBufferBytes);
}

FileSink::FileSink(std::string path) : path_(std::move(path))
{
	buffer_.reserve(kBufferBytes);
	open_path();
}

FileSink::~FileSink()
{
	close();
}

void FileSink::open_path()
{
	int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		throw SinkError(fmt::format("cannot open output file {}: {}", path_, std::strerror(errno)));
	fd_ = fd;
}

bool FileSink::write(std::string_view json_line, std::string_view)
{
	if (buffer_.size() + json_line.size() > kBufferBytes)
		flush();
	if (buffer_.size() + json_line.size() > kPendingCapBytes) {
		failed_++;
		return false;
	}
	buffer_.append(json_line);
	buffered_events_++;
	return true;
}

// A write that stopped inside a line leaves part of it at the destination. A regular file is cut
// back to its last whole line, which is written again later; elsewhere (a pipe) the rest of the
// line follows later, as nothing can be taken back. Returns the bytes of buffer_ that are done.
size_t FileSink::settle_torn_line(size_t done)
{
	size_t whole = 0; // bytes up to the end of the last whole line written
	if (done > 0)
		if (const size_t nl = buffer_.rfind('\n', done - 1); nl != std::string::npos)
			whole = nl + 1;
	const size_t torn = done - whole;
	if (torn == 0)
		return done;
	struct stat st {};
	if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= off_t(torn) &&
	    ::ftruncate(fd_, st.st_size - off_t(torn)) == 0)
		return whole;
	return done;
}

void FileSink::flush()
{
	if (buffer_.empty())
		return;
	const util::IoResult w =
		fd_ >= 0 ? util::write_full(fd_, buffer_.data(), buffer_.size()) : util::IoResult{0, EBADF};
	size_t done = w.done;
	if (!w.ok() && fd_ >= 0)
		done = settle_torn_line(done);
	const size_t lines = count_lines(std::string_view(buffer_).substr(0, done));
	written_ += lines;
	buffered_events_ -= lines;
	buffer_.erase(0, done);
	if (!w.ok()) {
		// Logged when it starts, not at every batch while the disk stays full.
		const bool first = last_error_.empty();
		last_error_ = fmt::format("write to {} failed: {}; {} events wait in memory",
					  path_.empty() ? "stdout" : path_, std::strerror(w.error),
					  buffered_events_);
		if (first)
			spdlog::error("{}", last_error_);
	} else if (!last_error_.empty()) {
		spdlog::info("writes to {} work again", path_.empty() ? "stdout" : path_);
		last_error_.clear();
	}
}

void FileSink::reopen()
{
	if (path_.empty())
		return;
	flush();
	int old = fd_;
	try {
		open_path();
		if (old >= 0)
			::close(old);
		spdlog::info("reopened {}", path_);
	} catch (const SinkError &e) {
		fd_ = old; // keep writing to the old file rather than losing events
		last_error_ = e.what();
		spdlog::error("{}", last_error_);
	}
}

void FileSink::close()
{
	flush();
	if (!path_.empty() && fd_ >= 0)
		::close(fd_);
	fd_ = -1;
}

control::SinkStatus FileSink::status() const
{
	control::SinkStatus s;
	s.type = path_.empty() ? "stdout" : "file";
	s.target = path_.empty() ? "stdout" : path_;
	s.connected = fd_ >= 0 && last_error_.empty();
	s.last_error = last_error_;
	s.written = written_;
	s.failed = failed_;
	s.in_flight = buffered_events_;
	return s;
}

} // namespace smith::sink
