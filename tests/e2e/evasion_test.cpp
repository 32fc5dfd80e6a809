// The ways around a syscall monitor that are published, each made as an attacker makes it, and the event
// every backend must still give: the 32-bit syscall entry (int $0x80: connect, socketcall, execve,
// execveat), a TCP connection opened through io_uring, and one opened by sendto(MSG_FASTOPEN). Each test
// first makes sure the attack itself worked.
#include "backends.h"
#include "compat32.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <fstream>
#include <iostream>

using namespace smith::e2e;

namespace {

sockaddr_in loopback4(uint16_t port)
{
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

// A TCP socket bound to 127.0.0.1 on an ephemeral port, so that its source port is known before the
// connection starts.
Fd bound_tcp_socket()
{
	Fd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	REQUIRE(s.get() >= 0);
	const sockaddr_in any = loopback4(0);
	REQUIRE(bind(s.get(), reinterpret_cast<const sockaddr *>(&any), sizeof(any)) == 0);
	return s;
}

// A TCP connect event of this process from source port `sport`. (UDP ports are another space: a UDP
// socket of an earlier test may have had the same number.)
EventPredicate connect_from(uint16_t sport)
{
	return [sport](const Event &e) {
		return e.type() == "connect" && e.pid() == getpid() && e.i64("sport") == sport &&
		       e.str("protocol") == "tcp" && stamped_in_this_test(e);
	};
}

// The fields of a TCP connection from this process to 127.0.0.1:`dport` from `sport` that worked.
void check_tcp_connect(const Event &e, const Smithd &d, uint16_t sport, uint16_t dport,
		       const std::string &via, bool compat)
{
	check_common(e, "connect", d);
	check_inherited_context(e);
	CHECK(e.i64("pid") == getpid());
	if (e.i64("tid") == gettid())
		CHECK(e.str("comm") == self_comm());
	else // a thread the kernel started for this process: an io_uring worker
		CHECK(e.str("comm") == "iou-wrk-" + std::to_string(gettid()));
	CHECK(e.str("exe") == self_exe());
	CHECK(e.str("cwd") == current_dir());
	CHECK(e.str("family") == "ipv4");
	CHECK(e.str("protocol") == "tcp");
	CHECK(e.str("saddr") == "127.0.0.1");
	CHECK(e.i64("sport") == sport);
	CHECK(e.str("daddr") == "127.0.0.1");
	CHECK(e.i64("dport") == dport);
	CHECK(e.i64("retval") == 0);
	CHECK(e.str("daddr_source") == "socket");
	CHECK(e.str("via") == via);
	CHECK(e.boolean("compat") == compat);
}

// Exactly one event matches `pred` in each daemon, once a later marker exec has arrived in all of them:
// a connection is reported once, whichever ways in the kernel saw it by.
void check_reported_once(const std::vector<Smithd *> &ds, const EventPredicate &pred, const std::string &word)
{
	const std::string marker = exec_marker(ds, word);
	INFO(marker);
	REQUIRE(marker.empty());
	for (Smithd *d : ds) {
		INFO("[" << d->label() << "]");
		CHECK(d->count(pred) == 1);
	}
}

// Restores a file's contents (a sysctl) when it goes.
struct Restore {
	std::string path;
	std::string saved;
	~Restore() { std::ofstream(path) << saved; }
};

} // namespace

TEST_CASE("attack: connect through the 32-bit entry, direct and through socketcall, is reported as compat",
	  "[e2e][attack]")
{
	const auto ds = shared_daemons();
	Fd listener(tcp_listener(AF_INET));
	REQUIRE(listener.get() >= 0);
	const uint16_t dport = local_endpoint(listener.get()).port;
	LowMem low;
	const sockaddr_in to = loopback4(dport);
	const uint32_t to32 = low.put(to);

	// socketcall(SYS_CONNECT, {fd, addr, len}): every 32-bit kernel has it.
	Fd via_socketcall = bound_tcp_socket();
	const uint16_t sport_socketcall = local_endpoint(via_socketcall.get()).port;
	const uint32_t args[3] = {static_cast<uint32_t>(via_socketcall.get()), to32, sizeof(to)};
	REQUIRE(int80(kNr32Socketcall, kSocketcallConnect, low.put(args)) == 0);
	REQUIRE(peer_endpoint(via_socketcall.get()).port == dport);

	// connect(fd, addr, len) as i386 syscall 362: Linux 4.3 and later.
	Fd direct = bound_tcp_socket();
	const uint16_t sport_direct = local_endpoint(direct.get()).port;
	const long rc = int80(kNr32Connect, static_cast<uint32_t>(direct.get()), to32, sizeof(to));
	if (rc == -ENOSYS)
		std::cout << "e2e: this kernel (" << kernel_release()
			  << ") has no i386 connect syscall (362, Linux 4.3+): socketcall is its only way"
			  << std::endl;
	else
		REQUIRE(rc == 0);

	expect_in_every_backend(
		"tcp connect to 127.0.0.1:" + std::to_string(dport) + " through socketcall",
		connect_from(sport_socketcall),
		[&](const Event &e, const Smithd &d) {
			check_tcp_connect(e, d, sport_socketcall, dport, "socketcall", true);
			CHECK(e.i64("tid") == gettid());
		},
		getpid());
	if (rc == 0)
		expect_in_every_backend(
			"tcp connect to 127.0.0.1:" + std::to_string(dport) + " through i386 connect",
			connect_from(sport_direct),
			[&](const Event &e, const Smithd &d) {
				check_tcp_connect(e, d, sport_direct, dport, "connect", true);
				CHECK(e.i64("tid") == gettid());
			},
			getpid());
	check_reported_once(ds, connect_from(sport_socketcall), "smith-compat-connect-once");
	if (rc == 0)
		check_reported_once(ds, connect_from(sport_direct), "smith-compat-connect-direct-once");
}

// socketcall(SYS_CONNECT)'s argument block is in the caller's memory, which a monitor reading it at the
// call's return finds as the caller left it: a second thread unmaps it while a blocking TCP connect waits.
// The connection the kernel makes must still be reported.
TEST_CASE("attack: a socketcall connect whose argument block is unmapped during the call is still reported",
	  "[e2e][attack]")
{
	shared_daemons();
	Fd listener(syn_dropping_listener());
	REQUIRE(listener.valid());
	const uint16_t dport = local_endpoint(listener.get()).port;
	Fd s = bound_tcp_socket();
	const uint16_t sport = local_endpoint(s.get()).port;
	// No answer ever comes: the connect waits its send timeout, then returns EINPROGRESS.
	timeval wait{2, 0};
	REQUIRE(setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait) == 0);
	LowMem low;
	const sockaddr_in to = loopback4(dport);
	const uint32_t to32 = low.put(to);
	// The block alone in a page below 4 GiB, unmapped while the call waits.
	const long page = sysconf(_SC_PAGESIZE);
	void *block =
		mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	REQUIRE(block != MAP_FAILED);
	const uint32_t args[3] = {static_cast<uint32_t>(s.get()), to32, sizeof(to)};
	std::memcpy(block, args, sizeof(args));
	std::atomic<long> rc{1};
	std::thread victim([&] { rc = int80(kNr32Socketcall, kSocketcallConnect, LowMem::addr(block)); });
	// The unmap comes once the call has read the block and waits in the kernel, however slow the CPU.
	const bool waiting = wait_syn_sent(s.get(), event_timeout());
	const bool unmapped = munmap(block, page) == 0;
	victim.join();
	REQUIRE(waiting);
	REQUIRE(unmapped);
	REQUIRE(rc == -EINPROGRESS);

