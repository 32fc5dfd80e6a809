// Readiness and shutdown notices for systemd (Type=notify), over the datagram socket named by
// $NOTIFY_SOCKET: the sd_notify(3) protocol, without linking libsystemd, so the static smithd
// needs no shared library. Does nothing when smithd does not run under systemd.
#pragma once

#include <string>
#include <string_view>

namespace smith::daemon {

class SystemdNotify {
public:
	// Takes $NOTIFY_SOCKET and removes it from the environment, so that programs smithd starts
	// (modprobe) do not talk to systemd in its name.
	SystemdNotify();

	bool enabled() const { return !address_.empty(); }

	// Sends one notice, e.g. "READY=1\nSTATUS=...". Failures are logged, never fatal: systemd
	// then reports the unit's start as timed out, which says more than smithd exiting would.
	void send(std::string_view state) const;

private:
	std::string address_; // "@name" for the abstract namespace, else a path
};

} // namespace smith::daemon
