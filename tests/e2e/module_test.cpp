// init_module and finit_module: a module loaded both ways, also through the 32-bit entry, and a refused
// second load, reported with the module's name, file and parameters in every backend; on a kernel built
// without module support, both hooks are unavailable and say why.
#include "backends.h"
#include "compat32.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <vector>

using namespace smith::e2e;

TEST_CASE("module loads through init_module and finit_module are reported", "[e2e]")
{
	const auto ds = shared_daemons();
	if (!kernel_has_modules()) {
		// Nothing to hook: the calls fail with ENOSYS, and status says why the hooks are off.
		CHECK(syscall(SYS_finit_module, -1, "", 0) == -1);
		CHECK(errno == ENOSYS);
		for (Smithd *d : ds) {
			Status st = d->status();
			for (const char *hook : {"init_module", "finit_module"}) {
				INFO("[" << d->label() << "] " << hook << ": " << st.hook_state.at(hook)
					 << ": " << st.hook_reason.at(hook));
				CHECK(st.hook_state.at(hook) == "unavailable");
				CHECK(st.hook_reason.at(hook).find("module support") != std::string::npos);
			}
		}
		return;
	}
	if (access(test_module_ko().c_str(), R_OK) != 0)
		skip_test("no test module built for this kernel at " + test_module_ko() +
			  " (tests/vm builds it for each guest kernel)");
	const std::string path = real_path(test_module_ko());
	if (module_loaded(kTestModule))
		REQUIRE(unload_module(kTestModule) == 0);

	auto check_module_event = [&](const Event &e, const Smithd &d, const std::string &type,
				      const std::string &module_path, const std::string &params,
				      int64_t retval, bool compat = false) {
		check_common(e, type, d);
		check_inherited_context(e);
		CHECK(e.i64("pid") == getpid());
		CHECK(e.i64("tid") == gettid());
		CHECK(e.str("comm") == self_comm());
		CHECK(e.str("exe") == self_exe());
		CHECK(e.str("module_path") == module_path);
		CHECK(e.str("params") == params);
		CHECK(e.i64("retval") == retval);
		CHECK(e.boolean("compat") == compat);
	};

	SECTION("init_module")
	{
		const std::string params = "greeting=from-init_module";
		REQUIRE(load_module_from_memory(path, params) == 0);
		REQUIRE(module_loaded(kTestModule));
		expect_in_every_backend(
			"init_module of " + kTestModule,
			[&](const Event &e) { return e.type() == "init_module" && e.pid() == getpid(); },
			[&](const Event &e, const Smithd &d) {
				check_module_event(e, d, "init_module", "", params, 0);
				CHECK(e.str("module") == kTestModule);
			},
			getpid());
		CHECK(unload_module(kTestModule) == 0);
	}
	SECTION("finit_module, then a second load refused with -EEXIST")
	{
		const std::string params = "greeting=from-finit_module";
		REQUIRE(load_module_from_file(path, params) == 0);
		REQUIRE(module_loaded(kTestModule));
		REQUIRE(load_module_from_file(path, "greeting=again") == -EEXIST);
		expect_in_every_backend(
			"finit_module of " + path,
			[&](const Event &e) {
				return e.type() == "finit_module" && e.pid() == getpid() &&
				       e.i64("retval") == 0;
			},
			[&](const Event &e, const Smithd &d) {
				check_module_event(e, d, "finit_module", path, params, 0);
				CHECK(e.str("module") == kTestModule);
			},
			getpid());
		expect_in_every_backend(
			"refused finit_module of " + path,
			[&](const Event &e) {
				return e.type() == "finit_module" && e.pid() == getpid() &&
				       e.i64("retval") != 0;
			},
			[&](const Event &e, const Smithd &d) {
				check_module_event(e, d, "finit_module", path, "greeting=again", -EEXIST);
			},
			getpid());
		CHECK(unload_module(kTestModule) == 0);
	}
	SECTION("both calls through the 32-bit entry (int $0x80)")
	{
		std::ifstream f(path, std::ios::binary);
		const std::vector<char> image((std::istreambuf_iterator<char>(f)),
					      std::istreambuf_iterator<char>());
		REQUIRE(!image.empty());
		LowMem low(image.size() + (64 << 10));
		const uint32_t image32 = low.put(image.data(), image.size());

		const std::string init_params = "greeting=from-int80-init_module";
		REQUIRE(int80(kNr32InitModule, image32, static_cast<uint32_t>(image.size()),
			      low.str(init_params)) == 0);
		REQUIRE(module_loaded(kTestModule));
		expect_in_every_backend(
			"init_module of " + kTestModule + " through int $0x80",
			[&](const Event &e) {
				return e.type() == "init_module" && e.pid() == getpid() &&
				       e.str("params") == init_params;
			},
			[&](const Event &e, const Smithd &d) {
				check_module_event(e, d, "init_module", "", init_params, 0, true);
				CHECK(e.str("module") == kTestModule);
			},
			getpid());
		REQUIRE(unload_module(kTestModule) == 0);

		const std::string finit_params = "greeting=from-int80-finit_module";
		Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
		REQUIRE(fd.get() >= 0);
		REQUIRE(int80(kNr32FinitModule, static_cast<uint32_t>(fd.get()), low.str(finit_params), 0) ==
			0);
		REQUIRE(module_loaded(kTestModule));
		expect_in_every_backend(
			"finit_module of " + path + " through int $0x80",
			[&](const Event &e) {
				return e.type() == "finit_module" && e.pid() == getpid() &&
				       e.str("params") == finit_params;
			},
			[&](const Event &e, const Smithd &d) {
				check_module_event(e, d, "finit_module", path, finit_params, 0, true);
				CHECK(e.str("module") == kTestModule);
			},
			getpid());
		CHECK(unload_module(kTestModule) == 0);
	}
}
