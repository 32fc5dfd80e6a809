// smithctl's end of the control socket (protocol in src/control/protocol.h):
// connect, send one request line, read the one-line answer.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

namespace smith::ctl {

class ControlError : public std::runtime_error {
public:
	enum class Kind {
		not_running,	   // no socket file, or no one listening on it
		permission_denied, // the socket (mode 0600, root) is not ours to open
		failed,		   // anything else: no answer in time, a broken answer, a system error
	};
	ControlError(Kind kind, const std::string &message) : std::runtime_error(message), kind_(kind) {}
	Kind kind() const { return kind_; }

private:
	Kind kind_;
};

// Sends `request` (without its '\n') to the daemon on `socket_path` and returns
// the answer line without its '\n'. Waits at most `timeout` in all. Throws
// ControlError; its message names the socket path and the reason.
std::string control_request(const std::string &socket_path, std::string_view request,
			    std::chrono::milliseconds timeout = std::chrono::seconds(5));

} // namespace smith::ctl
