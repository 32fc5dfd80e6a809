#include "backend/lkm_backend.h"
#include "util/fd.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

extern char **environ;

namespace smith::backend {
namespace {

namespace fs = std::filesystem;

// How long udev or devtmpfs gets to create the device node after a load.
constexpr auto kDeviceWait = std::chrono::seconds(2);
constexpr auto kDeviceWaitStep = std::chrono::milliseconds(20);

std::string errno_text(int err)
{
	return fmt::format("{} (errno {})", std::strerror(err), err);
}

bool exists(const std::string &path)
{
	std::error_code ec;
	return fs::exists(path, ec);
}

// " (held by pid 812 smithd)" for the processes that have `device` open, or "".
std::string device_holders(const std::string &device)
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

} // namespace

LkmBackend::LkmBackend(LkmOptions options) : options_(std::move(options)) {}

LkmBackend::~LkmBackend()
{
	stop();
}

void LkmBackend::start()
{
	if (fd_ >= 0)
		return;
	origin_.clear();
	// A start that fails leaves nothing behind: no mapping, no open device,
	// and no module that this smithd loaded.
	try {
		ensure_module();
		open_and_map();
		const auto armed = info_->hooks_armed;
		if ((armed & ((1u << SMITH_HOOK_MAX) - 1)) == 0) {
			std::string states;
			for (const auto &h : hooks())
				states += fmt::format("{}{}: {} ({})", states.empty() ? "" : "; ", h.name,
						      h.state, h.reason);
			throw BackendError(fmt::format("smith.ko armed no hook: {}", states));
		}
	} catch (...) {
		stop();
		throw;
	}
	for (const auto &h : hooks()) {
		if (h.state == "attached")
			spdlog::info("hook {} attached", h.name);
		else
			spdlog::warn("hook {} {}: {}", h.name, h.state, h.reason);
	}
}

void LkmBackend::ensure_module()
{
	const std::string &device = options_.device;
	if (exists(device)) {
		origin_ = "already loaded";
		return;
	}
	if (exists("/sys/module/" + options_.module_name + "/initstate")) {
		// Loaded, but nothing made the device node yet (or it was removed).
		wait_for_device();
		origin_ = "already loaded";
		return;
	}
	if (!options_.module_path.empty())
		load_module_file();
	else
		load_with_modprobe();
	wait_for_device();
}

void LkmBackend::load_module_file()
{
	const std::string &path = options_.module_path;
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		throw BackendError(
			fmt::format("{} does not exist and the module file {} cannot be opened: {}",
				    options_.device, path, errno_text(err)));
	}
	const std::string params = options_.ring_kb ? fmt::format("ring_kb={}", options_.ring_kb) : "";
	long rc = syscall(SYS_finit_module, fd, params.c_str(), 0);
	int err = errno;
	::close(fd);
	if (rc == 0 && !exists("/sys/module/" + options_.module_name))
		throw BackendError(
			fmt::format("{} was loaded, but it is not {}.ko: no /sys/module/{} appeared; the "
				    "module it holds stays loaded (rmmod it by its own name)",
				    path, options_.module_name, options_.module_name));
	if (rc == 0) {
		loaded_module_ = true;
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

void LkmBackend::load_with_modprobe()
{
	if (!exists("/proc/modules"))
		throw BackendError(
			fmt::format("{} does not exist and this kernel has no loadable module support "
				    "(no /proc/modules: built without CONFIG_MODULES), so smith.ko "
				    "cannot be loaded",
				    options_.device));

	std::vector<std::string> args = {"modprobe", options_.module_name};
	if (options_.ring_kb)
		args.push_back(fmt::format("ring_kb={}", options_.ring_kb));
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
	loaded_module_ = true;
	origin_ = "loaded by smithd with modprobe";
	spdlog::info("loaded smith.ko with `{}`", command);
}

void LkmBackend::wait_for_device()
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

void LkmBackend::open_and_map()
{
	const std::string &device = options_.device;
	fd_ = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
	if (fd_ < 0) {
		int err = errno;
		switch (err) {
		case EBUSY:
			throw BackendError(
				fmt::format("another reader has {} open{}; smith.ko serves one reader at "
					    "a time (is another smithd running?)",
					    device, device_holders(device)));
		case EACCES:
		case EPERM:
			throw BackendError(fmt::format("cannot open {}: {} (smithd needs root)", device,
						       errno_text(err)));
		case ENXIO:
		case ENODEV:
			throw BackendError(
				fmt::format("cannot open {}: {}: no driver answers the device node "
					    "(a stale node left after smith.ko was unloaded?)",
					    device, errno_text(err)));
		default: throw BackendError(fmt::format("cannot open {}: {}", device, errno_text(err)));
		}
	}

	// Page 0 says how much to map.
	const long page = sysconf(_SC_PAGESIZE);
	void *first = mmap(nullptr, static_cast<size_t>(page), PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
	if (first == MAP_FAILED)
		throw BackendError(fmt::format("cannot map the info page of {} ({} bytes): {}", device, page,
					       errno_text(errno)));
	smith_lkm_info info;
	std::memcpy(&info, first, sizeof(info));
	munmap(first, static_cast<size_t>(page));
	try {
		lkm_check_info(info, static_cast<uint64_t>(page));
	} catch (const BackendError &e) {
		throw BackendError(fmt::format("{}: {}", device, e.what()));
	}

	map_ = mmap(nullptr, info.map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
	if (map_ == MAP_FAILED) {
		map_ = nullptr;
		throw BackendError(fmt::format("cannot map {} ({} rings of {} bytes, {} bytes in all): {}",
					       device, info.nr_rings, info.ring_bytes, info.map_bytes,
					       errno_text(errno)));
	}
	map_bytes_ = info.map_bytes;
	info_ = static_cast<smith_lkm_info *>(map_);

	auto *base = static_cast<std::byte *>(map_);
	rings_.reserve(info.nr_rings);
	for (uint32_t i = 0; i < info.nr_rings; i++) {
		std::byte *ring = base + info.ring_offset + uint64_t{i} * info.ring_stride;
		rings_.emplace_back(reinterpret_cast<smith_lkm_ring_ctl *>(ring), ring + info.page_size,
				    info.ring_bytes, i);
	}
	for (unsigned h = 0; h < SMITH_HOOK_MAX; h++) {
		drops_at_open_[h] = 0;
		for (const auto &ring : rings_)
			drops_at_open_[h] += ring.drops(h);
	}

	const std::string version = lkm_module_version(info);
	origin_ = fmt::format("smith.ko {} ({})", version.empty() ? "(no version)" : version, origin_);
	spdlog::info("lkm: {}: {} rings of {} KiB mapped from {}", origin_, info.nr_rings,
		     info.ring_bytes / 1024, device);
	if (options_.ring_kb && options_.ring_kb != info.ring_bytes / 1024)
		spdlog::warn("lkm_ring_kb {} not applied: smith.ko was already loaded with rings of {} KiB; "
			     "unload it (rmmod smith) for the setting to take effect",
			     options_.ring_kb, info.ring_bytes / 1024);
}

long LkmBackend::poll(std::chrono::milliseconds timeout, RecordHandler &handler)
{
	if (fd_ < 0)
		throw BackendError("lkm backend polled before start");
	if (!detached_) {
		pollfd p{fd_, POLLIN, 0};
		int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
		if (r < 0 && errno != EINTR)
			throw BackendError(
				fmt::format("poll on {} failed: {}", options_.device, errno_text(errno)));
		if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
			throw BackendError(fmt::format("{} reported {}{}{}", options_.device,
						       p.revents & POLLERR ? "POLLERR " : "",
						       p.revents & POLLHUP ? "POLLHUP " : "",
						       p.revents & POLLNVAL ? "POLLNVAL " : ""));
	}
	// Every ring, woken or not: the module wakes the reader in batches, and
	// an idle wait should not leave records behind for another timeout.
	long delivered = 0;
	for (auto &ring : rings_)
		delivered += ring.drain(handler);
	return delivered;
}

std::vector<control::HookStatus> LkmBackend::hooks() const
{
	if (!info_)
		return {};
	auto bits = [](__u32 &field) {
		return std::atomic_ref<__u32>(field).load(std::memory_order_relaxed);
	};
	const uint32_t armed = bits(info_->hooks_armed);
	const uint32_t disabled = bits(info_->hooks_disabled);
	const uint32_t failed = bits(info_->hooks_failed);
	std::vector<control::HookStatus> out(SMITH_HOOK_MAX);
	for (unsigned h = 0; h < SMITH_HOOK_MAX; h++) {
		auto &s = out[h];
		s.name = control::kHookNames[h];
		const uint32_t bit = 1u << h;
		if (armed & bit) {
			s.state = detached_ ? "detached" : "attached";
			if (detached_)
				s.reason = "smithd is stopping";
		} else if (failed & bit) {
			s.state = "failed";
			s.reason = "probe failed to register (the kernel log says why)";
		} else if (disabled & bit) {
			s.state = "disabled";
			s.reason = "disabled by module parameter";
		} else {
			s.state = "unavailable";
			s.reason = "smith.ko did not arm it";
		}
		for (const auto &ring : rings_)
			s.kernel_drops += ring.drops(h);
		s.kernel_drops -= std::min(s.kernel_drops, drops_at_open_[h]);
	}
	return out;
}

void LkmBackend::detach()
{
	if (fd_ < 0 || detached_)
		return;
	for (auto &ring : rings_)
		ring.freeze();
	detached_ = true;
}

void LkmBackend::stop()
{
	rings_.clear();
	info_ = nullptr;
	if (map_) {
		munmap(map_, map_bytes_);
		map_ = nullptr;
		map_bytes_ = 0;
	}
	if (fd_ >= 0) {
		::close(fd_); // the module disarms its hooks when its last reader goes
		fd_ = -1;
	}
	detached_ = false;
	if (!loaded_module_)
		return;
	loaded_module_ = false;
	if (syscall(SYS_delete_module, options_.module_name.c_str(), O_NONBLOCK) != 0) {
		int err = errno;
		spdlog::warn("could not unload {}.ko, which smithd loaded: {}{}", options_.module_name,
			     errno_text(err), err == EWOULDBLOCK ? " (still in use)" : "");
		return;
	}
	spdlog::info("unloaded {}.ko", options_.module_name);
}

} // namespace smith::backend
