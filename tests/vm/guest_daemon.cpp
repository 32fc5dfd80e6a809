#include "guest_daemon.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simdjson.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace smith::vm {

namespace {

std::string dir_of(const std::string &path)
{
	auto slash = path.rfind('/');
	return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string beside_self_or(const char *name, const char *fallback)
{
	std::string beside = dir_of(e2e::self_exe()) + "/" + name;
	return access(beside.c_str(), X_OK) == 0 ? beside : fallback;
}

int status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

// In the child, before exec: a private mount namespace in which the kernel's BTF reads as empty, so
// that libbpf cannot relocate the programs and the eBPF backend cannot load.
void hide_btf_or_exit()
{
	if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
		dprintf(2, "hide_btf: unshare/make-private: %s\n", strerror(errno));
		_exit(125);
	}
	const char *empty = "/run/smith-vm-empty-btf";
	int fd = open(empty, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (fd < 0 || close(fd) != 0 ||
	    mount(empty, "/sys/kernel/btf/vmlinux", nullptr, MS_BIND, nullptr) != 0) {
		dprintf(2, "hide_btf: bind %s over /sys/kernel/btf/vmlinux: %s\n", empty, strerror(errno));
		_exit(125);
	}
}

} // namespace

std::string smithd_path()
{
	return beside_self_or("smithd", SMITHD_PATH);
}

std::string smithctl_path()
{
	return beside_self_or("smithctl", SMITHCTL_PATH);
}

std::string module_dir()
{
	const char *dir = getenv("SMITH_VM_MODULE_DIR");
	return dir && *dir ? dir : "/opt/smith/modules";
}

std::chrono::seconds start_timeout()
{
	const char *s = getenv("SMITH_VM_START_TIMEOUT");
	return std::chrono::seconds(s && *s ? std::atoi(s) : 900);
}

Daemon::Daemon(DaemonOptions options) : options_(std::move(options)), dir_("smith-vm-" + options_.label + "-")
{
	output_path_ = dir_.file("events.jsonl");
	socket_path_ = dir_.file("smithd.sock");
	pid_file_ = dir_.file("smithd.pid");
	log_path_ = dir_.file("smithd.log");
	dir_.keep(); // the guest's /tmp disappears with the guest; the kept tree helps when run on a host
}

Daemon::~Daemon()
{
	if (pid_ > 0) {
		kill(pid_, SIGKILL);
		waitpid(pid_, nullptr, 0);
	}
}

void Daemon::start()
{
	std::vector<std::string> argv = {smithd_path(),
					 "--backend=" + options_.backend,
					 "--foreground",
					 "--sink=file",
					 "--output=" + output_path_,
					 "--socket=" + socket_path_,
					 "--pid-file=" + pid_file_,
					 "--config=" + options_.config};
	argv.insert(argv.end(), options_.extra.begin(), options_.extra.end());
	std::vector<char *> cargv;
	for (auto &a : argv)
		cargv.push_back(a.data());
	cargv.push_back(nullptr);
	int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0)
		throw std::runtime_error("cannot create " + log_path_ + ": " + strerror(errno));
	bool hide_btf = options_.hide_btf;
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(log_fd, 1);
		dup2(log_fd, 2);
		if (hide_btf)
			hide_btf_or_exit();
		execv(cargv[0], cargv.data());
		dprintf(2, "exec %s: %s\n", cargv[0], strerror(errno));
		_exit(127);
	}
	close(log_fd);
	if (pid < 0)
		throw std::runtime_error(std::string("fork: ") + strerror(errno));
	pid_ = pid;
}

std::string Daemon::wait_ready(std::chrono::milliseconds timeout)
{
	auto deadline = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		int code = 0;
		if (exited(&code))
			return "smithd (" + label() + ") exited during startup with status " +
			       std::to_string(code) + "\n---- log ----\n" + log();
		if (access(pid_file_.c_str(), F_OK) == 0 && ctl({"status", "--json"}).exit_code == 0)
			return "";
		if (std::chrono::steady_clock::now() >= deadline)
			return "smithd (" + label() + ") not ready after " +
			       std::to_string(
				       std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
			       " s\n---- log ----\n" + log();
		std::this_thread::sleep_for(200ms);
	}
}

bool Daemon::exited(int *code)
{
	if (pid_ <= 0)
		return true;
	int status = 0;
	if (waitpid(pid_, &status, WNOHANG) != pid_)
		return false;
	pid_ = -1;
	*code = status_code(status);
	return true;
}

std::string Daemon::log() const
{
	return e2e::read_file(log_path_);
}

