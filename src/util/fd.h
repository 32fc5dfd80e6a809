// File descriptors: the one owning wrapper, and reads and writes that finish what they can despite
// signals (EINTR) and short transfers. Shared by smithd and smithctl.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <utility>

namespace smith::util {

// Owns one file descriptor and closes it when destroyed. Move-only; -1 when empty.
class UniqueFd {
public:
	UniqueFd() = default;
	explicit UniqueFd(int fd) : fd_(fd) {}
	~UniqueFd() { reset(); }
	UniqueFd(UniqueFd &&other) noexcept : fd_(other.release()) {}
	UniqueFd &operator=(UniqueFd &&other) noexcept
	{
		if (this != &other)
			reset(other.release());
		return *this;
	}
	UniqueFd(const UniqueFd &) = delete;
	UniqueFd &operator=(const UniqueFd &) = delete;

	int get() const { return fd_; }
	bool valid() const { return fd_ >= 0; }
	// Gives up ownership: the caller closes the descriptor.
	int release() { return std::exchange(fd_, -1); }
	// Closes the descriptor held (if any) and takes `fd`.
	void reset(int fd = -1);

private:
	int fd_ = -1;
};

// What a transfer did: `done` bytes moved, then `error` (an errno value) stopped it, or 0 when it
// moved everything asked for or, reading, met the end of the file.
struct IoResult {
	size_t done = 0;
	int error = 0;
	bool ok() const { return error == 0; }
};

// Reads until `len` bytes are in `buf`, the end of the file, or an error.
IoResult read_full(int fd, void *buf, size_t len);
IoResult pread_full(int fd, void *buf, size_t len, off_t offset);
// Writes all `len` bytes, or stops at an error (ENOSPC when the file takes no more bytes).
IoResult write_full(int fd, const void *data, size_t len);
IoResult pwrite_full(int fd, const void *data, size_t len, off_t offset);

// Calls `call` again for as long as it fails with EINTR; returns its last result.
template <class Call> auto retry_eintr(Call call)
{
	for (;;) {
		auto result = call();
		if (!(result < 0 && errno == EINTR))
			return result;
	}
}

} // namespace smith::util
