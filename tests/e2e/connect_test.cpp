// connect: IPv4 and IPv6, TCP and UDP, successful, refused and non-blocking calls; a process that never
// execs; an address the caller never touched; an ordinary program.
#include "backends.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

using namespace smith::e2e;

namespace {

struct ConnectCase {
	int family;	   // AF_INET or AF_INET6
	int sock_type;	   // SOCK_STREAM or SOCK_DGRAM
	std::string daddr; // loopback address in text form
};

EventPredicate connect_of(pid_t pid, const std::string &protocol, const std::string &daddr, uint16_t dport)
{
	return [=](const Event &e) {
		return e.type() == "connect" && e.pid() == pid && e.str("protocol") == protocol &&
		       e.str("daddr") == daddr && e.i64("dport") == dport;
	};
}

// The fields every connect made by this (single-threaded) process carries.
void check_connect_context(const Event &e, const Smithd &d)
{
	check_common(e, "connect", d);
	CHECK(e.str("via") == "connect");
	CHECK(e.boolean("compat") == false);
	check_inherited_context(e);
	CHECK(e.i64("pid") == getpid());
	CHECK(e.i64("tid") == gettid());
	CHECK(e.i64("ppid") == getppid());
	CHECK(e.str("comm") == self_comm());
	CHECK(e.str("exe") == self_exe());
	CHECK(e.str("cwd") == current_dir());
	CHECK(e.str("nodename") == uts_nodename());
}

} // namespace

TEST_CASE("connect: successful TCP and UDP connects over IPv4 and IPv6", "[e2e]")
{
	shared_daemons();
	auto c = GENERATE(
		ConnectCase{AF_INET, SOCK_DGRAM, "127.0.0.1"}, ConnectCase{AF_INET6, SOCK_DGRAM, "::1"},
		ConnectCase{AF_INET, SOCK_STREAM, "127.0.0.1"}, ConnectCase{AF_INET6, SOCK_STREAM, "::1"});
	const std::string protocol = c.sock_type == SOCK_STREAM ? "tcp" : "udp";
	const std::string family = c.family == AF_INET ? "ipv4" : "ipv6";
	INFO(protocol << " over " << family);

	Fd listener;
	uint16_t dport = 9; // discard: a UDP connect sends nothing
	if (c.sock_type == SOCK_STREAM) {
		listener.reset(tcp_listener(c.family));
		REQUIRE(listener.get() >= 0);
		dport = local_endpoint(listener.get()).port;
	}
	Fd sock(socket(c.family, c.sock_type | SOCK_CLOEXEC, 0));
	REQUIRE(sock.get() >= 0);
	REQUIRE(connect_to(sock.get(), c.family, c.daddr, dport) == 0);
	Endpoint local = local_endpoint(sock.get());
	REQUIRE(local.port != 0);

	expect_in_every_backend(
		protocol + " connect to " + c.daddr + ":" + std::to_string(dport),
		[&](const Event &e) {
			return connect_of(getpid(), protocol, c.daddr, dport)(e) &&
			       e.i64("sport") == local.port && stamped_in_this_test(e);
		},
		[&](const Event &e, const Smithd &d) {
			check_connect_context(e, d);
			CHECK(e.str("family") == family);
			CHECK(e.str("protocol") == protocol);
			CHECK(e.str("daddr") == c.daddr);
			CHECK(e.i64("dport") == dport);
			CHECK(e.str("saddr") == c.daddr);
			CHECK(e.i64("sport") == local.port);
			CHECK(e.i64("retval") == 0);
			CHECK(e.str("daddr_source") == "socket");
		},
		getpid());
}

