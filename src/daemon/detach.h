// Running in the background without losing start errors. detach() forks: the process that
// called it waits, and the daemon goes on in a new session with its standard streams on
// /dev/null. The waiting process exits 0 when the daemon says it is ready (backend, sink and
// control socket up), and 1 with the daemon's error line when the start failed, or when the
// daemon died before saying either.
#pragma once

#include <string_view>

namespace smith::daemon {

// Returns in the daemon; never returns in the process that called it.
void detach();

// Tells the waiting process that the start worked. Does nothing in the foreground.
void report_ready();

// Hands a start error to the waiting process, which prints it. Does nothing in the foreground
// or once ready.
void report_start_error(std::string_view message);

} // namespace smith::daemon
