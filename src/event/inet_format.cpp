#include "event/inet_format.h"

#include <arpa/inet.h>
#include <charconv>
#include <sys/socket.h>

namespace smith::event {
namespace {

static_assert(kIpTextMax == INET6_ADDRSTRLEN);

void append_uint(std::string &out, uint64_t v)
{
	char buf[24];
	const auto r = std::to_chars(buf, buf + sizeof(buf), v);
	out.append(buf, r.ptr);
}

void append_ino(std::string &out, std::string_view prefix, uint64_t ino)
{
	out.append(prefix);
	out.append(":[");
	append_uint(out, ino);
	out.push_back(']');
}

// Dotted decimal of 4 bytes at `p` into `out`; returns the end.
char *put_ipv4(char *out, const uint8_t *p)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			*out++ = '.';
		out = std::to_chars(out, out + 3, p[i]).ptr;
	}
	return out;
}

// RFC 5952 text, the same as glibc's inet_ntop: lower-case hex groups without
// leading zeros, the first longest run of two or more zero groups as "::", and
// dotted decimal for IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible addresses.
char *put_ipv6(char *out, const uint8_t (&a)[16])
{
	uint16_t w[8];
	for (int i = 0; i < 8; i++)
		w[i] = static_cast<uint16_t>(a[2 * i] << 8 | a[2 * i + 1]);
	int best = -1, best_len = 0;
	for (int i = 0; i < 8;) {
		if (w[i] != 0) {
			i++;
			continue;
		}
		int j = i;
		while (j < 8 && w[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j;
	}
	if (best_len < 2)
		best = -1;
	for (int i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + best_len) {
			if (i == best)
				*out++ = ':';
			continue;
		}
		if (i)
			*out++ = ':';
		if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
			return put_ipv4(out, a + 12);
		out = std::to_chars(out, out + 4, w[i], 16).ptr;
	}
	if (best >= 0 && best + best_len == 8)
		*out++ = ':';
	return out;
}

void append_endpoint(std::string &out, uint16_t family, const uint8_t (&addr)[16], uint16_t port)
{
	char buf[kIpTextMax];
	const std::string_view ip = format_ip(family, addr, buf);
	if (family == AF_INET6) {
		out.push_back('[');
		out.append(ip);
		out.push_back(']');
	} else {
		out.append(ip);
	}
	out.push_back(':');
	append_uint(out, port);
}

} // namespace

std::string_view format_ip(uint16_t family, const uint8_t (&addr)[16], char (&buf)[kIpTextMax])
{
	if (family != AF_INET && family != AF_INET6)
		return {};
	char *end = family == AF_INET ? put_ipv4(buf, addr) : put_ipv6(buf, addr);
	return {buf, static_cast<size_t>(end - buf)};
}

std::string_view family_name(uint16_t family)
{
	switch (family) {
	case AF_INET: return "ipv4";
	case AF_INET6: return "ipv6";
	default: return {};
	}
}

std::string_view protocol_name(uint8_t protocol)
{
	switch (protocol) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	default: return {};
	}
}

void format_fd(const smith_fd &fd, std::string_view path, std::string &out)
{
	out.clear();
	switch (fd.kind) {
	case SMITH_FD_PATH: out.append(path); break;
	case SMITH_FD_PIPE: append_ino(out, "pipe", fd.ino); break;
	case SMITH_FD_INET: {
		const smith_inet &in = fd.inet;
		if (in.family != AF_INET && in.family != AF_INET6) {
			append_ino(out, "socket", fd.ino);
			break;
		}
		const std::string_view proto = protocol_name(in.protocol);
		out.append(proto.empty() ? std::string_view("ip") : proto);
		out.push_back(':');
		append_endpoint(out, in.family, in.saddr, in.sport);
		out.append("->");
		append_endpoint(out, in.family, in.daddr, in.dport);
		break;
	}
	case SMITH_FD_SOCKET: append_ino(out, "socket", fd.ino); break;
	case SMITH_FD_OTHER: append_ino(out, "anon_inode", fd.ino); break;
	default: break; // SMITH_FD_NONE and kinds this daemon does not know
	}
}

} // namespace smith::event
