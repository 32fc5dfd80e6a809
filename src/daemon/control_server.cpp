#include "daemon/control_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "control/protocol.h"
#include "util/fd.h"

namespace smith::daemon {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kListenBacklog = 16;
// Pause after accept() fails for lack of resources (EMFILE and the like), so
// the loop neither spins nor floods the log.
constexpr std::chrono::milliseconds kAcceptBackoff{1000};

using util::UniqueFd;

[[noreturn]] void fail(std::string_view what, const std::string &path, int err)
{
	throw std::runtime_error(fmt::format("{} {}: {}", what, path, std::strerror(err)));
}

sockaddr_un socket_address(const std::string &path)
{
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	if (path.empty())
		throw std::runtime_error("control socket path is empty");
	if (path.size() >= sizeof(addr.sun_path))
		throw std::runtime_error(
			fmt::format("control socket path is too long ({} bytes, at most {}): {}", path.size(),
				    sizeof(addr.sun_path) - 1, path));
	if (path.find('\0') != std::string::npos)
		throw std::runtime_error("control socket path contains a NUL byte");
	std::memcpy(addr.sun_path, path.data(), path.size());
	return addr;
}

// mkdir -p of the socket's directory; directories it creates get mode 0755.
void create_parent_directories(const std::string &socket_path)
{
	std::filesystem::path prefix;
	for (const auto &part : std::filesystem::path(socket_path).parent_path()) {
		prefix /= part;
		if (::mkdir(prefix.c_str(), 0755) == 0)
			continue;
		const int err = errno;
		struct stat st;
		if (::stat(prefix.c_str(), &st) == 0) {
			if (S_ISDIR(st.st_mode))
				continue;
			throw std::runtime_error(
				fmt::format("cannot create the directory of control socket {}: "
					    "{} exists and is not a directory",
					    socket_path, prefix.string()));
		}
		fail(fmt::format("cannot create directory {} for control socket", prefix.string()),
		     socket_path, err);
	}
}

// A socket file left by a daemon that died is replaced; one a live daemon
// listens on is not.
void remove_stale_socket(const std::string &path, const sockaddr_un &addr)
{
	struct stat st;
	if (::lstat(path.c_str(), &st) != 0) {
		if (errno == ENOENT)
			return;
		fail("cannot inspect control socket", path, errno);
	}
	if (!S_ISSOCK(st.st_mode))
		throw std::runtime_error(fmt::format(
			"control socket path {} exists and is not a socket; not replacing it", path));

	UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (probe.get() < 0)
		fail("cannot create a socket to probe", path, errno);
	// Non-blocking, so a live daemon with a full backlog (EAGAIN) cannot stall us.
	if (::connect(probe.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) == 0 ||
	    errno == EAGAIN || errno == EINPROGRESS)
		throw std::runtime_error(fmt::format("another smithd is running (socket {} answers)", path));
	if (errno != ECONNREFUSED && errno != ENOENT)
		fail("cannot check whether a daemon answers on control socket", path, errno);
	if (::unlink(path.c_str()) != 0 && errno != ENOENT)
		fail("cannot remove stale control socket", path, errno);
	spdlog::info("removed stale control socket {}", path);
}

} // namespace

ControlServer::ControlServer(std::string socket_path, std::function<std::string()> status_provider)
    : socket_path_(std::move(socket_path)), status_provider_(std::move(status_provider))
{}

ControlServer::~ControlServer()
{
	stop();
}

