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

// Field 7 (tty_nr) of /proc/<pid>/stat; comm (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')'.
bool parse_stat_tty_nr(std::string_view stat, uint32_t &tty_nr)
{
	const size_t paren = stat.rfind(')');
	if (paren == std::string_view::npos)
		return false;
	std::string_view rest = stat.substr(paren + 1);
	for (int field = 3; field <= 7; ++field) {
		const size_t start = rest.find_first_not_of(' ');
		if (start == std::string_view::npos)
			return false;
		rest = rest.substr(start);
		const size_t end = std::min(rest.find(' '), rest.size());
		if (field == 7) {
			int64_t v = 0;
			const auto r = std::from_chars(rest.data(), rest.data() + end, v);
			if (r.ec != std::errc())
				return false;
			tty_nr = static_cast<uint32_t>(v);
			return true;
		}
		rest = rest.substr(end);
	}
	return false;
}

} // namespace

void read_process_info(std::string_view proc_root, uint32_t pid, ProcessInfo &out)
{
	read_link(proc_root, pid, "exe", out.exe);
	read_link(proc_root, pid, "cwd", out.cwd);

	out.tty.clear();
	char stat_buf[4096];
	uint32_t tty_nr = 0;
	if (parse_stat_tty_nr(read_file(proc_root, pid, "stat", stat_buf), tty_nr))
		tty_from_dev(tty_nr, out.tty);

	char cgroup_buf[16384]; // cgroup v1 hosts list a line per hierarchy
	out.set_container_id(container_id_from_proc_cgroup(read_file(proc_root, pid, "cgroup", cgroup_buf)));
}

} // namespace smith::event