	expect_in_every_backend(
		"tcp connect through socketcall from port " + std::to_string(sport), connect_from(sport),
		[&](const Event &e, const Smithd &d) {
			check_common(e, "connect", d);
			CHECK(e.i64("pid") == getpid());
			CHECK(e.i64("tid") != gettid()); // the victim thread's
			CHECK(e.str("daddr") == "127.0.0.1");
			CHECK(e.i64("dport") == dport);
			CHECK(e.str("saddr") == "127.0.0.1");
			CHECK(e.i64("retval") == -EINPROGRESS);
			CHECK(e.str("daddr_source") == "socket");
			CHECK(e.str("via") == "socketcall");
			CHECK(e.boolean("compat") == true);
		},
		getpid());
}

TEST_CASE("attack: execve and execveat through the 32-bit entry are reported as compat", "[e2e][attack]")
{
	shared_daemons();
	LowMem low;
	const std::string tag = std::to_string(getpid());
	const std::vector<std::string> argv = {"smith-compat", "two words", "quote\"and\\backslash", tag};
	const std::string preload = "/tmp/smith-compat-" + tag + ".so";
	const std::vector<std::string> envp = {"PATH=/usr/bin:/bin", "LD_PRELOAD=" + preload};

	// A failed call leaves the caller's image: it can be made from this process.
	auto check_failed = [&](const Event &e, const Smithd &d, const std::string &filename) {
		check_common(e, "execve", d);
		check_inherited_context(e);
		CHECK(e.i64("pid") == getpid());
		CHECK(e.i64("tid") == gettid());
		CHECK(e.str("exe") == self_exe());
		CHECK(e.str("cwd") == current_dir());
		CHECK(e.str("filename") == filename);
		CHECK(e.strings("argv") == argv);
		CHECK(e.str("ld_preload") == preload);
		CHECK(e.i64("retval") == -ENOENT);
		CHECK(e.boolean("compat") == true);
	};
	const std::string missing = "/nonexistent/smith-compat-execve-" + tag;
	REQUIRE(int80(kNr32Execve, low.str(missing), low.strings(argv), low.strings(envp)) == -ENOENT);
	expect_in_every_backend(
		"failed execve of " + missing + " through int $0x80",
		[&](const Event &e) { return e.type() == "execve" && e.str("filename") == missing; },
		[&](const Event &e, const Smithd &d) { check_failed(e, d, missing); }, getpid());

	const std::string missing_at = "/nonexistent/smith-compat-execveat-" + tag;
	const long rc_at = int80(kNr32Execveat, static_cast<uint32_t>(AT_FDCWD), low.str(missing_at),
				 low.strings(argv), low.strings(envp), 0);
	if (rc_at == -ENOSYS) {
		CHECK_FALSE(kernel_has_execveat());
	} else {
		REQUIRE(rc_at == -ENOENT);
		expect_in_every_backend(
			"failed execveat of " + missing_at + " through int $0x80",
			[&](const Event &e) {
				return e.type() == "execve" && e.str("filename") == missing_at;
			},
			[&](const Event &e, const Smithd &d) { check_failed(e, d, missing_at); }, getpid());
	}

	// A successful one replaces the image: a child makes it. The new program is 64-bit, and the exec has
	// erased the entry's marks in the task (orig_ax, TS_COMPAT): the event is still marked compat.
	const std::string marker = "smith-compat-exec-" + tag;
	const std::vector<std::string> true_argv = {"/bin/true", marker};
	const uint32_t path32 = low.str("/bin/true"), argv32 = low.strings(true_argv),
		       envp32 = low.strings({"PATH=/usr/bin:/bin"});
	const pid_t child =
		spawn([&] { _exit(static_cast<int>(-int80(kNr32Execve, path32, argv32, envp32))); });
	REQUIRE(wait_exit(child) == 0);
	expect_in_every_backend(
		"execve of /bin/true " + marker + " through int $0x80",
		[&](const Event &e) { return e.type() == "execve" && e.pid() == child; },
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.str("filename") == "/bin/true");
			CHECK(e.strings("argv") == true_argv);
			CHECK(e.str("exe") == real_path("/bin/true"));
			CHECK(e.str("ld_preload") == "");
			CHECK(e.i64("retval") == 0);
			CHECK(e.boolean("compat") == true);
		},
		child);

	// The same exec through the 64-bit entry is not compat: the mark comes from the entry, not from
	// anything else about the caller.
	const pid_t child64 = spawn([&] {
		char *args[] = {const_cast<char *>("/bin/true"), const_cast<char *>(marker.c_str()), nullptr};
		char *env[] = {nullptr};
		execve("/bin/true", args, env);
		_exit(126);
	});
	REQUIRE(wait_exit(child64) == 0);
	expect_in_every_backend(
		"execve of /bin/true " + marker + " through the 64-bit entry",
		[&](const Event &e) { return e.type() == "execve" && e.pid() == child64; },
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.strings("argv") == true_argv);
			CHECK(e.boolean("compat") == false);
		},
		child64);

	// A 32-bit program, exec'd the ordinary way, is marked compat: what it runs is 32-bit.
	TempDir dir("smith-e2e-i386-");
	const std::string prog = dir.file("exit0-i386");
	{
		const auto elf = i386_exit0_elf();
		std::ofstream(prog, std::ios::binary)
			.write(reinterpret_cast<const char *>(elf.data()),
			       static_cast<std::streamsize>(elf.size()));
		REQUIRE(chmod(prog.c_str(), 0755) == 0);
	}
	const pid_t child32 = spawn([&] {
		char *args[] = {const_cast<char *>(prog.c_str()), const_cast<char *>(marker.c_str()),
				nullptr};
		char *env[] = {nullptr};
		execve(prog.c_str(), args, env);
		_exit(126);
	});
	REQUIRE(wait_exit(child32) == 0); // it ran: the kernel runs 32-bit programs
	expect_in_every_backend(
		"execve of the i386 program " + prog,
		[&](const Event &e) { return e.type() == "execve" && e.pid() == child32; },
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.str("filename") == prog);
			CHECK(e.strings("argv") == std::vector<std::string>{prog, marker});
			CHECK(e.str("exe") == prog);
			CHECK(e.i64("retval") == 0);
			CHECK(e.boolean("compat") == true);
		},
		child32);
}

