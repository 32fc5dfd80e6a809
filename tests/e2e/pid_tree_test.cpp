// pid_tree: the process and its ancestors, collected in the kernel when the call is made, in every
// backend. The daemons are stopped while the chain runs and exits, so the ancestors are gone from procfs
// by the time smithd reads the event: only what the kernel put in the record can name them.
#include "backends.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

using namespace smith::e2e;

namespace {

constexpr size_t kTreeMax = 12; // SMITH_PID_TREE_MAX

// Runs itself one level down, DEPTH times, recording each level's pid; the last level runs
// /bin/true MARKER. The trailing ':' keeps a shell from replacing itself with its last command.
constexpr const char *kChainScript = R"(#!/bin/sh
echo $$ > "$1/pid.$2"
if [ "$2" -gt 1 ]; then /bin/sh "$0" "$1" $(($2 - 1)) "$3"; else /bin/true "$3"; fi
:
)";

// "pid:comm" for process `pid` from procfs: its comm, its parent.
struct ProcEntry {
	std::string entry;
	pid_t ppid = 0;
};

ProcEntry proc_entry(pid_t pid)
{
	ProcEntry out;
	std::string comm = read_file("/proc/" + std::to_string(pid) + "/comm");
	if (!comm.empty() && comm.back() == '\n')
		comm.pop_back();
	out.entry = std::to_string(pid) + ":" + comm;
	std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
	std::string line;
	while (std::getline(status, line)) {
		if (line.rfind("PPid:", 0) == 0)
			out.ppid = static_cast<pid_t>(std::stol(line.substr(5)));
	}
	return out;
}

// This process's own pid_tree as procfs tells it, this process first: its part of every tree below.
// Sets *complete when it ends at the host's init (or below kthreadd) within kTreeMax entries.
std::vector<std::string> own_ancestry(bool *complete)
{
	std::vector<std::string> out;
	pid_t pid = getpid();
	*complete = false;
	while (pid > 0 && out.size() < 64) {
		const ProcEntry e = proc_entry(pid);
		out.push_back(e.entry);
		if (pid == 1 || e.ppid == 0) {
			*complete = true;
			break;
		}
		pid = e.ppid;
	}
	return out;
}

// Runs `levels` nested shells under this process (or under `wrap`), the innermost running /bin/true
// `marker`, with the daemons stopped until every shell has exited. Returns the shells' pids,
// outermost first.
std::vector<pid_t> run_chain(const std::vector<Smithd *> &ds, int levels, const std::string &marker)
{
	TempDir dir("smith-e2e-pidtree-");
	{
		std::ofstream script(dir.file("chain.sh"));
		script << kChainScript;
	}
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

	const std::string script = dir.file("chain.sh"), path = dir.path(), depth = std::to_string(levels);
	const pid_t outer = spawn([&] {
		execl("/bin/sh", "sh", script.c_str(), path.c_str(), depth.c_str(), marker.c_str(), nullptr);
	});
	REQUIRE(outer > 0);
	REQUIRE(wait_exit(outer) == 0);
	std::vector<pid_t> shells;
	for (int level = levels; level >= 1; --level) {
		const std::string text = read_file(dir.file("pid." + std::to_string(level)));
		REQUIRE(!text.empty());
		shells.push_back(static_cast<pid_t>(std::stol(text)));
		// Gone before smithd reads a thing: procfs cannot name it.
		CHECK(kill(shells.back(), 0) == -1);
	}
	CHECK(shells.front() == outer);
	for (Smithd *d : ds)
		REQUIRE(kill(d->pid(), SIGCONT) == 0);
	return shells;
}

EventPredicate true_with(const std::string &marker)
{
	return [marker](const Event &e) {
		return e.type() == "execve" && e.str("filename") == "/bin/true" &&
		       e.strings("argv") == std::vector<std::string>{"/bin/true", marker};
	};
}

} // namespace

