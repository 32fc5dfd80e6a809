#include "backend/lkm_module.h"
#include "backend/backend.h"
#include "util/fd.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

extern char **environ;

namespace smith::backend {
namespace {

namespace fs = std::filesystem;

// How long udev or devtmpfs gets to create the device node after a load.
constexpr auto kDeviceWait = std::chrono::seconds(2);
constexpr auto kDeviceWaitStep = std::chrono::milliseconds(20);

bool exists(const std::string &path)
{
	std::error_code ec;
	return fs::exists(path, ec);
}

// What finit_module's errno means for the person installing smith.
std::string finit_module_advice(int err)
{
	switch (err) {
	case ENOSYS: return "this kernel has no loadable module support (built without CONFIG_MODULES)";
	case EPERM:
		return "not permitted: smithd needs CAP_SYS_MODULE, and module loading must not be switched "
		       "off "
		       "(kernel.modules_disabled, lockdown)";
	case EKEYREJECTED:
	case EBADMSG:
	case ENOKEY: return "the kernel refused the module's signature (signed modules are enforced)";
	case ENOEXEC:
		return "not a module this kernel can load (built for another kernel release or "
		       "architecture?); "
		       "see the kernel log";
	case ENOENT: return "the module uses a kernel symbol this kernel lacks; see the kernel log";
	case EINVAL: return "the kernel rejected the module or its parameters; see the kernel log";
	case EBUSY: return "a module of that name is being loaded or unloaded right now";
	default: return "see the kernel log";
	}
}

// The module parameters smithd sets at load: ring_kb when configured, and the connect budget.
std::vector<std::string> module_params(const LkmOptions &o)
{
	std::vector<std::string> params;
	if (o.ring_kb)
		params.push_back(fmt::format("ring_kb={}", o.ring_kb));
	params.push_back(fmt::format("connect_budget_rate={}", o.connect_budget_rate));
	params.push_back(fmt::format("connect_budget_burst={}", o.connect_budget_burst));
	return params;
}

} // namespace

std::string errno_text(int err)
{
	return fmt::format("{} (errno {})", std::strerror(err), err);
}

std::string lkm_device_holders(const std::string &device)
{
	std::string out;
	std::error_code ec;
	for (const auto &proc : fs::directory_iterator("/proc", ec)) {
		const std::string pid = proc.path().filename();
		if (pid.find_first_not_of("0123456789") != std::string::npos)
			continue;
		std::error_code fd_ec;
		for (const auto &fd : fs::directory_iterator(proc.path() / "fd", fd_ec)) {
			std::error_code link_ec;
			if (fs::read_symlink(fd.path(), link_ec) != device)
				continue;
			std::string comm;
			std::ifstream(proc.path() / "comm") >> comm;
			out += fmt::format("{}pid {} {}", out.empty() ? "" : ", ", pid, comm);
			break;
		}
	}
	return out.empty() ? "" : " (held by " + out + ")";
}

void LkmModule::acquire()
{
	origin_.clear();
	const std::string &device = options_.device;
	if (exists(device)) {
		origin_ = "already loaded";
		set_runtime_params();
		return;
	}
	if (exists("/sys/module/" + options_.module_name + "/initstate")) {
		// Loaded, but nothing made the device node yet (or it was removed).
		wait_for_device();
		origin_ = "already loaded";
		set_runtime_params();
		return;
	}
	if (!options_.module_path.empty())
		load_module_file();
	else
		load_with_modprobe();
	wait_for_device();
	// What a load's parameters do not say (hook_timing), and what a module of that name that was
	// there first may have set otherwise (EEXIST).
	set_runtime_params();
}

void LkmModule::load_module_file()
{
	const std::string &path = options_.module_path;
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		throw BackendError(
			fmt::format("{} does not exist and the module file {} cannot be opened: {}",
				    options_.device, path, errno_text(err)));
	}
	const std::string params = fmt::format("{}", fmt::join(module_params(options_), " "));
	long rc = syscall(SYS_finit_module, fd, params.c_str(), 0);
	int err = errno;
	::close(fd);
	if (rc == 0 && !exists("/sys/module/" + options_.module_name))
		throw BackendError(
			fmt::format("{} was loaded, but it is not {}.ko: no /sys/module/{} appeared; the "
				    "module it holds stays loaded (rmmod it by its own name)",
				    path, options_.module_name, options_.module_name));
	if (rc == 0) {
		loaded_ = true;
		origin_ = fmt::format("loaded by smithd from {}", path);
		spdlog::info("loaded {} with finit_module(\"{}\")", path, params);
		return;
	}
	if (err == EEXIST) {
		// Someone else loaded a module of that name since we looked: use it, leave it loaded.
		origin_ = "already loaded";
		spdlog::warn("{}: a module named {} is already loaded; using it", path, options_.module_name);
		return;
	}
	throw BackendError(
		fmt::format("{} does not exist and loading {} with finit_module(\"{}\") failed: {}: {}",
			    options_.device, path, params, errno_text(err), finit_module_advice(err)));
}

