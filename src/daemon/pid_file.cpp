#include "daemon/pid_file.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "daemon/config.h"

namespace smith::daemon {

PidFile::PidFile(std::string path) : path_(std::move(path))
{
	std::error_code ec;
	std::filesystem::path p(path_);
	if (p.has_parent_path())
		std::filesystem::create_directories(p.parent_path(), ec);
	{
		std::ifstream in(path_);
		long other = 0;
		if (in >> other && other > 0 && other != getpid() && kill(static_cast<pid_t>(other), 0) == 0)
			throw ConfigError(fmt::format(
				"pid file {} names a running process ({}); is smithd already running?", path_,
				other));
	}
	std::string tmp = path_ + ".tmp";
	{
		std::ofstream out(tmp, std::ios::trunc);
		out << getpid() << '\n';
		if (!out)
			throw ConfigError(
				fmt::format("cannot write pid file {}: {}", path_, std::strerror(errno)));
	}
	std::filesystem::rename(tmp, path_, ec);
	if (ec)
		throw ConfigError(fmt::format("cannot write pid file {}: {}", path_, ec.message()));
}

PidFile::~PidFile()
{
	std::error_code ec;
	std::filesystem::remove(path_, ec);
}

} // namespace smith::daemon
