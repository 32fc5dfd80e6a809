#include "ctl/control_client.h"
#include "util/fd.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace smith::ctl {
namespace {

using Clock = std::chrono::steady_clock;

// An answer longer than this is not a status line: stop reading.
constexpr size_t kMaxAnswerBytes = 16 << 20;

[[noreturn]] void fail(const std::string &what)
{
	throw ControlError(ControlError::Kind::failed, what);
}

// Waits for `events` on `fd` until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline, const std::string &path)
{
	for (;;) {
		const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
		if (left.count() <= 0)
			return false;
		pollfd p = {fd, events, 0};
		const int n = ::poll(&p, 1, static_cast<int>(left.count()));
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR)
			fail(fmt::format("poll on {}: {}", path, std::strerror(errno)));
	}
}

} // namespace

std::string control_request(const std::string &socket_path, std::string_view request,
			    std::chrono::milliseconds timeout)
{
	const auto deadline = Clock::now() + timeout;

	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path))
		fail(fmt::format("invalid socket path (empty or longer than {} bytes): {}",
				 sizeof(addr.sun_path) - 1, socket_path));
	std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());

	const util::UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (sock.get() < 0)
		fail(fmt::format("cannot create a socket: {}", std::strerror(errno)));
	// connect() on a Unix socket waits only while the daemon's backlog is
	// full, and SO_SNDTIMEO bounds that wait; poll() deadlines bound the rest.
	const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
	const timeval tv = {static_cast<time_t>(usec / 1000000), static_cast<suseconds_t>(usec % 1000000)};
	::setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (::connect(sock.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) != 0) {
		const int err = errno;
		if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR)
			throw ControlError(ControlError::Kind::not_running,
					   fmt::format("smithd is not running (no answer on {}: {})",
						       socket_path, std::strerror(err)));
		if (err == EACCES || err == EPERM)
			throw ControlError(
				ControlError::Kind::permission_denied,
				fmt::format("permission denied on {} (the control socket is root's; "
					    "run smithctl as root, e.g. with sudo)",
					    socket_path));
		if (err == EAGAIN || err == EINPROGRESS)
			fail(fmt::format("smithd did not accept the connection on {} within {} ms",
					 socket_path, timeout.count()));
		fail(fmt::format("cannot connect to {}: {}", socket_path, std::strerror(err)));
	}

	std::string line(request);
	line.push_back('\n');
	size_t sent = 0;
	while (sent < line.size()) {
		if (!wait_for(sock.get(), POLLOUT, deadline, socket_path))
			fail(fmt::format("smithd did not take the request on {} in time", socket_path));
		const ssize_t n = ::send(sock.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail(fmt::format("cannot send the request to {}: {}", socket_path,
					 std::strerror(errno)));
		}
		sent += static_cast<size_t>(n);
	}

	std::string answer;
	char buf[4096];
	for (;;) {
		if (!wait_for(sock.get(), POLLIN, deadline, socket_path))
			fail(fmt::format("smithd did not answer on {} within {} ms", socket_path,
					 timeout.count()));
		const ssize_t n = ::recv(sock.get(), buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail(fmt::format("cannot read the answer from {}: {}", socket_path,
					 std::strerror(errno)));
		}
		if (n == 0)
			break;
		const size_t searched = answer.size();
		answer.append(buf, static_cast<size_t>(n));
		if (answer.find('\n', searched) != std::string::npos)
			break;
		if (answer.size() > kMaxAnswerBytes)
			fail(fmt::format("the answer from {} is longer than {} bytes", socket_path,
					 kMaxAnswerBytes));
	}
	const size_t nl = answer.find('\n');
	if (nl == std::string::npos)
		fail(answer.empty() ? fmt::format("smithd closed {} without answering", socket_path)
				    : fmt::format("incomplete answer from {} (no end of line)", socket_path));
	answer.resize(nl);
	return answer;
}

} // namespace smith::ctl
