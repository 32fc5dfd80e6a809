// The control protocol between smithd and smithctl: a Unix stream socket
// (mode 0600, owned by root). The client sends one request line; the daemon
// answers with one line and closes the connection.
//
//   "status\n"  ->  the status snapshot as one JSON object (status_to_json), "\n"
//   anything else -> {"error":"unknown request: ..."} "\n"
//
// A request line is at most kMaxRequestBytes bytes, its '\n' included, and must
// arrive within kRequestTimeout of connecting; otherwise the daemon answers
// {"error":"request too long"} or closes without answering. A trailing "\r" is
// ignored. Every answer is a JSON object; one with an "error" member is a failure.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace smith::control {

inline constexpr const char *kDefaultSocketPath = "/run/smith/smithd.sock";
inline constexpr const char *kStatusRequest = "status";
inline constexpr size_t kMaxRequestBytes = 256;
inline constexpr std::chrono::milliseconds kRequestTimeout{1000};

// {"error":"<message>"} (no newline), the message escaped for JSON.
std::string error_answer(std::string_view message);

} // namespace smith::control