void LkmModule::load_with_modprobe()
{
	if (!exists("/proc/modules"))
		throw BackendError(
			fmt::format("{} does not exist and this kernel has no loadable module support "
				    "(no /proc/modules: built without CONFIG_MODULES), so smith.ko "
				    "cannot be loaded",
				    options_.device));

	std::vector<std::string> args = {"modprobe", options_.module_name};
	for (auto &p : module_params(options_))
		args.push_back(std::move(p));
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(a.data());
	argv.push_back(nullptr);
	const std::string command = fmt::format("{}", fmt::join(args, " "));

	// modprobe's own words (stdout and stderr) go into the error.
	int out[2];
	if (pipe2(out, O_CLOEXEC) != 0)
		throw BackendError(fmt::format("cannot run {}: pipe: {}", command, errno_text(errno)));
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
	pid_t pid = -1;
	int err = ENOENT;
	// systemd's PATH has sbin; a shell's may not.
	for (const char *path : {"/usr/sbin/modprobe", "/sbin/modprobe"})
		if (exists(path)) {
			err = posix_spawn(&pid, path, &actions, nullptr, argv.data(), environ);
			break;
		}
	if (pid < 0 && err == ENOENT)
		err = posix_spawnp(&pid, "modprobe", &actions, nullptr, argv.data(), environ);
	posix_spawn_file_actions_destroy(&actions);
	::close(out[1]);
	if (err != 0) {
		::close(out[0]);
		throw BackendError(fmt::format("{} does not exist and modprobe cannot be run: {}{}",
					       options_.device, errno_text(err),
					       err == ENOENT ? " (install kmod, or give smith.ko's path with "
							       "--lkm-module or lkm_module:)"
							     : ""));
	}
	std::string output;
	char buf[512];
	for (;;) {
		const ssize_t n = util::retry_eintr([&] { return ::read(out[0], buf, sizeof(buf)); });
		if (n <= 0)
			break;
		if (output.size() < 4096)
			output.append(buf, static_cast<size_t>(n));
	}
	::close(out[0]);
	int status = 0;
	util::retry_eintr([&] { return waitpid(pid, &status, 0); });
	while (!output.empty() && (output.back() == '\n' || output.back() == ' '))
		output.pop_back();
	for (auto &c : output)
		if (c == '\n')
			c = ' ';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		throw BackendError(fmt::format(
			"{} does not exist and `{}` failed ({}){}; install smith.ko (DKMS) or give its path "
			"with --lkm-module or lkm_module:",
			options_.device, command,
			WIFEXITED(status) ? fmt::format("exit {}", WEXITSTATUS(status))
					  : fmt::format("signal {}", WTERMSIG(status)),
			output.empty() ? "" : ": " + output));
	loaded_ = true;
	origin_ = "loaded by smithd with modprobe";
	spdlog::info("loaded smith.ko with `{}`", command);
}

