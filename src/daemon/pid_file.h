// Files that make smithd one instance: the pid file (/run/smith.pid) and the spool directory's
// lock. Each is held with an exclusive flock(2) for the life of the daemon and names its pid, so a
// second smithd stops before it builds a sink or a backend, and says which process runs. A lock
// held by a process that died (kill -9) goes with it: nothing stale refuses a start.
#pragma once

#include <string>

namespace smith::daemon {

class LockFile {
public:
	// Creates `path` (and its parent directory) if needed, takes the lock and writes our pid.
	// Throws ConfigError naming the holder's pid when another process holds it; `what` says what
	// the file guards ("pid file", "spool directory").
	LockFile(std::string path, std::string what);
	~LockFile(); // removes the file, then lets go of the lock
	LockFile(const LockFile &) = delete;
	LockFile &operator=(const LockFile &) = delete;

private:
	std::string path_;
	int fd_ = -1;
};

} // namespace smith::daemon
