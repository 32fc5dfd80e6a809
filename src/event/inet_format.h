// Text forms of IP endpoints and of what an fd refers to, without allocation:
// addresses go through stack buffers, output is appended to a reused string.
#pragma once

#include "smith/abi.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace smith::event {

inline constexpr size_t kIpTextMax = 46; // INET6_ADDRSTRLEN

// inet_ntop of the first 4 (AF_INET) or 16 (AF_INET6) bytes of `addr` into
// `buf`; "" for another family. IPv4-mapped IPv6 stays "::ffff:a.b.c.d".
std::string_view format_ip(uint16_t family, const uint8_t (&addr)[16], char (&buf)[kIpTextMax]);

// "ipv4", "ipv6", or "" for another family.
std::string_view family_name(uint16_t family);

// "tcp", "udp", or "" for another protocol.
std::string_view protocol_name(uint8_t protocol);

// Replaces `out` with the schema's text for an execve stdin/stdout:
//   NONE -> "", PATH -> `path` (already joined), PIPE -> "pipe:[ino]",
//   INET -> "tcp:SADDR:SPORT->DADDR:DPORT" (IPv6 addresses bracketed; "udp:"
//   for UDP, "ip:" for another protocol), SOCKET -> "socket:[ino]",
//   OTHER -> "anon_inode:[ino]". An INET fd of an unknown family reads as a
//   socket; an unknown kind as "".
void format_fd(const smith_fd &fd, std::string_view path, std::string &out);

} // namespace smith::event
