// smith.ko under stress, in the guests ([lkm][stress]): what must not destabilise a kernel. Loading,
// reading and unloading over and over while execs and connects run; rmmod while connects are blocked
// inside connect(2), whose exit the module's sys_exit probe watches; a reader killed with SIGKILL
// mid-stream. The guest's kernel log is then checked for oopses, BUGs, WARNINGs, soft lockups and hung
// tasks (tests/vm/console-verdict.sh), and no probe of smith's may be left in the kernel's kprobe list
// once the module is gone (its kprobe on tcp_set_state where the kernel has no inet_sock_set_state, and
// none of the kretprobes earlier versions put on the syscalls).
#include "backends.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <iostream>
#include <thread>

using namespace smith::e2e;

namespace {

// Execs of /bin/true and UDP connects in a loop, from a thread, until destroyed. Asserts nothing.
class Churn {
public:
	Churn()
	{
		thread_ = std::thread([this] {
			while (!stop_) {
				pid_t child = spawn(
					[] { execl("/bin/true", "/bin/true", "smith-stress", nullptr); });
				if (child > 0 && wait_exit(child) == 0)
					execs_++;
				Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
				if (s.valid() && connect_to(s.get(), AF_INET, "127.0.0.1", 9) == 0)
					connects_++;
			}
		});
	}
	~Churn()
	{
		stop_ = true;
		thread_.join();
	}
	uint64_t execs() const { return execs_; }
	uint64_t connects() const { return connects_; }

private:
	std::atomic<bool> stop_{false};
	std::atomic<uint64_t> execs_{0}, connects_{0};
	std::thread thread_;
};

// The kprobes the kernel still has registered where smith.ko probes or once probed (debugfs), or "" when
// none.
std::string leftover_probes()
{
	std::ifstream list("/sys/kernel/debug/kprobes/list");
	std::string out;
	for (std::string line; std::getline(list, line);)
		for (const char *symbol : {"tcp_set_state", "sys_execve", "sys_execveat", "sys_connect",
					   "sys_init_module", "sys_finit_module"})
			if (line.find(symbol) != std::string::npos)
				out += line + "\n";
	return out;
}

// Whether smith.ko's probe on tcp_set_state (kernels without inet_sock_set_state) is in the list.
bool tcp_set_state_probed()
{
	std::ifstream list("/sys/kernel/debug/kprobes/list");
	for (std::string line; std::getline(list, line);)
		if (line.find("tcp_set_state") != std::string::npos)
			return true;
	return false;
}

bool have_kprobe_list()
{
	return access("/sys/kernel/debug/kprobes/list", R_OK) == 0;
}

// smithd --backend=lkm over a smith.ko this test loaded.
SmithdOptions lkm_options(const std::string &label)
{
	SmithdOptions o = daemon_options("lkm");
	o.label = label;
	return o;
}

// Whether (single-threaded) process `pid` is inside connect(2) (/proc/PID/syscall: x86_64 number 42).
bool in_connect(pid_t pid)
{
	std::ifstream f("/proc/" + std::to_string(pid) + "/syscall");
	long nr = -1;
	return f >> nr && nr == 42;
}

void ensure_unloaded()
{
	if (module_loaded("smith"))
		REQUIRE(unload_module("smith") == 0);
}

} // namespace

TEST_CASE("lkm stress: ten cycles of load, read and unload while execs and connects run",
	  "[e2e][lkm][stress]")
{
	require_root();
	ensure_unloaded();
	REQUIRE(have_kprobe_list());
	Churn churn;
	for (int cycle = 1; cycle <= 10; ++cycle) {
		INFO("cycle " << cycle);
		REQUIRE(load_module_from_file(smith_ko(), "ring_kb=64") == 0);
		{
			Smithd d(lkm_options("lkm-cycle-" + std::to_string(cycle)));
			const uint64_t before = churn.execs();
			while (churn.execs() < before + 3)
				std::this_thread::sleep_for(20ms);
			CHECK(d.find([](const Event &e) { return e.type() == "execve"; }, event_timeout())
				      .has_value());
			// Armed: the kprobe on tcp_set_state is there exactly when the kernel has no
			// inet_sock_set_state tracepoint to use instead.
			if (access("/sys/kernel/debug/tracing/events/sock", F_OK) == 0)
				CHECK(tcp_set_state_probed() ==
				      (access("/sys/kernel/debug/tracing/events/sock/inet_sock_set_state",
					      F_OK) != 0));
			CHECK(d.terminate() == 0);
		}
		const int r = unload_module("smith");
		INFO("delete_module(smith) returned " << r);
		REQUIRE(r == 0);
		CHECK(leftover_probes() == "");
	}
	std::cout << "e2e: lkm stress: 10 load/read/unload cycles under " << churn.execs() << " execs and "
		  << churn.connects() << " connects" << std::endl;
}

