#include "sink/file_sink.h"
#include "util/fd.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace smith::sink {
namespace {

constexpr size_t kBufferBytes = 1 << 20;

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
	buffer_.append(json_line);
	buffered_events_++;
	return true;
}

void FileSink::flush()
{
	if (buffer_.empty())
		return;
	const util::IoResult w =
		fd_ >= 0 ? util::write_full(fd_, buffer_.data(), buffer_.size()) : util::IoResult{0, EBADF};
	const size_t done = w.done;
	if (!w.ok()) {
		last_error_ = fmt::format("write to {} failed: {}", path_.empty() ? "stdout" : path_,
					  std::strerror(w.error));
		spdlog::error("{}", last_error_);
	}
	if (done == buffer_.size()) {
		written_ += buffered_events_;
	} else {
		// Count the events that did not fully reach the destination as failed.
		size_t lost = 0;
		for (size_t i = done; i < buffer_.size(); i++)
			lost += buffer_[i] == '\n';
		failed_ += lost;
		written_ += buffered_events_ - lost;
	}
	buffer_.clear();
	buffered_events_ = 0;
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
	s.connected = fd_ >= 0;
	s.last_error = last_error_;
	s.written = written_;
	s.failed = failed_;
	return s;
}

} // namespace smith::sink
