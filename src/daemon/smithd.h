// smithd's assembly: logging, detaching, the sink, the backend (--backend=auto
// choosing), the pipeline and the control socket, run until SIGTERM or SIGINT
// (SIGHUP reopens the output and the log).
#pragma once

#include "daemon/config.h"

namespace smith::daemon {

// Runs smithd with a checked configuration; returns its exit code. Start errors
// throw ConfigError, backend::BackendError or sink::SinkError.
int run_daemon(Config &config);

} // namespace smith::daemon
