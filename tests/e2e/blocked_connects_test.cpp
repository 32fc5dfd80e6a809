// Calls held blocked in the kernel: a local user who keeps a thousand connects waiting inside the kernel
// must not blind a collector to everyone else's connects and execs. A hook that follows each call from
// entry to exit with a bounded pool of slots (a kretprobe's maxactive) runs out and misses later calls;
// what smith's hooks keep per call in flight (a blocked TCP connect's socket) is evicted, never refused.
#include "backends.h"

#include <catch2/catch.hpp>

#include <dirent.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

using namespace smith::e2e;

namespace {

constexpr int kThreads = 1200; // connects started, each in a thread of its own
constexpr int kBlocked = 1000; // of which at least this many must be waiting in the kernel

// The child: kThreads threads with small stacks, each a blocking connect to 127.0.0.1:port; then it waits
// to be killed. Runs in a forked copy of this program: only raw syscalls and pthreads.
[[noreturn]] void hold_connects(uint16_t port)
{
	rlimit files{static_cast<rlim_t>(kThreads + 64), static_cast<rlim_t>(kThreads + 64)};
	if (setrlimit(RLIMIT_NOFILE, &files) != 0)
		_exit(2);
	static uint16_t dport;
	dport = port;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (int i = 0; i < kThreads; ++i) {
		pthread_t t;
		auto body = [](void *) -> void * {
			int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			sockaddr_in to{};
			to.sin_family = AF_INET;
			to.sin_port = htons(dport);
			to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			connect(s, reinterpret_cast<const sockaddr *>(&to), sizeof to);
			for (;;)
				pause();
		};
		if (pthread_create(&t, &attr, body, nullptr) != 0)
			_exit(3);
	}
	for (;;)
		pause();
}

// Threads of `pid` inside connect(2) (x86_64 number 42), from /proc/PID/task/*/syscall.
int threads_in_connect(pid_t pid)
{
	const std::string dir = "/proc/" + std::to_string(pid) + "/task";
	DIR *d = opendir(dir.c_str());
	if (!d)
		return 0;
	int n = 0;
	while (dirent *ent = readdir(d)) {
		if (ent->d_name[0] == '.')
			continue;
		std::ifstream f(dir + "/" + ent->d_name + "/syscall");
		long nr = -1;
		if (f >> nr && nr == 42)
			++n;
	}
	closedir(d);
	return n;
}

// IPv4 TCP sockets in SYN_SENT towards 127.0.0.1:port, from /proc/net/tcp.
int syn_sent_to(uint16_t port)
{
	std::ifstream tcp("/proc/net/tcp");
	std::string line;
	std::getline(tcp, line); // the header
	char want[16];
	snprintf(want, sizeof want, "0100007F:%04X", port);
	int n = 0;
	while (std::getline(tcp, line)) {
		std::istringstream fields(line);
		std::string sl, local, remote, state;
		if (fields >> sl >> local >> remote >> state && remote == want && state == "02")
			++n;
	}
	return n;
}

} // namespace

