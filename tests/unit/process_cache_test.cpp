#include "event/proc_reader.h"
#include "event/process_cache.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

#include <iterator>
#include <sstream>
#include <utility>

using namespace smith::event;

TEST_CASE("process cache finds, overwrites and misses", "[unit]")
{
	ProcessCache c(8);
	CHECK(c.find(1, 10) == nullptr);
	bool created = false;
	ProcessInfo &p = c.upsert(1, 10, &created);
	CHECK(created);
	p.exe = "/bin/a";
	p.set_container_id(std::string(64, 'a'));
	REQUIRE(c.find(1, 10) != nullptr);
	CHECK(c.find(1, 10)->exe == "/bin/a");
	CHECK(c.find(1, 10)->container_id() == std::string(64, 'a'));
	CHECK(c.find(1, 11) == nullptr); // same pid, another process
	CHECK(c.find(2, 10) == nullptr);

	ProcessInfo &again = c.upsert(1, 10, &created);
	CHECK_FALSE(created);
	CHECK(again.exe == "/bin/a"); // existing entry returned as it is
	again.exe = "/bin/b";
	CHECK(c.find(1, 10)->exe == "/bin/b");
	CHECK(c.size() == 1);
}

TEST_CASE("process cache drops its oldest half when full", "[unit]")
{
	ProcessCache c(4);
	for (uint32_t pid = 1; pid <= 4; ++pid)
		c.upsert(pid, 0).exe = "/bin/" + std::to_string(pid);
	CHECK(c.size() == 4);
	c.upsert(2, 0).exe = "/bin/2b"; // update: keeps its place
	ProcessInfo &fifth = c.upsert(5, 0);
	CHECK(fifth.exe.empty()); // a reused entry comes back cleared
	CHECK(fifth.container_id().empty());
	fifth.exe = "/bin/5";
	CHECK(c.size() == 3);
	CHECK(c.find(1, 0) == nullptr);
	CHECK(c.find(2, 0) == nullptr);
	REQUIRE(c.find(3, 0) != nullptr);
	CHECK(c.find(3, 0)->exe == "/bin/3");
	REQUIRE(c.find(4, 0) != nullptr);
	CHECK(c.find(4, 0)->exe == "/bin/4");
	REQUIRE(c.find(5, 0) != nullptr);
	CHECK(c.find(5, 0)->exe == "/bin/5");
}

TEST_CASE("process cache agrees with a model under churn", "[unit]")
{
	constexpr size_t kCap = 1000;
	ProcessCache c(kCap);
	std::deque<std::pair<uint32_t, uint64_t>> model; // first-insertion order
	std::mt19937_64 rng(42);
	for (int i = 0; i < 20000; ++i) {
		const uint32_t pid = static_cast<uint32_t>(rng() % 3000);
		const uint64_t start = rng() % 2;
		const auto key = std::make_pair(pid, start);
		const bool known = std::find(model.begin(), model.end(), key) != model.end();
		if (!known && model.size() == kCap)
			model.erase(model.begin(), model.begin() + (kCap - kCap / 2));
		if (!known)
			model.push_back(key);
		c.upsert(pid, start).exe = std::to_string(pid) + ":" + std::to_string(start);
		if (i % 997 == 0) {
			REQUIRE(c.size() == model.size());
			for (const auto &[p, s] : model) {
				const ProcessInfo *e = c.find(p, s);
				REQUIRE(e != nullptr);
				REQUIRE(e->exe == std::to_string(p) + ":" + std::to_string(s));
			}
		}
	}
	REQUIRE(c.size() == model.size());
	size_t present = 0;
	for (uint32_t p = 0; p < 3000; ++p)
		for (uint64_t s = 0; s < 2; ++s)
			present += c.find(p, s) != nullptr;
	CHECK(present == model.size());
}

