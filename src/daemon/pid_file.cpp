#include "daemon/pid_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "daemon/config.h"
#include "util/fd.h"

namespace smith::daemon {
namespace {

// The pid written in the file, or "" when it cannot be read.
std::string holder_of(int fd)
{
	char buf[32] = {};
	const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return "";
	std::string_view s(buf, size_t(n));
	while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
		s.remove_suffix(1);
	return std::string(s);
}

} // namespace

LockFile::LockFile(std::string path, std::string what) : path_(std::move(path))
{
	std::error_code ec;
	const std::filesystem::path p(path_);
	if (p.has_parent_path())
		std::filesystem::create_directories(p.parent_path(), ec);
	// The file a stopping daemon removes can be the one we opened; locking it would guard
	// nothing. So the lock counts only when the path still names the file we locked.
	for (int attempt = 0; attempt < 10; attempt++) {
		util::UniqueFd fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
		if (fd.get() < 0)
			throw ConfigError(
				fmt::format("cannot open {} {}: {}", what, path_, std::strerror(errno)));
		if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
			if (errno != EWOULDBLOCK)
				throw ConfigError(fmt::format("cannot lock {} {}: {}", what, path_,
							      std::strerror(errno)));
			const std::string pid = holder_of(fd.get());
			throw ConfigError(fmt::format(
				"another smithd is running (pid {}): it holds the {} {}; stop it first",
				pid.empty() ? "unknown" : pid, what, path_));
		}
		struct stat held {
		}, named{};
		if (::fstat(fd.get(), &held) != 0 || ::stat(path_.c_str(), &named) != 0 ||
		    held.st_ino != named.st_ino || held.st_dev != named.st_dev)
			continue;
		const std::string pid = fmt::format("{}\n", getpid());
		if (::ftruncate(fd.get(), 0) != 0 || !util::write_full(fd.get(), pid.data(), pid.size()).ok())
			throw ConfigError(
				fmt::format("cannot write {} {}: {}", what, path_, std::strerror(errno)));
		fd_ = fd.release();
		return;
	}
	throw ConfigError(fmt::format("cannot lock {} {}: it keeps being replaced", what, path_));
}

LockFile::~LockFile()
{
	if (fd_ < 0)
		return;
	::unlink(path_.c_str());
	::close(fd_);
}

} // namespace smith::daemon
