// The human form of `smithctl status`: a header block, the hooks and events
// tables, and the sink's state.
#pragma once

#include <string>
#include <string_view>

#include "control/status.h"

namespace smith::ctl {

// "5s", "2m03s", "1h02m03s", "3d01h02m03s"; negative or non-finite -> "0s".
std::string format_duration(double seconds);

// `s` with control characters shown as escapes (\n, \x1b, \u0085), so text the
// daemon relays (error messages, hook reasons) cannot drive the terminal.
std::string printable(std::string_view s);

// The whole view, ending with a newline.
std::string format_status(const control::StatusSnapshot &s);

} // namespace smith::ctl