namespace {

struct FakeProc {
	std::filesystem::path root;
	FakeProc()
	{
		char tmpl[] = "/tmp/smith-fakeproc-XXXXXX";
		REQUIRE(mkdtemp(tmpl) != nullptr);
		root = tmpl;
	}
	~FakeProc() { std::filesystem::remove_all(root); }
	std::filesystem::path dir(uint32_t pid)
	{
		auto d = root / std::to_string(pid);
		std::filesystem::create_directories(d);
		return d;
	}
	static void write(const std::filesystem::path &p, const std::string &s) { std::ofstream(p) << s; }
};

// A /proc/<pid>/stat line with tty_nr (field 7) and starttime (field 22, clock ticks since boot).
std::string stat_line(uint32_t pid, const std::string &comm, uint32_t tty_nr, uint64_t start_ticks)
{
	return std::to_string(pid) + " (" + comm + ") S 1 " + std::to_string(pid) + " " +
	       std::to_string(pid) + " " + std::to_string(tty_nr) + " " + std::to_string(pid) +
	       " 4194560 0 0 0 0 0 0 0 0 20 0 1 0 " + std::to_string(start_ticks) + " 1000 100\n";
}

// The start time, ns since boot, of a process that started `ticks` clock ticks after boot.
uint64_t start_ns(uint64_t ticks)
{
	return ticks * (1000000000ULL / static_cast<uint64_t>(sysconf(_SC_CLK_TCK)));
}

} // namespace

TEST_CASE("procfs fallback reads exe, cwd, tty and container id", "[unit]")
{
	FakeProc fp;
	const std::string id = "4f5ab7c34d0fc1e6b0a5a1d7bdf4c1e1a3ef22a3cb38c4e6df0bcd9a4c7ed6a1";
	const auto d = fp.dir(123);
	std::filesystem::create_symlink("/opt/app/bin/server (deleted)", d / "exe");
	std::filesystem::create_symlink("/srv/da ta", d / "cwd");
	// comm with spaces and parentheses; tty_nr 34821 = pts/5
	FakeProc::write(d / "stat", stat_line(123, "my (odd) comm", 34821, 5000));
	FakeProc::write(d / "cgroup", "12:pids:/\n4:memory:/kubepods/besteffort/podx/" + id + "\n0::/\n");

	ProcessInfo info;
	info.exe = "stale";
	CHECK(read_process_info(fp.root.string(), 123, start_ns(5000), info));
	CHECK(info.exe == "/opt/app/bin/server (deleted)");
	CHECK(info.cwd == "/srv/da ta");
	CHECK(info.tty == "pts/5");
	CHECK(info.container_id() == id);

	// Serial console, host cgroup.
	const auto d2 = fp.dir(124);
	FakeProc::write(d2 / "stat", stat_line(124, "getty", 1088, 77)); // 4:64 = ttyS0
	FakeProc::write(d2 / "cgroup", "0::/system.slice/serial-getty@ttyS0.service\n");
	CHECK(read_process_info(fp.root.string(), 124, start_ns(77), info));
	CHECK(info.exe == "");
	CHECK(info.cwd == "");
	CHECK(info.tty == "ttyS0");
	CHECK(info.container_id() == "");

	// Gone: everything "".
	info.exe = "stale";
	info.tty = "stale";
	info.set_container_id(id);
	CHECK_FALSE(read_process_info(fp.root.string(), 999, start_ns(1), info));
	CHECK(info.exe == "");
	CHECK(info.cwd == "");
	CHECK(info.tty == "");
	CHECK(info.container_id() == "");
}

TEST_CASE("procfs fallback: a pid now held by another process lends it nothing", "[unit]")
{
	FakeProc fp;
	const auto d = fp.dir(321);
	std::filesystem::create_symlink("/usr/sbin/sshd", d / "exe");
	std::filesystem::create_symlink("/", d / "cwd");
	FakeProc::write(d / "stat", stat_line(321, "sshd", 0, 900000)); // started much later
	FakeProc::write(d / "cgroup", "0::/\n");

	ProcessInfo info;
	info.exe = "stale";
	// The process the record names started at tick 500: the pid was reused since.
	CHECK_FALSE(read_process_info(fp.root.string(), 321, start_ns(500), info));
	CHECK(info.exe == "");
	CHECK(info.cwd == "");
	// One tick of rounding either way is the same process.
	CHECK(read_process_info(fp.root.string(), 321, start_ns(900001), info));
	CHECK(info.exe == "/usr/sbin/sshd");
	CHECK(read_process_info(fp.root.string(), 321, start_ns(899999), info));
}

TEST_CASE("procfs fallback on this very process", "[unit]")
{
	std::ifstream stat("/proc/self/stat");
	std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
	std::istringstream fields(text.substr(text.rfind(')') + 2));
	std::string field;
	for (int i = 3; i <= 22; ++i)
		fields >> field; // field 22: starttime
	ProcessInfo info;
	CHECK(read_process_info("/proc", static_cast<uint32_t>(getpid()), start_ns(std::stoull(field)),
				info));
	CHECK(info.exe == std::filesystem::read_symlink("/proc/self/exe").string());
	CHECK(info.cwd == std::filesystem::current_path().string());
}