void LkmModule::set_runtime_params()
{
	// Hook timing first: a module without the budget's parameters has none for it either.
	const std::string timing = fmt::format("/sys/module/{}/parameters/hook_timing", options_.module_name);
	util::UniqueFd timing_fd(::open(timing.c_str(), O_WRONLY | O_CLOEXEC));
	if (timing_fd.valid()) {
		const char *value = options_.hook_timing ? "1\n" : "0\n";
		if (::write(timing_fd.get(), value, 2) != 2)
			throw BackendError(fmt::format("cannot set {}: {}", timing, errno_text(errno)));
	} else if (options_.hook_timing) {
		spdlog::warn("{}.ko has no parameter hook_timing ({}): it is older than this smithd and its "
			     "hooks are not timed",
			     options_.module_name, errno_text(errno));
	}
	const std::pair<const char *, uint32_t> params[] = {
		{"connect_budget_rate", options_.connect_budget_rate},
		{"connect_budget_burst", options_.connect_budget_burst}};
	for (const auto &[name, value] : params) {
		const std::string path =
			fmt::format("/sys/module/{}/parameters/{}", options_.module_name, name);
		const std::string text = fmt::format("{}\n", value);
		util::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
		if (!fd.valid() && errno == ENOENT) {
			// A module from before the budget: it runs, and it says so.
			spdlog::warn("{}.ko is already loaded and has no parameter {}: it is older than this "
				     "smithd "
				     "and holds back no connect events (unload it to load the current one)",
				     options_.module_name, name);
			return;
		}
		if (!fd.valid() ||
		    ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
			throw BackendError(
				fmt::format("{}.ko is already loaded, and setting its parameter {} to {} "
					    "({}) failed: {}",
					    options_.module_name, name, value, path, errno_text(errno)));
	}
	spdlog::info("{}.ko was already loaded: set connect_budget_rate={} connect_budget_burst={}",
		     options_.module_name, options_.connect_budget_rate, options_.connect_budget_burst);
}

void LkmModule::wait_for_device()
{
	const std::string &device = options_.device;
	auto deadline = std::chrono::steady_clock::now() + kDeviceWait;
	while (!exists(device)) {
		if (std::chrono::steady_clock::now() >= deadline)
			break;
		std::this_thread::sleep_for(kDeviceWaitStep);
	}
	if (exists(device))
		return;

	// No udev or devtmpfs made the node: make it from the number sysfs gives.
	const std::string name = options_.module_name;
	const std::array<std::string, 2> candidates = {"/sys/class/misc/" + name + "/dev",
						       "/sys/class/" + name + "/" + name + "/dev"};
	for (const auto &sysfs : candidates) {
		std::ifstream in(sysfs);
		unsigned major_no = 0, minor_no = 0;
		char colon = 0;
		if (!(in >> major_no >> colon >> minor_no) || colon != ':')
			continue;
		if (::mknod(device.c_str(), S_IFCHR | 0600, makedev(major_no, minor_no)) != 0 &&
		    errno != EEXIST)
			throw BackendError(
				fmt::format("smith.ko is loaded but {} did not appear, and creating it "
					    "as char {}:{} (from {}) failed: {}",
					    device, major_no, minor_no, sysfs, errno_text(errno)));
		spdlog::warn("created {} as char {}:{} from {}: nothing else made the device node", device,
			     major_no, minor_no, sysfs);
		return;
	}
	throw BackendError(
		fmt::format("smith.ko is loaded but {} did not appear within {} s, and neither {} nor "
			    "{} gives its device number",
			    device, kDeviceWait.count(), candidates[0], candidates[1]));
}

void LkmModule::release()
{
	if (!loaded_)
		return;
	loaded_ = false;
	if (syscall(SYS_delete_module, options_.module_name.c_str(), O_NONBLOCK) != 0) {
		int err = errno;
		spdlog::warn("could not unload {}.ko, which smithd loaded: {}{}", options_.module_name,
			     errno_text(err), err == EWOULDBLOCK ? " (still in use)" : "");
		return;
	}
	spdlog::info("unloaded {}.ko", options_.module_name);
}

} // namespace smith::backend
