#include "daemon/run_state.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "util/fd.h"

namespace smith::daemon {
namespace {

// The file: "smithd-run <run_id> running|stopped\n".
constexpr std::string_view kMagic = "smithd-run ";

void write_state(const std::string &path, const std::string &run_id, std::string_view state)
{
	const std::string tmp = path + ".tmp";
	const std::string text = fmt::format("{}{} {}\n", kMagic, run_id, state);
	util::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
	util::IoResult w{0, fd.valid() ? 0 : errno};
	if (fd.valid())
		w = util::write_full(fd.get(), text.data(), text.size());
	if (w.ok() && ::fsync(fd.get()) != 0)
		w.error = errno;
	fd.reset();
	if (w.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
		w.error = errno;
	if (!w.ok())
		spdlog::warn(
			"cannot record this run in {}: {}; the next start will not know how this one ended",
			path, std::strerror(w.error));
}

} // namespace

PreviousRun begin_run(const std::string &path, const std::string &run_id)
{
	PreviousRun prev;
	char buf[256] = {};
	const util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (fd.valid()) {
		const util::IoResult r = util::read_full(fd.get(), buf, sizeof buf - 1);
		std::string_view text(buf, r.done);
		if (text.starts_with(kMagic)) {
			text.remove_prefix(kMagic.size());
			const size_t space = text.find(' ');
			if (space != std::string_view::npos) {
				prev.run_id = std::string(text.substr(0, space));
				prev.clean_stop = !text.substr(space + 1).starts_with("running");
			}
		}
	}
	if (!prev.run_id.empty() && !prev.clean_stop)
		spdlog::warn("the previous run of smithd (run_id {}) ended without a clean stop",
			     prev.run_id);
	write_state(path, run_id, "running");
	return prev;
}

void end_run(const std::string &path, const std::string &run_id)
{
	write_state(path, run_id, "stopped");
}

} // namespace smith::daemon
