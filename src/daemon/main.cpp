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

#include "backend/backend.h"
#include "daemon/cli.h"
#include "daemon/smithd.h"
#include "sink/sink.h"

int main(int argc, char **argv)
{
	using namespace smith;
	try {
		int exit_code = 0;
		std::optional<daemon::Config> config = daemon::parse_command_line(argc, argv, &exit_code);
		if (!config)
			return exit_code;
		return daemon::run_daemon(*config);
	} catch (const daemon::ConfigError &e) {
		fmt::print(stderr, "smithd: {}\n", e.what());
	} catch (const backend::BackendError &e) {
		fmt::print(stderr, "smithd: {}\n", e.what());
	} catch (const sink::SinkError &e) {
		fmt::print(stderr, "smithd: {}\n", e.what());
	} catch (const std::exception &e) {
		fmt::print(stderr, "smithd: {}\n", e.what());
	}
	return 1;
}
