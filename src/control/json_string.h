// JSON string escaping for the control library. smith_control sits below
// smith_event, so it carries its own small escaper rather than JsonWriter.
// Any bytes are accepted: invalid UTF-8 becomes U+FFFD, control characters,
// quotes and backslashes are escaped, so the result always parses as JSON.
#pragma once

#include <string>
#include <string_view>

namespace smith::control {

// Appends `s` as a complete JSON string, quotes included.
void append_json_string(std::string &out, std::string_view s);

} // namespace smith::control
