// The control protocol between smithd and smithctl: a Unix stream socket
// (mode 0600, owned by root). The client sends one request line; the daemon
// answers with one line and closes the connection.
//
//   "status\n"  ->  the status snapshot as one JSON object (status_to_json), "\n"
//   anything else -> {"error":"unknown request: ..."} "\n"
#pragma once

namespace smith::control {

inline constexpr const char *kDefaultSocketPath = "/run/smith/smithd.sock";
inline constexpr const char *kStatusRequest = "status";

} // namespace smith::control
