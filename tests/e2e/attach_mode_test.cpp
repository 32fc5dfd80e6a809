// How the eBPF backend hooks the syscalls. Where the kernel allows BPF trampolines it puts fexit
// programs on the functions behind execve, execveat, connect, init_module and finit_module, so that
// no other syscall pays; elsewhere it falls back to the raw sys_exit tracepoint, which every syscall
// returns through. Either mode can be forced (--bpf-attach); a forced fexit the kernel refuses is a
// start error. Status and the log say which mode each hook uses, and both modes report the same
// events. (The rest of the suite runs in the mode auto picks: fexit in the guests, sys_exit where
// the kernel refuses trampolines.) Auto is checked on the shared ebpf daemon, which runs with it:
// tests/CMakeLists.txt lists this file before shutdown_test.cpp. The forced modes start their own.
#include "backends.h"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

using namespace smith::e2e;

namespace {

const char *const kSyscallHooks[] = {"execve", "execveat", "connect", "init_module", "finit_module"};

// Checks each attached syscall hook's attach mode, and fork's.
void check_modes(const Smithd &d, const std::string &mode)
{
	const Status st = d.status();
	for (const char *hook : kSyscallHooks) {
		INFO("[" << d.label() << "] hook " << hook << ": " << st.hook_state.at(hook));
		if (st.hook_state.at(hook) != "attached")
			continue; // a syscall this kernel lacks: status_test checks the reason
		CHECK(st.hook_attach.at(hook) == mode);
	}
	CHECK(st.hook_attach.at("fork") == "tp_btf");
	const std::string log = d.log();
	INFO(log);
	CHECK(log.find("hook connect attached (" + mode + "): ") != std::string::npos);
	if (mode == "fexit") {
		CHECK(log.find("fexit/__x64_sys_connect") != std::string::npos);
		CHECK(log.find("tp_btf/sys_exit") == std::string::npos);
	} else {
		CHECK(log.find("tp_btf/sys_exit") != std::string::npos);
		CHECK(log.find("fexit/") == std::string::npos);
	}
}

// A UDP connect and a failed execve, each reported with its exact fields by `d`.
void check_events(Smithd &d)
{
	Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	REQUIRE(s.get() >= 0);
	REQUIRE(connect_to(s.get(), AF_INET, "127.0.0.1", 9) == 0);
	const uint16_t sport = local_endpoint(s.get()).port;
	const Event c = d.wait_for(
		"udp connect to 127.0.0.1:9 from port " + std::to_string(sport),
		[sport](const Event &e) {
			return e.type() == "connect" && e.i64("sport") == sport && stamped_in_this_test(e);
		},
		event_timeout(), getpid());
	CHECK(c.pid() == getpid());
	CHECK(c.str("daddr") == "127.0.0.1");
	CHECK(c.i64("dport") == 9);
	CHECK(c.str("protocol") == "udp");
	CHECK(c.i64("retval") == 0);

	const std::string missing = "/nonexistent/smith-attach-" + std::to_string(getpid());
	char *argv[] = {const_cast<char *>(missing.c_str()), nullptr};
	char *envp[] = {nullptr};
	REQUIRE(execve(missing.c_str(), argv, envp) == -1);
	REQUIRE(errno == ENOENT);
	const Event x = d.wait_for(
		"failed execve of " + missing,
		[&](const Event &e) { return e.type() == "execve" && e.str("filename") == missing; },
		event_timeout(), getpid());
	CHECK(x.pid() == getpid());
	CHECK(x.i64("retval") == -ENOENT);
	CHECK(x.strings("argv") == std::vector<std::string>{missing});
}

SmithdOptions ebpf_options(const std::string &label, const std::vector<std::string> &extra)
{
	SmithdOptions o;
	o.label = label;
	o.backend = "ebpf";
	o.extra = extra;
	return o;
}

void skip_without_ebpf()
{
	require_root();
	if (!testing_backend("ebpf"))
		skip_test("the ebpf backend is not under test here (SMITH_TEST_BACKENDS)");
}

} // namespace

TEST_CASE("attach: auto hooks the syscalls with fexit where the kernel allows trampolines, else sys_exit",
	  "[e2e][attach][ebpf]")
{
	skip_without_ebpf();
	const std::string mode = kernel_allows_trampolines() ? "fexit" : "sys_exit";
	INFO("this kernel: " << mode);
	Smithd *shared = nullptr;
	for (Smithd *d : shared_daemons())
		if (d->label() == "ebpf")
			shared = d;
	REQUIRE(shared != nullptr);
	Smithd &d = *shared;
	REQUIRE(d.options().backend == "auto");
	check_modes(d, mode);
	check_events(d);
	if (mode == "sys_exit")
		CHECK(d.log().find("BPF trampolines unavailable (") != std::string::npos);
}

TEST_CASE("attach: --bpf-attach=sys_exit is honoured and reports the same events", "[e2e][attach][ebpf]")
{
	skip_without_ebpf();
	Smithd d(ebpf_options("sys-exit", {"--bpf-attach=sys_exit"}));
	check_modes(d, "sys_exit");
	check_events(d);
}

TEST_CASE("attach: --bpf-attach=fexit runs where the kernel allows trampolines, else exits 1 saying why",
	  "[e2e][attach][ebpf]")
{
	skip_without_ebpf();
	if (kernel_allows_trampolines()) {
		Smithd d(ebpf_options("fexit", {"--bpf-attach=fexit"}));
		check_modes(d, "fexit");
		check_events(d);
		return;
	}
	Smithd d(ebpf_options("fexit-refused", {"--bpf-attach=fexit"}), false);
	int code = -1;
	for (int i = 0; i < 600 && !d.exited(&code); ++i)
		std::this_thread::sleep_for(50ms);
	const std::string log = d.log();
	INFO(log);
	CHECK(code == 1);
	CHECK(log.find("smithd: bpf_attach is fexit, but the kernel refuses to ") != std::string::npos);
}
