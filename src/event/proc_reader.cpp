#include "event/proc_reader.h"

#include "event/container_id.h"
#include "event/tty.h"
#include "util/fd.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

namespace smith::event {
namespace {

// "<root>/<pid>/<name>" into `buf`; false if it does not fit.
bool proc_path(char (&buf)[PATH_MAX], std::string_view root, uint32_t pid, const char *name)
{
	const int n = std::snprintf(buf, sizeof(buf), "%.*s/%u/%s", static_cast<int>(root.size()),
				    root.data(), pid, name);
	return n > 0 && static_cast<size_t>(n) < sizeof(buf);
}

void read_link(std::string_view root, uint32_t pid, const char *name, std::string &out)
{
	out.clear();
	char path[PATH_MAX];
	char target[PATH_MAX];
	if (!proc_path(path, root, pid, name))
		return;
	const ssize_t n = readlink(path, target, sizeof(target));
	if (n > 0)
		out.assign(target, static_cast<size_t>(n));
}

// Reads up to sizeof(buf) bytes of a small file; the bytes read.
template <size_t N>
std::string_view read_file(std::string_view root, uint32_t pid, const char *name, char (&buf)[N])
{
	char path[PATH_MAX];
	if (!proc_path(path, root, pid, name))
		return {};
	const util::UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC));
	if (!fd.valid())
		return {};
	return {buf, util::read_full(fd.get(), buf, N).done};
}

// Fields 7 (tty_nr) and 22 (starttime, clock ticks since boot) of /proc/<pid>/stat; comm (field 2)
// may hold spaces and parentheses, so fields are counted from the last ')'.
bool parse_stat(std::string_view stat, uint32_t &tty_nr, uint64_t &start_ticks)
{
	const size_t paren = stat.rfind(')');
	if (paren == std::string_view::npos)
		return false;
	std::string_view rest = stat.substr(paren + 1);
	for (int field = 3; field <= 22; ++field) {
		const size_t start = rest.find_first_not_of(' ');
		if (start == std::string_view::npos)
			return false;
		rest = rest.substr(start);
		const size_t end = std::min(rest.find(' '), rest.size());
		if (field == 7 || field == 22) {
			uint64_t v = 0;
			int64_t sv = 0;
			const auto r = field == 7 ? std::from_chars(rest.data(), rest.data() + end, sv)
						  : std::from_chars(rest.data(), rest.data() + end, v);
			if (r.ec != std::errc())
				return false;
			if (field == 7)
				tty_nr = static_cast<uint32_t>(sv);
			else
				start_ticks = v;
		}
		rest = rest.substr(end);
	}
	return true;
}

// Whether a process that started `start_ticks` clock ticks after boot is the one that started
// `start_time_ns` after boot: one tick of rounding either way.
bool same_start(uint64_t start_ticks, uint64_t start_time_ns)
{
	static const long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		return true;
	const uint64_t ticks = start_time_ns / (1000000000ULL / static_cast<uint64_t>(hz));
	return start_ticks + 1 >= ticks && ticks + 1 >= start_ticks;
}

} // namespace

bool read_process_info(std::string_view proc_root, uint32_t pid, uint64_t start_time, ProcessInfo &out)
{
	out.exe.clear();
	out.cwd.clear();
	out.tty.clear();
	out.set_container_id({});
	// The process first: a pid that now names another process lends nothing.
	char stat_buf[4096];
	uint32_t tty_nr = 0;
	uint64_t start_ticks = 0;
	if (!parse_stat(read_file(proc_root, pid, "stat", stat_buf), tty_nr, start_ticks) ||
	    !same_start(start_ticks, start_time))
		return false;
	read_link(proc_root, pid, "exe", out.exe);
	read_link(proc_root, pid, "cwd", out.cwd);
	tty_from_dev(tty_nr, out.tty);

	char cgroup_buf[16384]; // cgroup v1 hosts list a line per hierarchy
	out.set_container_id(container_id_from_proc_cgroup(read_file(proc_root, pid, "cgroup", cgroup_buf)));
	// It may have exited, and its pid been taken, while we read.
	uint64_t again = 0;
	if (!parse_stat(read_file(proc_root, pid, "stat", stat_buf), tty_nr, again) || again != start_ticks) {
		out.exe.clear();
		out.cwd.clear();
		out.tty.clear();
		out.set_container_id({});
		return false;
	}
	return true;
}

} // namespace smith::event