TEST_CASE("attack: a TCP connection opened through io_uring is reported, via io_uring", "[e2e][attack]")
{
	const auto ds = shared_daemons();
	Fd listener(tcp_listener(AF_INET));
	REQUIRE(listener.get() >= 0);
	const uint16_t dport = local_endpoint(listener.get()).port;

	io_uring ring{};
	const int init = io_uring_queue_init(4, &ring, 0);
	if (init == -ENOSYS) {
		std::cout << "e2e: this kernel (" << kernel_release()
			  << ") has no io_uring (Linux 5.1+): nothing to open a connection with" << std::endl;
		return;
	}
	REQUIRE(init == 0);
	struct RingGuard {
		io_uring *r;
		~RingGuard() { io_uring_queue_exit(r); }
	} guard{&ring};

	// Once issued from the submitting syscall, once forced to an io_uring worker thread.
	for (const bool async : {false, true}) {
		INFO((async ? "IOSQE_ASYNC (an io_uring worker)" : "issued inline"));
		Fd sock = bound_tcp_socket();
		const uint16_t sport = local_endpoint(sock.get()).port;
		const sockaddr_in to = loopback4(dport);
		io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		REQUIRE(sqe != nullptr);
		io_uring_prep_connect(sqe, sock.get(), reinterpret_cast<const sockaddr *>(&to), sizeof(to));
		if (async)
			io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
		REQUIRE(io_uring_submit(&ring) == 1);
		io_uring_cqe *cqe = nullptr;
		REQUIRE(io_uring_wait_cqe(&ring, &cqe) == 0);
		const int res = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		REQUIRE(res == 0);
		REQUIRE(peer_endpoint(sock.get()).port == dport); // connected, without connect(2)

		expect_in_every_backend(
			"tcp connect to 127.0.0.1:" + std::to_string(dport) + " through io_uring",
			connect_from(sport),
			[&](const Event &e, const Smithd &d) {
				check_tcp_connect(e, d, sport, dport, "io_uring", false);
			},
			getpid());
		check_reported_once(ds, connect_from(sport), "smith-io-uring-once-" + std::to_string(sport));
	}
}

