#include "daemon/systemd_notify.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace smith::daemon {

SystemdNotify::SystemdNotify()
{
	if (const char *s = std::getenv("NOTIFY_SOCKET"); s != nullptr && (s[0] == '/' || s[0] == '@'))
		address_ = s;
	unsetenv("NOTIFY_SOCKET");
}

void SystemdNotify::send(std::string_view state) const
{
	if (address_.empty())
		return;
	sockaddr_un sun{};
	sun.sun_family = AF_UNIX;
	if (address_.size() >= sizeof(sun.sun_path)) {
		spdlog::warn("NOTIFY_SOCKET '{}' is too long for a unix socket address", address_);
		return;
	}
	std::memcpy(sun.sun_path, address_.data(), address_.size());
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0'; // abstract namespace
	auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());

	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		spdlog::warn("systemd notify: socket: {}", std::strerror(errno));
		return;
	}
	if (sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr *>(&sun), len) < 0)
		spdlog::warn("systemd notify to {}: {}", address_, std::strerror(errno));
	close(fd);
}

} // namespace smith::daemon
