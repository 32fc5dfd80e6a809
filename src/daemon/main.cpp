// smithd: hooks execve, connect and module loads, and writes one schema v1
// JSON event per call to the configured sink.
//
// Error policy: user errors (options, config, an unusable kernel) are thrown as
// one of the exception types below and reported here, once, with exit code 1.
// Recoverable runtime errors (a bad record, a failed write) are counted and
// shown by smithctl status; they never stop the daemon.
#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "daemon/cli.h"
#include "daemon/detach.h"
#include "daemon/smithd.h"

int main(int argc, char **argv)
{
	using namespace smith;
	try {
		int exit_code = 0;
		std::optional<daemon::Config> config = daemon::parse_command_line(argc, argv, &exit_code);
		if (!config)
			return exit_code;
		return daemon::run_daemon(*config);
	} catch (const std::exception &e) {
		// ConfigError, backend::BackendError, sink::SinkError and the rest: one line, exit 1.
		// Detached, stderr is /dev/null; the process smithd was started from prints it.
		fmt::print(stderr, "smithd: {}\n", e.what());
		daemon::report_start_error(e.what());
	}
	return 1;
}
