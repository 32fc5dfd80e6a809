#include "backend/libbpf_error.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

namespace smith::backend {

std::string libbpf_error_text(long err)
{
	if (err < 0)
		err = -err;
	char buf[256];
	if (libbpf_strerror(static_cast<int>(err), buf, sizeof(buf)) != 0)
		return std::string(std::strerror(static_cast<int>(err)));
	return std::string(buf) + " (errno " + std::to_string(err) + ")";
}

namespace {

int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	// Verifier logs arrive as one message of any size: format it whole.
	va_list copy;
	va_copy(copy, args);
	int n = std::vsnprintf(nullptr, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return n;
	std::string buf(static_cast<size_t>(n) + 1, '\0');
	std::vsnprintf(buf.data(), buf.size(), fmt, args);
	std::string_view text(buf.data(), static_cast<size_t>(n));
	while (!text.empty() && text.back() == '\n')
		text.remove_suffix(1);
	switch (level) {
	case LIBBPF_WARN: spdlog::warn("libbpf: {}", text); break;
	case LIBBPF_INFO: spdlog::debug("libbpf: {}", text); break;
	case LIBBPF_DEBUG: spdlog::trace("libbpf: {}", text); break;
	}
	return n;
}

} // namespace

void route_libbpf_logs_to_spdlog()
{
	libbpf_set_print(libbpf_print);
}

} // namespace smith::backend