TEST_CASE("connect: a refused TCP connect is reported with -ECONNREFUSED", "[e2e]")
{
	shared_daemons();
	// A bound socket that does not listen: its port is ours, and a connect to it is refused.
	Fd bound(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	REQUIRE(bound.get() >= 0);
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(bind(bound.get(), reinterpret_cast<sockaddr *>(&sin), sizeof sin) == 0);
	uint16_t dport = local_endpoint(bound.get()).port;

	Fd sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	REQUIRE(sock.get() >= 0);
	REQUIRE(connect_to(sock.get(), AF_INET, "127.0.0.1", dport) == -111);

	expect_in_every_backend(
		"refused tcp connect to 127.0.0.1:" + std::to_string(dport),
		connect_of(getpid(), "tcp", "127.0.0.1", dport),
		[&](const Event &e, const Smithd &d) {
			check_connect_context(e, d);
			CHECK(e.str("family") == "ipv4");
			CHECK(e.str("protocol") == "tcp");
			CHECK(e.str("daddr") == "127.0.0.1");
			CHECK(e.i64("dport") == dport);
			CHECK(e.i64("retval") == -111);
			CHECK(e.str("daddr_source") == "user"); // a failed call: what the caller gave
		},
		getpid());
}

TEST_CASE("connect: a non-blocking TCP connect reports the return value of the syscall", "[e2e]")
{
	shared_daemons();
	Fd listener(tcp_listener(AF_INET));
	REQUIRE(listener.get() >= 0);
	uint16_t dport = local_endpoint(listener.get()).port;

	Fd sock(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	REQUIRE(sock.get() >= 0);
	int rc = connect_to(sock.get(), AF_INET, "127.0.0.1", dport);
	REQUIRE((rc == 0 || rc == -115));
	Endpoint local = local_endpoint(sock.get());

	expect_in_every_backend(
		"non-blocking tcp connect to 127.0.0.1:" + std::to_string(dport),
		connect_of(getpid(), "tcp", "127.0.0.1", dport),
		[&](const Event &e, const Smithd &d) {
			check_connect_context(e, d);
			CHECK(e.str("family") == "ipv4");
			CHECK(e.str("daddr") == "127.0.0.1");
			CHECK(e.i64("dport") == dport);
			CHECK(e.i64("retval") == rc);
			CHECK(e.str("daddr_source") == "socket");
			CHECK(e.str("saddr") == "127.0.0.1");
			CHECK(e.i64("sport") == local.port);
		},
		getpid());
}

TEST_CASE("connect: a connect from a second thread carries the id of that thread", "[e2e]")
{
	shared_daemons();
	pid_t thread_tid = 0;
	int rc = 1;
	uint16_t sport = 0;
	std::thread worker([&] {
		thread_tid = gettid();
		Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
		rc = connect_to(sock.get(), AF_INET, "127.0.0.1", 9);
		sport = local_endpoint(sock.get()).port;
	});
	worker.join();
	REQUIRE(rc == 0);
	REQUIRE(thread_tid != getpid());

	expect_in_every_backend(
		"udp connect to 127.0.0.1:9 from port " + std::to_string(sport),
		[&](const Event &ev) {
			return ev.type() == "connect" && ev.pid() == getpid() && ev.i64("sport") == sport &&
			       stamped_in_this_test(ev);
		},
		[&](const Event &e, const Smithd &d) {
			check_common(e, "connect", d);
			CHECK(e.i64("pid") == getpid());
			CHECK(e.i64("tid") == thread_tid);
			CHECK(e.str("exe") == self_exe());
			CHECK(e.i64("retval") == 0);
			CHECK(e.str("daddr_source") == "socket");
		},
		getpid());
}

TEST_CASE("attack: a process that forks and never execs is known by its image after it and its parent exited",
	  "[e2e][attack]")
{
	// A payload that runs as a forked copy of its parent (a shell's subshell, a server's worker, a
	// beacon that double-forks) never execs: smithd learns its image from the fork, not from procfs. The
	// daemons are stopped while the grandchild connects and it and its parent exit, so by the time they
	// read the connect procfs holds neither.
	const std::vector<Smithd *> ds = shared_daemons();
	struct Resume {
		const std::vector<Smithd *> &ds;
		~Resume()
		{
			for (Smithd *d : ds)
				kill(d->pid(), SIGCONT);
		}
	} resume{ds};
	for (Smithd *d : ds)
		REQUIRE(kill(d->pid(), SIGSTOP) == 0);

	struct Report {
		pid_t child = 0;
		pid_t grandchild = 0;
		uint16_t sport = 0;
		int rc = 1;
	};
	int pipefd[2];
	REQUIRE(pipe2(pipefd, O_CLOEXEC) == 0);
	Fd rd(pipefd[0]);
	Fd wr(pipefd[1]);
	const pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		// Only async-signal-safe calls from here: this test program has threads.
		const pid_t grandchild = fork();
		if (grandchild == 0) {
			Report r{getppid(), getpid(), 0, 1};
			const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			sockaddr_in to{};
			to.sin_family = AF_INET;
			to.sin_port = htons(9);
			to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			r.rc = connect(s, reinterpret_cast<const sockaddr *>(&to), sizeof(to));
			sockaddr_in local{};
			socklen_t len = sizeof(local);
			getsockname(s, reinterpret_cast<sockaddr *>(&local), &len);
			r.sport = ntohs(local.sin_port);
			_exit(write(wr.get(), &r, sizeof(r)) == sizeof(r) ? 0 : 1);
		}
		int status = 0;
		_exit(grandchild > 0 && waitpid(grandchild, &status, 0) == grandchild && status == 0 ? 0 : 1);
	}
	int status = 0;
	REQUIRE(waitpid(child, &status, 0) == child);
	REQUIRE(status == 0);
	Report r;
	REQUIRE(read(rd.get(), &r, sizeof(r)) == sizeof(r));
	REQUIRE(r.rc == 0);
	REQUIRE(r.child == child);
	REQUIRE(kill(r.grandchild, 0) == -1); // gone: procfs has nothing to say about it
	REQUIRE(access(("/proc/" + std::to_string(child)).c_str(), F_OK) == -1);
	for (Smithd *d : ds)
		REQUIRE(kill(d->pid(), SIGCONT) == 0);

	expect_in_every_backend(
		"udp connect to 127.0.0.1:9 from the forked grandchild " + std::to_string(r.grandchild),
		[&](const Event &e) {
			return e.type() == "connect" && e.pid() == r.grandchild &&
			       e.i64("sport") == r.sport && stamped_in_this_test(e);
		},
		[&](const Event &e, const Smithd &d) {
			check_common(e, "connect", d);
			check_inherited_context(e);
			CHECK(e.i64("pid") == r.grandchild);
			CHECK(e.i64("tid") == r.grandchild);
			CHECK(e.i64("ppid") == child);
			CHECK(e.str("comm") == self_comm());
			CHECK(e.str("exe") == self_exe());
			CHECK(e.str("cwd") == current_dir());
			CHECK(e.str("daddr") == "127.0.0.1");
			CHECK(e.i64("dport") == 9);
			CHECK(e.i64("retval") == 0);
		},
		r.grandchild);
}

TEST_CASE("connect: an IPv4-mapped IPv6 destination is reported as given", "[e2e]")
{
	shared_daemons();
	Fd listener(tcp_listener(AF_INET));
	REQUIRE(listener.get() >= 0);
	const uint16_t dport = local_endpoint(listener.get()).port;
	Fd sock(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
	REQUIRE(sock.get() >= 0);
	REQUIRE(connect_to(sock.get(), AF_INET6, "::ffff:127.0.0.1", dport) == 0);
	const Endpoint local = local_endpoint(sock.get());
	REQUIRE(local.addr == "::ffff:127.0.0.1");

	expect_in_every_backend(
		"tcp connect to [::ffff:127.0.0.1]:" + std::to_string(dport),
		connect_of(getpid(), "tcp", "::ffff:127.0.0.1", dport),
		[&](const Event &e, const Smithd &d) {
			check_connect_context(e, d);
			CHECK(e.str("family") == "ipv6");
			CHECK(e.str("daddr") == "::ffff:127.0.0.1");
			CHECK(e.i64("dport") == dport);
			CHECK(e.str("saddr") == local.addr);
			CHECK(e.i64("sport") == local.port);
			CHECK(e.i64("retval") == 0);
			CHECK(e.str("daddr_source") == "socket");
		},
		getpid());
}

// The address in a page of a file mapping that this process never touched: when connect() starts, the
// page is not in the page tables yet, and a read that may not fault fails. The kernel faults it in to
// copy the address, so the call is made, and it must be reported.
TEST_CASE("connect: an address in a page the caller never touched is reported", "[e2e]")
{
	shared_daemons();
	TempDir dir("smith-e2e-untouched-");
	const std::string path = dir.file("sockaddr");
	sockaddr_in sin{};
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	{
		std::string page(static_cast<size_t>(sysconf(_SC_PAGESIZE)), '\0');
		std::memcpy(page.data(), &sin, sizeof sin);
		Fd out(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
		REQUIRE(out.valid());
		REQUIRE(smith::util::write_full(out.get(), page.data(), page.size()).ok());
	}
	Fd file(open(path.c_str(), O_RDONLY | O_CLOEXEC));
	REQUIRE(file.valid());
	void *map = mmap(nullptr, static_cast<size_t>(sysconf(_SC_PAGESIZE)), PROT_READ, MAP_PRIVATE,
			 file.get(), 0);
	REQUIRE(map != MAP_FAILED);

	Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	REQUIRE(sock.valid());
	REQUIRE(::connect(sock.get(), static_cast<const sockaddr *>(map), sizeof(sockaddr_in)) == 0);
	const Endpoint local = local_endpoint(sock.get());
	munmap(map, static_cast<size_t>(sysconf(_SC_PAGESIZE)));

	expect_in_every_backend(
		"udp connect to 127.0.0.1:9 from port " + std::to_string(local.port),
		[&](const Event &e) {
			return e.type() == "connect" && e.pid() == getpid() && e.i64("sport") == local.port &&
			       stamped_in_this_test(e);
		},
		[&](const Event &e, const Smithd &d) {
			check_connect_context(e, d);
			CHECK(e.str("family") == "ipv4");
			CHECK(e.str("protocol") == "udp");
			CHECK(e.str("daddr") == "127.0.0.1");
			CHECK(e.i64("dport") == 9);
			CHECK(e.str("saddr") == "127.0.0.1");
			CHECK(e.i64("retval") == 0);
			CHECK(e.str("daddr_source") == "socket");
		},
		getpid());
}

TEST_CASE("connect: busybox nc, an ordinary program, is reported with its own image", "[e2e]")
{
	shared_daemons();
	const std::string busybox = real_path("/bin/busybox");
	if (busybox.empty())
		skip_test("no /bin/busybox (apt-get install busybox-static)");
	Fd listener(tcp_listener(AF_INET));
	REQUIRE(listener.valid());
	const uint16_t port = local_endpoint(listener.get()).port;
	const std::string port_text = std::to_string(port);
	pid_t child = spawn([&] {
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		execl(busybox.c_str(), "nc", "127.0.0.1", port_text.c_str(), nullptr);
	});
	REQUIRE(child > 0);
	pollfd pfd{listener.get(), POLLIN, 0};
	REQUIRE(poll(&pfd, 1, 10000) == 1);
	Fd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
	REQUIRE(conn.valid());
	const Endpoint peer = peer_endpoint(conn.get());
	conn.reset(); // nc sees the end of the connection and leaves
	CHECK(wait_exit(child) >= 0);

	expect_in_every_backend(
		"tcp connect by busybox nc (pid " + std::to_string(child) + ")",
		[&](const Event &e) { return e.type() == "connect" && e.pid() == child; },
		[&](const Event &e, const Smithd &d) {
			check_common(e, "connect", d);
			CHECK(e.str("comm") == "busybox"); // the file it ran, not argv[0]
			CHECK(e.str("exe") == busybox);
			CHECK(e.i64("ppid") == getpid());
			CHECK(e.str("family") == "ipv4");
			CHECK(e.str("protocol") == "tcp");
			CHECK(e.str("daddr") == "127.0.0.1");
			CHECK(e.i64("dport") == port);
			CHECK(e.str("saddr") == "127.0.0.1");
			CHECK(e.i64("sport") == peer.port);
			CHECK(e.i64("retval") == 0);
			CHECK(e.str("daddr_source") == "socket");
		},
		child);
}

// A second thread points the fd at another socket (dup2) while a blocking TCP connect waits in the
// kernel. The call goes on with the socket it started on; the event must name that socket, not the one
// the fd names by the call's return.
TEST_CASE("attack: an fd pointed at another socket during a blocking connect does not change the socket "
	  "reported",
	  "[e2e][attack]")
{
	shared_daemons();
	Fd listener(syn_dropping_listener());
	REQUIRE(listener.valid());
	const uint16_t port = local_endpoint(listener.get()).port;
	// The decoy: a UDP socket connected to 127.0.0.1:9, nothing like the real connection.
	Fd decoy(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	REQUIRE(decoy.valid());
	REQUIRE(connect_to(decoy.get(), AF_INET, "127.0.0.1", 9) == 0);
	const uint16_t decoy_port = local_endpoint(decoy.get()).port;
	Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	REQUIRE(fd.valid());
	// No answer ever comes: the connect waits its send timeout, then returns EINPROGRESS.
	timeval wait{2, 0};
	REQUIRE(setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait) == 0);
	std::atomic<pid_t> tid{0};
	std::atomic<int> result{1};
	std::thread victim([&] {
		tid = gettid();
		result = connect_to(fd.get(), AF_INET, "127.0.0.1", port);
	});
	// The swap comes once the call has taken the socket and waits in the kernel, however slow the CPU.
	const bool waiting = wait_syn_sent(fd.get(), event_timeout());
	const bool swapped = dup2(decoy.get(), fd.get()) == fd.get();
	victim.join();
	REQUIRE(waiting);
	REQUIRE(swapped);
	REQUIRE(result == -EINPROGRESS);
	INFO("the connect to port " << port << ", the decoy from port " << decoy_port);

	expect_in_every_backend(
		"the connect of thread " + std::to_string(tid.load()),
		[&](const Event &e) { return e.type() == "connect" && e.i64("tid") == tid.load(); },
		[&](const Event &e, const Smithd &d) {
			check_common(e, "connect", d);
			CHECK(e.str("protocol") == "tcp");
			CHECK(e.str("daddr") == "127.0.0.1");
			CHECK(e.i64("dport") == port);
			CHECK(e.str("saddr") == "127.0.0.1");
			CHECK(e.i64("sport") != decoy_port);
			CHECK(e.i64("retval") == -EINPROGRESS);
			CHECK(e.str("daddr_source") == "socket");
			CHECK(e.str("via") == "connect");
		},
		getpid());
}

// The Phantom attack (TOCTOU on syscall arguments, DEF CON 29): a second thread flips the port in the
// sockaddr between two values while connect() runs, so that by the time a monitor reads the caller's
// memory it may name the port that was not connected. Every event must name the port the kernel
// connected (getpeername), and the attack must really have made memory and connection disagree.
TEST_CASE("attack: a sockaddr rewritten during connect() does not change the port reported", "[e2e][attack]")
{
	// Only this test's events count: the suite's other connects from this process (one process runs
	// them all in a guest) may have used the same source ports.
	std::map<Smithd *, size_t> before;
	for (Smithd *d : shared_daemons())
		before[d] = d->poll().size();
	constexpr uint16_t kPortA = 9, kPortB = 13; // discard and daytime: UDP connects need no listener
	constexpr int kMaxCalls = 20000, kEnoughDisagreements = 50;
	alignas(64) sockaddr_in shared_sin{};
	shared_sin.sin_family = AF_INET;
	shared_sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	shared_sin.sin_port = htons(kPortA);
	std::atomic<bool> stop{false};
	// The attacker and the victim call on different CPUs, so that the rewrite overlaps the syscall.
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	const bool pinned =
		sysconf(_SC_NPROCESSORS_ONLN) > 1 && sched_setaffinity(0, sizeof cpus, &cpus) == 0;
	std::thread flipper([&] {
		if (pinned) {
			cpu_set_t other;
			CPU_ZERO(&other);
			CPU_SET(1, &other);
			sched_setaffinity(0, sizeof other, &other);
		}
		volatile uint16_t *port = &shared_sin.sin_port;
		while (!stop.load(std::memory_order_relaxed))
			*port = *port == htons(kPortA) ? htons(kPortB) : htons(kPortA);
	});

	// Every socket stays open until the end, so that no source port serves twice. The sockets leave
	// 512 descriptors free: this process must still open the daemons' output files to read them (a
	// guest's init gives it a limit of 4096).
	struct Limit {
		rlimit saved{};
		Limit() { getrlimit(RLIMIT_NOFILE, &saved); }
		~Limit() { setrlimit(RLIMIT_NOFILE, &saved); }
	} limit;
	rlimit files{kMaxCalls + 512, std::max<rlim_t>(limit.saved.rlim_max, kMaxCalls + 512)};
	if (setrlimit(RLIMIT_NOFILE, &files) != 0) {
		files.rlim_max = limit.saved.rlim_max;
		files.rlim_cur = std::min<rlim_t>(files.rlim_max, kMaxCalls + 512);
		setrlimit(RLIMIT_NOFILE, &files);
	}
	getrlimit(RLIMIT_NOFILE, &files);
	const int max_calls = static_cast<int>(
		std::clamp<long long>(static_cast<long long>(files.rlim_cur) - 512, 0, kMaxCalls));
	std::vector<Fd> sockets;
	std::map<uint16_t, uint16_t> connected; // sport -> the dport the kernel connected
	int disagreed = 0;			// calls after which memory named the other port
	for (int i = 0; i < max_calls && disagreed < kEnoughDisagreements; ++i) {
		Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
		if (!s.valid())
			break;
		if (::connect(s.get(), reinterpret_cast<const sockaddr *>(&shared_sin), sizeof shared_sin) !=
		    0)
			continue;
		const uint16_t in_memory = ntohs(shared_sin.sin_port);
		const Endpoint peer = peer_endpoint(s.get());
		connected[local_endpoint(s.get()).port] = peer.port;
		disagreed += in_memory != peer.port;
		sockets.push_back(std::move(s));
	}
	stop = true;
	flipper.join();
	if (pinned) {
		CPU_ZERO(&cpus);
		for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN); ++c)
			CPU_SET(c, &cpus);
		sched_setaffinity(0, sizeof cpus, &cpus);
	}
	size_t to_a = 0, to_b = 0;
	for (auto &[sport, dport] : connected)
		(dport == kPortA ? to_a : to_b)++;
	INFO(connected.size() << " connects: " << to_a << " to port " << kPortA << ", " << to_b << " to port "
			      << kPortB << "; memory named the other port after " << disagreed);
	REQUIRE(connected.size() == sockets.size());
	REQUIRE(to_a > 0);
	REQUIRE(to_b > 0);
	REQUIRE(disagreed > 0);

	// The last connect's event has arrived in every daemon once its own has.
	const uint16_t last_sport = connected.rbegin()->first;
	for (Smithd *d : shared_daemons()) {
		INFO("[" << d->label() << "]");
		d->wait_for(
			"udp connect from port " + std::to_string(last_sport),
			[&](const Event &e) {
				return e.type() == "connect" && e.pid() == getpid() &&
				       e.i64("sport") == last_sport && stamped_in_this_test(e);
			},
			event_timeout(), getpid());
		std::this_thread::sleep_for(500ms);
		size_t seen = 0, wrong = 0, held_back = 0;
		const auto &events = d->poll();
		for (size_t i = before[d]; i < events.size(); ++i) {
			const Event &e = events[i];
			// A burst past this process's connect budget is counted, not reported, one by one.
			if (e.type() == "connect_suppressed" && e.pid() == getpid())
				held_back += e.u64("suppressed");
			if (e.type() != "connect" || e.pid() != getpid() || e.str("protocol") != "udp")
				continue;
			auto it = connected.find(static_cast<uint16_t>(e.i64("sport")));
			if (it == connected.end() || e.str("daddr") != "127.0.0.1")
				continue;
			++seen;
			if (e.i64("dport") != it->second || e.str("daddr_source") != "socket")
				++wrong;
		}
		INFO(seen << " events of " << connected.size() << " connects, " << held_back
			  << " held back by the budget, " << wrong << " naming another port");
		CHECK(seen + held_back == connected.size());
		CHECK(wrong == 0);
	}
}
