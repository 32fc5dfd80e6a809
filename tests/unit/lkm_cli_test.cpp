// smithd's kernel-module settings through the real binary: --lkm-module,
// lkm_module: and lkm_ring_kb: are checked like every other setting, and on a
// kernel that cannot host smith.ko (this host: no module support)
// --backend=lkm fails with one line that says why.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace {

struct Result {
	int code = -1;
	std::string output; // stdout and stderr together
};

// Runs `smithd ARGS` from the directory `cwd`.
Result run(const std::string &args, const std::string &cwd = "/")
{
	std::string cmd = "cd '" + cwd + "' && " + std::string(SMITHD_PATH) + " " + args + " 2>&1";
	Result r;
	FILE *p = popen(cmd.c_str(), "r");
	REQUIRE(p != nullptr);
	std::array<char, 4096> buf;
	size_t n;
	while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
		r.output.append(buf.data(), n);
	int status = pclose(p);
	r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return r;
}

struct TempDir {
	std::filesystem::path dir;
	TempDir()
	{
		char tmpl[] = "/tmp/smith-lkm-cli-XXXXXX";
		dir = mkdtemp(tmpl);
	}
	~TempDir() { std::filesystem::remove_all(dir); }
	std::string operator/(const char *name) const { return (dir / name).string(); }
};

bool exists(const char *path)
{
	std::error_code ec;
	return std::filesystem::exists(path, ec);
}

std::string slurp(const std::string &path)
{
	std::ifstream in(path);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

} // namespace

TEST_CASE("smithd: --help lists --lkm-module", "[unit][cli][lkm]")
{
	auto h = run("--help");
	CHECK(h.code == 0);
	CHECK_THAT(h.output, Catch::Contains("--lkm-module"));
}

TEST_CASE("smithd: lkm settings in the config are checked with file and line", "[unit][cli][lkm]")
{
	TempDir tmp;
	std::ofstream(tmp / "kb.yaml") << "backend: lkm\nlkm_ring_kb: 100\n";
	auto kb = run("--foreground --config " + (tmp / "kb.yaml"));
	CHECK(kb.code == 1);
	CHECK_THAT(kb.output, Catch::Contains("kb.yaml:2") && Catch::Contains("lkm_ring_kb 100") &&
				      Catch::Contains("power of two from 64 to 1048576"));

	std::ofstream(tmp / "small.yaml") << "lkm_ring_kb: 32\n";
	auto small = run("--foreground --config " + (tmp / "small.yaml"));
	CHECK(small.code == 1);
	CHECK_THAT(small.output, Catch::Contains("small.yaml:1") && Catch::Contains("lkm_ring_kb 32"));

	std::ofstream(tmp / "type.yaml") << "sink: file\nlkm_ring_kb: [1, 2]\n";
	auto type = run("--foreground --config " + (tmp / "type.yaml"));
	CHECK(type.code == 1);
	CHECK_THAT(type.output, Catch::Contains("type.yaml:2") && Catch::Contains("'lkm_ring_kb'") &&
					Catch::Contains("wrong type"));

	std::ofstream(tmp / "relative.yaml") << "lkm_module: lkm/smith.ko\n";
	auto relative = run("--foreground --config " + (tmp / "relative.yaml"));
	CHECK(relative.code == 1);
	CHECK_THAT(relative.output, Catch::Contains("relative.yaml:1") && Catch::Contains("'lkm_module'") &&
					    Catch::Contains("absolute path"));

	std::ofstream(tmp / "map.yaml") << "lkm_module:\n  path: /x\n";
	auto map = run("--foreground --config " + (tmp / "map.yaml"));
	CHECK(map.code == 1);
	CHECK_THAT(map.output, Catch::Contains("map.yaml:2") && Catch::Contains("'lkm_module'"));
}

TEST_CASE("smithd: --backend=lkm on a kernel that cannot load smith.ko fails with the reason",
	  "[unit][cli][lkm]")
{
	if (exists("/dev/smith")) {
		WARN("smith.ko is loaded here (/dev/smith exists): the failure paths cannot be seen");
		return;
	}
	const bool no_modules = !exists("/proc/modules");
	TempDir tmp;
	const std::string common = "--foreground --config /dev/null --sink file --output " +
				   (tmp / "out.json") + " --socket " + (tmp / "s.sock") + " --pid-file " +
				   (tmp / "s.pid") + " --backend=lkm";

	// modprobe, the default.
	auto modprobe = run(common);
	INFO(modprobe.output);
	CHECK(modprobe.code == 1);
	CHECK_THAT(modprobe.output, Catch::Contains("smithd: --backend=lkm: /dev/smith does not exist"));
	if (no_modules)
		CHECK_THAT(modprobe.output, Catch::Contains("no loadable module support"));

	// A module file that is not there.
	auto missing = run(common + " --lkm-module " + (tmp / "smith.ko"));
	INFO(missing.output);
	CHECK(missing.code == 1);
	CHECK_THAT(missing.output,
		   Catch::Contains("module file " + (tmp / "smith.ko") + " cannot be opened") &&
			   Catch::Contains("No such file or directory"));

	// A file that is there: finit_module itself answers. A relative path is taken from the working
	// directory.
	std::ofstream(tmp / "smith.ko") << "not a module\n";
	auto load = run(common + " --lkm-module smith.ko", tmp.dir.string());
	INFO(load.output);
	CHECK(load.code == 1);
	CHECK_THAT(load.output, Catch::Contains("loading " + (tmp / "smith.ko") + " with finit_module"));
	if (no_modules)
		CHECK_THAT(load.output,
			   Catch::Contains("errno 38") && Catch::Contains("no loadable module support"));
	CHECK_FALSE(exists((tmp / "s.pid").c_str()));
}

TEST_CASE("smithd: --backend=auto still picks ebpf where the kernel has BTF", "[unit][cli][lkm][root]")
{
	if (geteuid() != 0 || !exists("/sys/kernel/btf/vmlinux")) {
		WARN("needs root and kernel BTF to load the BPF programs");
		return;
	}
	TempDir tmp;
	const std::string log = tmp / "smithd.log";
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		std::string out = tmp / "out.json", sock = tmp / "s.sock", pidf = tmp / "s.pid";
		int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execl(SMITHD_PATH, SMITHD_PATH, "--foreground", "--config", "/dev/null", "--backend=auto",
		      "--lkm-module", "/nonexistent/smith.ko", "--output", out.c_str(), "--socket",
		      sock.c_str(), "--pid-file", pidf.c_str(), nullptr);
		_exit(127);
	}
	// Running once the pid file is written; up to 60 s for the programs to load.
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
	int status = 0;
	bool exited = false;
	while (!exists((tmp / "s.pid").c_str()) && std::chrono::steady_clock::now() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			exited = true;
			break;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	if (!exited) {
		kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
	}
	const std::string output = slurp(log);
	INFO(output);
	CHECK_FALSE(exited);
	CHECK(WIFEXITED(status));
	CHECK(WEXITSTATUS(status) == 0);
	CHECK_THAT(output, Catch::Contains("backend ebpf: auto: kernel has BTF and the BPF ring buffer"));
	CHECK_THAT(output, !Catch::Contains("smith.ko"));
}