void ControlServer::start()
{
	if (listen_fd_ >= 0)
		throw std::logic_error("ControlServer::start() called twice");

	const sockaddr_un addr = socket_address(socket_path_);
	create_parent_directories(socket_path_);
	remove_stale_socket(socket_path_, addr);

	UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (listener.get() < 0)
		fail("cannot create control socket", socket_path_, errno);
	if (::bind(listener.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) != 0)
		fail("cannot bind control socket", socket_path_, errno);

	// The file exists from here on: remove it if anything below fails. Its mode
	// is set before listen(), so no one can connect while it is still wider.
	auto abandon = [&](std::string_view what, int err) {
		::unlink(socket_path_.c_str());
		fail(what, socket_path_, err);
	};
	if (::chmod(socket_path_.c_str(), 0600) != 0)
		abandon("cannot set mode 0600 on control socket", errno);
	struct stat st;
	if (::stat(socket_path_.c_str(), &st) != 0)
		abandon("cannot stat control socket", errno);
	if (::listen(listener.get(), kListenBacklog) != 0)
		abandon("cannot listen on control socket", errno);
	UniqueFd stopper(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (stopper.get() < 0)
		abandon("cannot create the stop eventfd for control socket", errno);

	socket_dev_ = st.st_dev;
	socket_ino_ = st.st_ino;
	listen_fd_ = listener.release();
	stop_fd_ = stopper.release();
	try {
		thread_ = std::thread(&ControlServer::run, this);
	} catch (const std::system_error &e) {
		stop();
		throw std::runtime_error(fmt::format("cannot start the control socket thread for {}: {}",
						     socket_path_, e.what()));
	}
	spdlog::debug("control socket listening on {}", socket_path_);
}

void ControlServer::stop() noexcept
{
	if (listen_fd_ < 0)
		return;
	if (thread_.joinable()) {
		const uint64_t one = 1;
		util::write_full(stop_fd_, &one, sizeof(one));
		thread_.join();
	}
	// Unlink while the socket is still open, so its inode cannot have been
	// reused by someone else's file when we compare.
	struct stat st;
	if (::lstat(socket_path_.c_str(), &st) == 0 && st.st_dev == socket_dev_ && st.st_ino == socket_ino_)
		::unlink(socket_path_.c_str());
	::close(listen_fd_);
	::close(stop_fd_);
	listen_fd_ = -1;
	stop_fd_ = -1;
}

namespace {

enum class Wait { ready, timeout, stopping };

// Waits until `fd` has one of `events` (or an error or hangup, which the next
// read or write reports), the deadline passes, or `stop_fd` is signalled.
Wait wait_for(int fd, short events, int stop_fd, Clock::time_point deadline)
{
	for (;;) {
		const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
		if (left.count() <= 0)
			return Wait::timeout;
		pollfd fds[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
		const int n = ::poll(fds, 2, static_cast<int>(left.count()));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw std::runtime_error(fmt::format("poll: {}", std::strerror(errno)));
		}
		if (fds[1].revents != 0)
			return Wait::stopping;
		if (fds[0].revents != 0)
			return Wait::ready;
	}
}

// Sleeps up to `timeout`; true as soon as `stop_fd` is signalled.
bool stop_requested_within(int stop_fd, std::chrono::milliseconds timeout)
{
	pollfd stop = {stop_fd, POLLIN, 0};
	return ::poll(&stop, 1, static_cast<int>(timeout.count())) > 0;
}

} // namespace

void ControlServer::run() noexcept
{
	for (;;) {
		pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
		if (::poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			spdlog::error("control socket {}: poll: {}", socket_path_, std::strerror(errno));
			if (stop_requested_within(stop_fd_, kAcceptBackoff))
				return;
			continue;
		}
		if (fds[1].revents != 0)
			return;
		if (fds[0].revents == 0)
			continue;

		UniqueFd conn(::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
		if (conn.get() < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				continue;
			spdlog::warn("control socket {}: accept: {}", socket_path_, std::strerror(errno));
			if (stop_requested_within(stop_fd_, kAcceptBackoff))
				return;
			continue;
		}
		try {
			serve(conn.get());
		} catch (const std::exception &e) {
			spdlog::warn("control socket {}: {}", socket_path_, e.what());
		}
	}
}

void ControlServer::serve(int conn_fd)
{
	using control::kMaxRequestBytes;

	// Read one request line, within the timeout and the size bound.
	std::string request;
	bool too_long = false;
	char buf[kMaxRequestBytes];
	auto deadline = Clock::now() + control::kRequestTimeout;
	for (;;) {
		if (wait_for(conn_fd, POLLIN, stop_fd_, deadline) != Wait::ready)
			return; // silent client, or stopping: close without an answer
		const ssize_t n = ::recv(conn_fd, buf, kMaxRequestBytes - request.size(), 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return;
		}
		if (n == 0) {
			if (request.empty())
				return; // connected and left without asking
			break;		// a last line without '\n' still counts
		}
		request.append(buf, static_cast<size_t>(n));
		if (const size_t nl = request.find('\n'); nl != std::string::npos) {
			request.resize(nl);
			break;
		}
		if (request.size() >= kMaxRequestBytes) {
			too_long = true;
			break;
		}
	}
	if (!request.empty() && request.back() == '\r')
		request.pop_back();

	std::string reply = too_long ? control::error_answer("request too long") : answer(request);
	reply.push_back('\n');

	deadline = Clock::now() + control::kRequestTimeout;
	size_t sent = 0;
	while (sent < reply.size()) {
		if (wait_for(conn_fd, POLLOUT, stop_fd_, deadline) != Wait::ready)
			return; // the client does not take the answer
		const ssize_t n = ::send(conn_fd, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return; // the client left
		}
		sent += static_cast<size_t>(n);
	}
}

std::string ControlServer::answer(std::string_view request)
{
	if (request == control::kStatusRequest) {
		try {
			return status_provider_();
		} catch (const std::exception &e) {
			spdlog::warn("control socket {}: status: {}", socket_path_, e.what());
			return control::error_answer(fmt::format("status unavailable: {}", e.what()));
		}
	}
	return control::error_answer(fmt::format("unknown request: {}", request));
}

} // namespace smith::daemon
