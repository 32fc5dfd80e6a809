// smithd's command line: the options, and how they merge with the config file (defaults, then the
// file, then the options given on the command line).
#pragma once

#include <optional>

#include "daemon/config.h"

namespace smith::daemon {

// Parses argv and the config file it names into one checked Config. Returns nullopt after --help
// or --version (printed), or after an option error (printed with its usage hint); *exit_code is
// then the process's exit code. A bad config file or a bad combination throws ConfigError.
std::optional<Config> parse_command_line(int argc, char **argv, int *exit_code);

} // namespace smith::daemon