TEST_CASE("lkm stress: rmmod while connects are blocked in connect(2)", "[e2e][lkm][stress]")
{
	require_root();
	ensure_unloaded();
	REQUIRE(load_module_from_file(smith_ko(), "") == 0);

	// A listener whose socket filter drops every SYN: the connects wait in the kernel for the SYN
	// retries (about two minutes) on every kernel, until they are killed.
	Fd listener(syn_dropping_listener());
	REQUIRE(listener.valid());
	const uint16_t port = local_endpoint(listener.get()).port;

	constexpr int kBlocked = 8;
	std::vector<pid_t> blocked;
	{
		Smithd d(lkm_options("lkm-blocked-connects"));
		for (int i = 0; i < kBlocked; ++i)
			blocked.push_back(spawn([port] {
				int s = socket(AF_INET, SOCK_STREAM, 0);
				const int r = connect_to(s, AF_INET, "127.0.0.1", port);
				_exit(r == 0 ? 0 : 1);
			}));
		int waiting = 0;
		for (int i = 0; i < 600 && waiting < kBlocked; ++i) {
			std::this_thread::sleep_for(100ms);
			waiting = 0;
			for (pid_t p : blocked)
				waiting += in_connect(p);
		}
		INFO(waiting << " of " << kBlocked << " connects blocked");
		REQUIRE(waiting == kBlocked);
		// The reader holds the module: refused, whatever runs in it.
		const int refused = unload_module("smith");
		INFO("delete_module(smith) with a reader returned " << refused);
		CHECK((refused == -EAGAIN || refused == -EBUSY));
		CHECK(d.terminate() == 0);
	}
	// The reader is gone; the connects are still in the kernel, inside connect(2).
	for (pid_t p : blocked)
		CHECK(in_connect(p));
	const int r = unload_module("smith");
	INFO("delete_module(smith) with " << blocked.size() << " connects in flight returned " << r);
	REQUIRE(r == 0);
	CHECK(!module_loaded("smith"));
	if (have_kprobe_list())
		CHECK(leftover_probes() == "");
	// They return through a sys_exit tracepoint that no longer calls smith: the calls come back when
	// killed, and the kernel lives.
	for (pid_t p : blocked) {
		CHECK(in_connect(p));
		kill(p, SIGKILL);
		CHECK(wait_exit(p, 60s) == 128 + SIGKILL);
	}
	pid_t child = spawn([] { execl("/bin/true", "/bin/true", "after-blocked-rmmod", nullptr); });
	CHECK(wait_exit(child) == 0);
}

TEST_CASE("lkm stress: a reader killed with SIGKILL mid-stream leaves a module that unloads and serves again",
	  "[e2e][lkm][stress]")
{
	require_root();
	ensure_unloaded();
	REQUIRE(load_module_from_file(smith_ko(), "ring_kb=64") == 0);
	{
		Churn churn;
		Smithd d(lkm_options("lkm-killed"));
		const uint64_t before = churn.connects();
		while (churn.connects() < before + 200)
			std::this_thread::sleep_for(10ms);
		REQUIRE(kill(d.pid(), SIGKILL) == 0);
		int code = 0;
		for (int i = 0; i < 100 && !d.exited(&code); ++i)
			std::this_thread::sleep_for(50ms);
		CHECK(code == 128 + SIGKILL);
		// The kernel closed its device: another reader can have it, and reads the churn.
		Smithd again(lkm_options("lkm-after-kill"));
		CHECK(again.find([](const Event &e) { return e.type() == "connect"; }, event_timeout())
			      .has_value());
		CHECK(again.terminate() == 0);
	}
	const int r = unload_module("smith");
	INFO("delete_module(smith) returned " << r);
	CHECK(r == 0);
	if (have_kprobe_list())
		CHECK(leftover_probes() == "");
}
