// libbpf reports errors as negative errno; this is the one place they become text.
#pragma once

#include <string>

namespace smith::backend {

// "Operation not permitted (errno 1)": the text of a libbpf return value (a negative errno, or
// libbpf's own error codes), with the number.
std::string libbpf_error_text(long err);

// Routes libbpf's own messages (verifier logs included) to the daemon's log.
void route_libbpf_logs_to_spdlog();

} // namespace smith::backend
