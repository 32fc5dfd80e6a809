// The pid file (/run/smith.pid): written once smithd is ready, removed when it
// stops. A pid file naming a live smithd refuses the start.
#pragma once

#include <string>

namespace smith::daemon {

class PidFile {
public:
	// Creates the parent directory if needed and writes our pid; throws
	// ConfigError if another live process holds it.
	explicit PidFile(std::string path);
	~PidFile();
	PidFile(const PidFile &) = delete;
	PidFile &operator=(const PidFile &) = delete;

private:
	std::string path_;
};

} // namespace smith::daemon
