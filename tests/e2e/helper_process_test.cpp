// What the kernel starts by itself: a process a kernel thread forks (call_usermodehelper: the modprobe
// of request_module(), core dump pipes) runs user code like any other, and its syscalls must be
// reported too. An unprivileged socket() of an unknown address family makes the kernel run its module
// loader. (3.10 leaves such processes out of the syscall tracepoints that smith.ko's sys_exit probe
// uses unless the module flags them.)
#include "backends.h"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

using namespace smith::e2e;

namespace {

constexpr int kUnknownFamily = 19; // AF_ECONET: no kernel has it since 3.5, so socket() asks for net-pf-19
constexpr const char *kModprobe = "/proc/sys/kernel/modprobe";

// Writes `value` to /proc/sys/kernel/modprobe, and puts the previous value back when destroyed.
class ModprobePath {
public:
	explicit ModprobePath(const std::string &value) : saved_(read_file(kModprobe))
	{
		std::ofstream(kModprobe) << value << "\n";
	}
	~ModprobePath() { std::ofstream(kModprobe) << saved_; }
	ModprobePath(const ModprobePath &) = delete;
	ModprobePath &operator=(const ModprobePath &) = delete;

private:
	std::string saved_; // with its newline
};

} // namespace

TEST_CASE("attack: a module loaded by the kernel's own modprobe helper is reported", "[e2e][attack]")
{
	const auto ds = shared_daemons();
	if (!kernel_has_modules() || access(kModprobe, W_OK) != 0) {
		// No loadable modules: the kernel starts no module loader (module_test.cpp checks the hooks).
		CHECK(access(kModprobe, F_OK) != 0);
		return;
	}
	if (access(test_module_ko().c_str(), R_OK) != 0)
		skip_test("no test module built for this kernel at " + test_module_ko() +
			  " (tests/vm builds it for each guest kernel)");
	const std::string module = real_path(test_module_ko());
	const std::string params = "greeting=from-usermode-helper";
	if (module_loaded(kTestModule))
		REQUIRE(unload_module(kTestModule) == 0);

	// The module loader the kernel runs: a script that loads the test module with insmod.
	TempDir dir("smith-e2e-modprobe-");
	const std::string script = dir.file("modprobe");
	const std::string insmod = access("/sbin/insmod", X_OK) == 0 ? "/sbin/insmod" : "/bin/insmod";
	REQUIRE(access(insmod.c_str(), X_OK) == 0);
	std::ofstream(script) << "#!/bin/sh\nexec " << insmod << " " << module << " " << params << "\n";
	REQUIRE(chmod(script.c_str(), 0755) == 0);
	{
		ModprobePath modprobe(script);
		// socket() waits for the loader, then fails: the family stays unknown.
		CHECK(socket(kUnknownFamily, SOCK_STREAM, 0) == -1);
	}
	REQUIRE(module_loaded(kTestModule));

	expect_in_every_backend(
		"the load of " + kTestModule + " by the kernel's modprobe helper",
		[&](const Event &e) {
			return (e.type() == "init_module" || e.type() == "finit_module") &&
			       e.pid() != getpid() && e.str("module") == kTestModule && e.i64("retval") == 0;
		},
		[&](const Event &e, const Smithd &d) {
			const bool finit = e.type() == "finit_module";
			check_common(e, e.type(), d);
			CHECK(e.i64("ppid") != getpid()); // a child of a kernel thread, not of this test
			CHECK(e.i64("uid") == 0);
			CHECK(e.str("comm") == "insmod");
			CHECK(e.str("exe") == real_path(insmod));
			CHECK(e.str("module_path") == (finit ? module : ""));
			// busybox's insmod passes its arguments with a space after each
			CHECK((e.str("params") == params || e.str("params") == params + " "));
			CHECK(e.i64("retval") == 0);
		},
		-1);
	CHECK(unload_module(kTestModule) == 0);
}