TEST_CASE("attack: a TCP connection opened by sendto(MSG_FASTOPEN) is reported, via sendto", "[e2e][attack]")
{
	const auto ds = shared_daemons();
	// The client side of TCP Fast Open on (bit 0), as many distributions ship it.
	const std::string sysctl = "/proc/sys/net/ipv4/tcp_fastopen";
	Restore restore{sysctl, read_file(sysctl)};
	const int mode = std::stoi(restore.saved);
	std::ofstream(sysctl) << (mode | 1);
	REQUIRE((std::stoi(read_file(sysctl)) & 1) == 1);

	Fd listener(tcp_listener(AF_INET));
	REQUIRE(listener.get() >= 0);
	const uint16_t dport = local_endpoint(listener.get()).port;
	Fd sock = bound_tcp_socket();
	const uint16_t sport = local_endpoint(sock.get()).port;
	const sockaddr_in to = loopback4(dport);
	REQUIRE(sendto(sock.get(), "x", 1, MSG_FASTOPEN, reinterpret_cast<const sockaddr *>(&to),
		       sizeof(to)) == 1);
	REQUIRE(peer_endpoint(sock.get()).port == dport); // connected, without connect(2)

	expect_in_every_backend(
		"tcp connect to 127.0.0.1:" + std::to_string(dport) + " by sendto(MSG_FASTOPEN)",
		connect_from(sport),
		[&](const Event &e, const Smithd &d) {
			check_tcp_connect(e, d, sport, dport, "sendto", false);
			CHECK(e.i64("tid") == gettid());
		},
		getpid());
	check_reported_once(ds, connect_from(sport), "smith-fastopen-once");
}
