// Whether the previous run of smithd stopped cleanly: smith's tamper evidence. A file (state_file,
// /var/lib/smith/smithd.state by default) holds the run id of the last run and whether it is still
// running. A run that starts and finds "running" knows the one before it ended without a clean stop
// (SIGKILL, an OOM kill, a crash, a power loss), and says so in its status and its first heartbeat.
#pragma once

#include <string>

namespace smith::daemon {

struct PreviousRun {
	std::string run_id; // "" when no run was recorded before
	bool clean_stop = true;
};

// Records `run_id` as running in `path`, and returns what the file said of the run before. A file
// that cannot be read counts as no previous run; one that cannot be written is logged, not fatal.
PreviousRun begin_run(const std::string &path, const std::string &run_id);

// Records `run_id` as stopped cleanly in `path`.
void end_run(const std::string &path, const std::string &run_id);

} // namespace smith::daemon