TEST_CASE("attack: a thousand connects blocked in the kernel leave every connect and exec reported",
	  "[e2e][attack]")
{
	const auto ds = shared_daemons();
	std::vector<uint64_t> connect_drops, execve_drops;
	for (Smithd *d : ds) {
		const Status st = d->status();
		connect_drops.push_back(st.drops.count("connect") ? st.drops.at("connect") : 0);
		execve_drops.push_back(st.drops.count("execve") ? st.drops.at("execve") : 0);
	}

	Fd listener(syn_dropping_listener());
	REQUIRE(listener.valid());
	const uint16_t port = local_endpoint(listener.get()).port;
	const pid_t holder = spawn([port] { hold_connects(port); });
	REQUIRE(holder > 0);
	struct Reap {
		pid_t pid;
		~Reap()
		{
			kill(pid, SIGKILL);
			wait_exit(pid, 120s);
		}
	} reap{holder};

	// Every connect started and is waiting in the kernel: the threads are in connect(2), their sockets
	// in SYN_SENT. Starting 1200 threads takes a while on an emulated CPU.
	int in_connect = 0, syn_sent = 0;
	const auto deadline = std::chrono::steady_clock::now() + event_timeout();
	while (std::chrono::steady_clock::now() < deadline) {
		in_connect = threads_in_connect(holder);
		syn_sent = syn_sent_to(port);
		if (in_connect >= kThreads && syn_sent >= kThreads)
			break;
		std::this_thread::sleep_for(200ms);
	}
	INFO(in_connect << " threads of pid " << holder << " in connect(2), " << syn_sent
			<< " sockets in SYN_SENT to port " << port);
	REQUIRE(in_connect >= kBlocked);
	REQUIRE(syn_sent >= kBlocked);

	// Someone else's connect and exec, while they wait.
	Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	REQUIRE(sock.valid());
	REQUIRE(connect_to(sock.get(), AF_INET, "127.0.0.1", 9) == 0);
	const Endpoint local = local_endpoint(sock.get());
	pid_t child = spawn([] { execl("/bin/true", "/bin/true", "smith-while-blocked", nullptr); });
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 0);

	expect_in_every_backend(
		"udp connect to 127.0.0.1:9 from port " + std::to_string(local.port) + " while " +
			std::to_string(in_connect) + " connects are blocked",
		[&](const Event &e) {
			return e.type() == "connect" && e.pid() == getpid() && e.i64("sport") == local.port &&
			       stamped_in_this_test(e);
		},
		[&](const Event &e, const Smithd &d) {
			check_common(e, "connect", d);
			check_inherited_context(e);
			CHECK(e.i64("pid") == getpid());
			CHECK(e.i64("tid") == gettid());
			CHECK(e.i64("ppid") == getppid());
			CHECK(e.str("comm") == self_comm());
			CHECK(e.str("exe") == self_exe());
			CHECK(e.str("cwd") == current_dir());
			CHECK(e.str("family") == "ipv4");
			CHECK(e.str("protocol") == "udp");
			CHECK(e.str("saddr") == "127.0.0.1");
			CHECK(e.i64("sport") == local.port);
			CHECK(e.str("daddr") == "127.0.0.1");
			CHECK(e.i64("dport") == 9);
			CHECK(e.i64("retval") == 0);
			CHECK(e.str("daddr_source") == "socket");
			CHECK(e.str("via") == "connect");
			CHECK(e.boolean("compat") == false);
		},
		getpid());
	expect_in_every_backend(
		"execve of /bin/true by pid " + std::to_string(child) + " while connects are blocked",
		[&](const Event &e) { return e.type() == "execve" && e.pid() == child; },
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			check_inherited_context(e);
			CHECK(e.i64("pid") == child);
			CHECK(e.i64("tid") == child);
			CHECK(e.i64("ppid") == getpid());
			CHECK(e.str("comm") == "true");
			CHECK(e.str("exe") == real_path("/bin/true"));
			CHECK(e.str("cwd") == current_dir());
			CHECK(e.str("filename") == "/bin/true");
			CHECK(e.strings("argv") ==
			      std::vector<std::string>{"/bin/true", "smith-while-blocked"});
			CHECK(e.i64("retval") == 0);
			CHECK(e.boolean("compat") == false);
		},
		child);

	// Nothing was lost on the way: the hooks' drop counters did not move.
	for (size_t i = 0; i < ds.size(); ++i) {
		const Status st = ds[i]->status();
		INFO("[" << ds[i]->label() << "]");
		CHECK(st.drops.at("connect") == connect_drops[i]);
		CHECK(st.drops.at("execve") == execve_drops[i]);
	}
	// Still blocked at the end: the attack held for the whole test.
	CHECK(threads_in_connect(holder) >= kBlocked);
}