const std::vector<Event> &Daemon::poll()
{
	int fd = open(output_path_.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return events_;
	if (lseek(fd, static_cast<off_t>(read_offset_), SEEK_SET) < 0) {
		close(fd);
		return events_;
	}
	std::string chunk;
	char buf[1 << 16];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		chunk.append(buf, static_cast<size_t>(r));
	}
	close(fd);
	read_offset_ += chunk.size();
	partial_ += chunk;
	size_t begin = 0;
	for (;;) {
		size_t nl = partial_.find('\n', begin);
		if (nl == std::string::npos)
			break;
		std::string_view line(partial_.data() + begin, nl - begin);
		begin = nl + 1;
		if (line.empty())
			continue;
		std::string err;
		if (auto ev = Event::parse(line, &err))
			events_.push_back(std::move(*ev));
		else
			bad_lines_.emplace_back(std::string(line), err);
	}
	partial_.erase(0, begin);
	return events_;
}

std::optional<Event> Daemon::find(const EventPredicate &pred, std::chrono::milliseconds timeout)
{
	auto deadline = std::chrono::steady_clock::now() + timeout;
	size_t checked = 0;
	for (;;) {
		const auto &evs = poll();
		for (; checked < evs.size(); ++checked)
			if (pred(evs[checked]))
				return evs[checked];
		if (std::chrono::steady_clock::now() >= deadline)
			return std::nullopt;
		std::this_thread::sleep_for(50ms);
	}
}

size_t Daemon::count(const EventPredicate &pred)
{
	size_t n = 0;
	for (auto &e : poll())
		if (pred(e))
			++n;
	return n;
}

std::string Daemon::lines_of_pid(int64_t pid) const
{
	std::string out;
	for (auto &e : events_)
		if (e.pid() == pid)
			out += e.line() + "\n";
	return out;
}

CommandResult Daemon::ctl(std::vector<std::string> args) const
{
	std::vector<std::string> argv = {smithctl_path()};
	argv.insert(argv.end(), args.begin(), args.end());
	argv.push_back("--socket=" + socket_path_);
	return e2e::run_command(argv, 60s);
}

std::string Daemon::status_json() const
{
	CommandResult r = ctl({"status", "--json"});
	return r.exit_code == 0 ? r.out : "";
}

int Daemon::terminate(std::chrono::milliseconds timeout)
{
	if (pid_ <= 0)
		return -1;
	kill(pid_, SIGTERM);
	int code = e2e::wait_exit(pid_, timeout);
	pid_ = -1;
	return code;
}

std::optional<Status> parse_status(const std::string &json, std::string *error)
{
	simdjson::dom::parser parser;
	simdjson::dom::element doc;
	if (auto err = parser.parse(json).get(doc); err) {
		*error = simdjson::error_message(err);
		return std::nullopt;
	}
	Status s;
	std::string_view sv;
	if (doc["backend"].get_string().get(sv) == simdjson::SUCCESS)
		s.backend = sv;
	if (doc["backend_reason"].get_string().get(sv) == simdjson::SUCCESS)
		s.backend_reason = sv;
	uint64_t u = 0;
	if (doc["last_seq"].get_uint64().get(u) == simdjson::SUCCESS)
		s.last_seq = u;
	if (doc["decode_errors"].get_uint64().get(u) == simdjson::SUCCESS)
		s.decode_errors = u;
	if (doc["queue_depth"].get_uint64().get(u) == simdjson::SUCCESS)
		s.queue_depth = u;
	simdjson::dom::array hooks;
	if (doc["hooks"].get_array().get(hooks) == simdjson::SUCCESS) {
		for (simdjson::dom::element h : hooks) {
			std::string_view name, state;
			if (h["name"].get_string().get(name) != simdjson::SUCCESS)
				continue;
			if (h["kernel_drops"].get_uint64().get(u) == simdjson::SUCCESS)
				s.drops[std::string(name)] = u;
			if (h["state"].get_string().get(state) == simdjson::SUCCESS)
				s.hook_state[std::string(name)] = std::string(state);
		}
	}
	if (s.backend.empty()) {
		*error = "no \"backend\" in status: " + json;
		return std::nullopt;
	}
	return s;
}

int load_module_from_memory(const std::string &path, const std::string &params)
{
	std::string image = e2e::read_file(path);
	if (image.empty())
		return -ENOENT;
	long r = syscall(SYS_init_module, image.data(), image.size(), params.c_str());
	return r == 0 ? 0 : -errno;
}

int load_module_from_file(const std::string &path, const std::string &params, int flags)
{
	int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	long r = syscall(SYS_finit_module, fd, params.c_str(), flags);
	int err = r == 0 ? 0 : -errno;
	close(fd);
	return err;
}

int unload_module(const std::string &name)
{
	long r = syscall(SYS_delete_module, name.c_str(), O_NONBLOCK);
	return r == 0 ? 0 : -errno;
}

bool module_loaded(const std::string &name)
{
	struct stat st {};
	return stat(("/sys/module/" + name).c_str(), &st) == 0;
}

} // namespace smith::vm
