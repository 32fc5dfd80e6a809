#include "util/fd.h"

#include <unistd.h>

namespace smith::util {
namespace {

// Repeats `step(offset_done)` (one read or write of what is left) until `len` bytes moved, the
// end of the file (a read of 0), or an error.
template <class Step> IoResult transfer(size_t len, bool writing, Step step)
{
	IoResult r;
	while (r.done < len) {
		const ssize_t n = step(r.done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r.error = errno;
			break;
		}
		if (n == 0) {
			if (writing)
				r.error = ENOSPC; // write(2) moved nothing: the file takes no more
			break;
		}
		r.done += static_cast<size_t>(n);
	}
	return r;
}

} // namespace

void UniqueFd::reset(int fd)
{
	if (fd_ >= 0)
		::close(fd_);
	fd_ = fd;
}

IoResult read_full(int fd, void *buf, size_t len)
{
	auto *p = static_cast<char *>(buf);
	return transfer(len, false, [&](size_t done) { return ::read(fd, p + done, len - done); });
}

IoResult pread_full(int fd, void *buf, size_t len, off_t offset)
{
	auto *p = static_cast<char *>(buf);
	return transfer(len, false, [&](size_t done) {
		return ::pread(fd, p + done, len - done, offset + static_cast<off_t>(done));
	});
}

IoResult write_full(int fd, const void *data, size_t len)
{
	const auto *p = static_cast<const char *>(data);
	return transfer(len, true, [&](size_t done) { return ::write(fd, p + done, len - done); });
}

IoResult pwrite_full(int fd, const void *data, size_t len, off_t offset)
{
	const auto *p = static_cast<const char *>(data);
	return transfer(len, true, [&](size_t done) {
		return ::pwrite(fd, p + done, len - done, offset + static_cast<off_t>(done));
	});
}

} // namespace smith::util
