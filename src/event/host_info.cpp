// detect_host_info(): the facts about this host and run that every event carries.
#include "event/normalizer.h"
#include "util/fd.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <limits>
#include <sys/syscall.h>
#include <unistd.h>

namespace smith::event {
namespace {

std::string read_hostname()
{
	char buf[HOST_NAME_MAX + 1] = {};
	if (gethostname(buf, sizeof(buf) - 1) != 0)
		return {};
	return buf;
}

std::string read_machine_id(const char *path)
{
	std::FILE *f = std::fopen(path, "re");
	if (f == nullptr)
		return {};
	char buf[128] = {};
	const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
	std::fclose(f);
	std::string id(buf, n);
	const auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
	while (!id.empty() && is_space(id.back()))
		id.pop_back();
	size_t start = 0;
	while (start < id.size() && is_space(id[start]))
		++start;
	return id.substr(start);
}

bool fill_random(unsigned char *buf, size_t len)
{
	// The raw syscall: glibc's getrandom() wrapper is newer than the oldest
	// glibc smithd runs on, and kernels before 3.17 lack the call (ENOSYS).
#ifdef SYS_getrandom
	size_t got = 0;
	while (got < len) {
		const long n = syscall(SYS_getrandom, buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += static_cast<size_t>(n);
	}
	if (got == len)
		return true;
#endif
	const util::UniqueFd fd(open("/dev/urandom", O_RDONLY | O_CLOEXEC));
	return fd.valid() && util::read_full(fd.get(), buf, len).done == len;
}

std::string new_run_id()
{
	unsigned char bytes[16] = {};
	if (!fill_random(bytes, sizeof(bytes))) {
		// No entropy source at all: time and pid still tell runs apart.
		timespec ts{};
		clock_gettime(CLOCK_REALTIME, &ts);
		const uint64_t mix[2] = {static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec,
					 static_cast<uint64_t>(getpid())};
		for (size_t i = 0; i < sizeof(bytes); ++i)
			bytes[i] = static_cast<unsigned char>(mix[i / 8] >> (8 * (i % 8)));
	}
	static constexpr char kHex[] = "0123456789abcdef";
	std::string id;
	id.reserve(2 * sizeof(bytes));
	for (const unsigned char b : bytes) {
		id.push_back(kHex[b >> 4]);
		id.push_back(kHex[b & 0xf]);
	}
	return id;
}

int64_t now_ns(clockid_t clock)
{
	timespec ts{};
	clock_gettime(clock, &ts);
	return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

} // namespace

// From the sample whose realtime reads bracket the boottime read most tightly (least disturbed by
// preemption).
int64_t measure_boot_to_epoch_ns()
{
	int64_t best_window = std::numeric_limits<int64_t>::max();
	int64_t best_offset = 0;
	for (int i = 0; i < 5; ++i) {
		const int64_t r1 = now_ns(CLOCK_REALTIME);
		const int64_t b = now_ns(CLOCK_BOOTTIME);
		const int64_t r2 = now_ns(CLOCK_REALTIME);
		if (r2 - r1 < best_window) {
			best_window = r2 - r1;
			best_offset = r1 + (r2 - r1) / 2 - b;
		}
	}
	return best_offset;
}

HostInfo detect_host_info(std::string backend)
{
	HostInfo h;
	h.hostname = read_hostname();
	h.host_id = read_machine_id("/etc/machine-id");
	h.run_id = new_run_id();
	h.backend = std::move(backend);
	h.boot_to_epoch_ns = measure_boot_to_epoch_ns();
	return h;
}

} // namespace smith::event