TEST_CASE("pid_tree: sh -> sh -> sh -> /bin/true names each shell after all have exited", "[e2e][pid_tree]")
{
	const std::vector<Smithd *> ds = shared_daemons();
	bool complete = false;
	const std::vector<std::string> mine = own_ancestry(&complete);
	const std::string marker = "pidtree-chain-" + std::to_string(getpid());
	const std::vector<pid_t> shells = run_chain(ds, 3, marker);

	expect_in_every_backend(
		"/bin/true " + marker + " under three exited shells", true_with(marker),
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			// true, the innermost shell ... the outermost, then this test program and its
			// ancestors.
			std::vector<std::string> want = {std::to_string(e.pid()) + ":true"};
			for (auto it = shells.rbegin(); it != shells.rend(); ++it)
				want.push_back(std::to_string(*it) + ":sh");
			want.insert(want.end(), mine.begin(), mine.end());
			const bool cut = want.size() > kTreeMax || !complete;
			want.resize(std::min(want.size(), kTreeMax));
			CHECK(e.strings("pid_tree") == want);
			CHECK(e.boolean("pid_tree_truncated") == cut);
			CHECK(e.i64("ppid") == shells.back());
		},
		-1);
}

TEST_CASE("attack: nesting deeper than the bound cannot hide that ancestors were left out",
	  "[e2e][pid_tree][attack]")
{
	// A launcher buried under more shells than a pid_tree holds: the tree keeps the 12 nearest and
	// says it was cut, so a detection that looks for the launcher knows it did not see the whole chain.
	const std::vector<Smithd *> ds = shared_daemons();
	const std::string marker = "pidtree-deep-" + std::to_string(getpid());
	const std::vector<pid_t> shells = run_chain(ds, 14, marker);

	expect_in_every_backend(
		"/bin/true " + marker + " under 14 exited shells", true_with(marker),
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			std::vector<std::string> want = {std::to_string(e.pid()) + ":true"};
			for (auto it = shells.rbegin(); it != shells.rend() && want.size() < kTreeMax; ++it)
				want.push_back(std::to_string(*it) + ":sh");
			CHECK(e.strings("pid_tree") == want);
			CHECK(e.boolean("pid_tree_truncated"));
		},
		-1);
}

TEST_CASE("attack: a new pid namespace's init does not end the tree above it", "[e2e][pid_tree][attack]")
{
	// Any user can make a pid namespace (unshare -Urpf) and run a payload under its init. Were the
	// chain to end at a namespace's init, as a container's processes might want, the launcher above
	// it would vanish from every event: the tree goes on to the host's init, pids as the host sees them.
	const std::vector<Smithd *> ds = shared_daemons();
	const std::string marker = "pidtree-ns-" + std::to_string(getpid());
	int pipefd[2];
	REQUIRE(pipe2(pipefd, O_CLOEXEC) == 0);
	Fd rd(pipefd[0]), wr(pipefd[1]);
	const pid_t outer = spawn([&] {
		// Only async-signal-safe calls: this test program has threads.
		if (unshare(CLONE_NEWPID) != 0)
			_exit(125);
		const pid_t init = fork();
		if (init == 0) {
			execl("/bin/sh", "sh", "-c", "/bin/true \"$0\"; :", marker.c_str(), nullptr);
			_exit(127);
		}
		int status = 0;
		if (init < 0 || write(wr.get(), &init, sizeof(init)) != sizeof(init) ||
		    waitpid(init, &status, 0) != init)
			_exit(126);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	});
	REQUIRE(outer > 0);
	REQUIRE(wait_exit(outer) == 0);
	pid_t init = 0;
	REQUIRE(read(rd.get(), &init, sizeof(init)) == sizeof(init));
	bool complete = false;
	const std::vector<std::string> mine = own_ancestry(&complete);
	// The child that made the namespace is a fork of this program: its comm is this program's.
	const std::string my_comm = mine.front().substr(mine.front().find(':') + 1);

	expect_in_every_backend(
		"/bin/true " + marker + " under a pid namespace's init", true_with(marker),
		[&](const Event &e, const Smithd &) {
			std::vector<std::string> want = {std::to_string(e.pid()) + ":true",
							 std::to_string(init) + ":sh",
							 std::to_string(outer) + ":" + my_comm};
			want.insert(want.end(), mine.begin(), mine.end());
			const bool cut = want.size() > kTreeMax || !complete;
			want.resize(std::min(want.size(), kTreeMax));
			CHECK(e.strings("pid_tree") == want);
			CHECK(e.boolean("pid_tree_truncated") == cut);
			CHECK(e.i64("ppid") == init);
		},
		-1);
}
