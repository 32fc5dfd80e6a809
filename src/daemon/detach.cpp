#include "daemon/detach.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "daemon/config.h"
#include "util/fd.h"

namespace smith::daemon {
namespace {

// The daemon's end of the pipe to the waiting process; -1 in the foreground and once used.
int g_report_fd = -1;

constexpr char kReady = 'R';
constexpr char kError = 'E';

// In the process that called detach(): reads what the daemon says and exits with it.
[[noreturn]] void wait_for_daemon(int fd, pid_t child)
{
	std::string said;
	char buf[4096];
	for (;;) {
		const util::IoResult r = util::read_full(fd, buf, sizeof(buf));
		said.append(buf, r.done);
		if (!r.ok() || r.done < sizeof(buf))
			break;
	}
	int status = 0;
	::waitpid(child, &status, 0); // the first child, which exits once the daemon is forked
	if (!said.empty() && said[0] == kReady)
		_exit(0);
	if (!said.empty() && said[0] == kError)
		std::fprintf(stderr, "smithd: %s\n", said.c_str() + 1);
	else
		std::fprintf(stderr, "smithd: the daemon exited during its start, before it could say why\n");
	_exit(1);
}

void report(char kind, std::string_view message)
{
	if (g_report_fd < 0)
		return;
	std::string out(1, kind);
	out.append(message);
	util::write_full(g_report_fd, out.data(), out.size());
	::close(g_report_fd);
	g_report_fd = -1;
}

} // namespace

void detach()
{
	int fds[2];
	if (::pipe2(fds, O_CLOEXEC) != 0)
		throw ConfigError(fmt::format("cannot create a pipe to detach: {}", std::strerror(errno)));
	std::fflush(nullptr);
	const pid_t pid = ::fork();
	if (pid < 0)
		throw ConfigError(fmt::format("fork failed: {}", std::strerror(errno)));
	if (pid > 0) {
		::close(fds[1]);
		wait_for_daemon(fds[0], pid);
	}
	::close(fds[0]);
	::setsid();
	if (const pid_t daemon = ::fork(); daemon < 0)
		_exit(1); // the waiting process reads EOF and says the daemon died
	else if (daemon > 0)
		_exit(0);
	g_report_fd = fds[1];
	if (::chdir("/") != 0)
		throw ConfigError(fmt::format("cannot change directory to /: {}", std::strerror(errno)));
	if (const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC); null >= 0) {
		::dup2(null, STDIN_FILENO);
		::dup2(null, STDOUT_FILENO);
		::dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			::close(null);
	}
}

void report_ready()
{
	report(kReady, "");
}

void report_start_error(std::string_view message)
{
	report(kError, message);
}

} // namespace smith::daemon
