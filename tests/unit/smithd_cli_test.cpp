// smithd's command line and configuration, through the real binary, without
// root: bad input gets one clear error line and a non-zero exit; a replay run
// writes the events and exits 0.
#include <catch2/catch.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "backend/replay_backend.h"
#include "record_builder.h"

namespace {

struct Result {
	int code = -1;
	std::string output; // stdout and stderr together
};

// Runs smithd with `env` ("NAME=value ...", may be empty) added to its environment.
Result run_smithd_env(const std::string &env, const std::string &args)
{
	std::string cmd = env + " " + std::string(SMITHD_PATH) + " " + args + " 2>&1";
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

Result run_smithd(const std::string &args)
{
	return run_smithd_env("", args);
}

struct TempDir {
	std::filesystem::path dir;
	TempDir()
	{
		char tmpl[] = "/tmp/smith-cli-XXXXXX";
		dir = mkdtemp(tmpl);
	}
	~TempDir() { std::filesystem::remove_all(dir); }
	std::string operator/(const char *name) const { return (dir / name).string(); }
};

} // namespace

TEST_CASE("smithd: --version and --help", "[unit][cli]")
{
	auto v = run_smithd("--version");
	CHECK(v.code == 0);
	CHECK_THAT(v.output, Catch::StartsWith("smithd "));
	auto h = run_smithd("--help");
	CHECK(h.code == 0);
	for (const char *opt : {"--backend", "--sink", "--output", "--config", "--foreground", "--pid-file",
				"--socket", "--metrics-listen"})
		CHECK_THAT(h.output, Catch::Contains(opt));
}

TEST_CASE("smithd: unknown options and bad values are refused", "[unit][cli]")
{
	auto unknown = run_smithd("--no-such-option");
	CHECK(unknown.code != 0);
	CHECK_THAT(unknown.output, Catch::Contains("--no-such-option"));

	auto backend = run_smithd("--backend=bogus --foreground");
	CHECK(backend.code != 0);
	CHECK_THAT(backend.output, Catch::Contains("bogus"));

	auto file_without_path = run_smithd("--sink=file --foreground --config /dev/null");
	CHECK(file_without_path.code == 1);
	CHECK_THAT(file_without_path.output, Catch::Contains("needs an output path"));

	auto stdout_daemon = run_smithd("--sink=stdout --config /dev/null");
	CHECK(stdout_daemon.code == 1);
	CHECK_THAT(stdout_daemon.output, Catch::Contains("needs --foreground"));
}

TEST_CASE("smithd: config file errors name the file, line and key", "[unit][cli]")
{
	TempDir tmp;
	std::ofstream(tmp / "unknown.yaml") << "backend: auto\nsinkk: file\n";
	auto unknown = run_smithd("--foreground --config " + (tmp / "unknown.yaml"));
	CHECK(unknown.code == 1);
	CHECK_THAT(unknown.output,
		   Catch::Contains("unknown.yaml:2") && Catch::Contains("unknown setting 'sinkk'"));

	std::ofstream(tmp / "type.yaml") << "ringbuf_bytes: [1, 2]\n";
	auto type = run_smithd("--foreground --config " + (tmp / "type.yaml"));
	CHECK(type.code == 1);
	CHECK_THAT(type.output, Catch::Contains("type.yaml:1") && Catch::Contains("ringbuf_bytes"));

	std::ofstream(tmp / "broken.yaml") << "backend: [auto\n";
	auto broken = run_smithd("--foreground --config " + (tmp / "broken.yaml"));
	CHECK(broken.code == 1);
	CHECK_THAT(broken.output, Catch::Contains("not valid YAML"));

	std::ofstream(tmp / "ring.yaml") << "ringbuf_bytes: 1000\n";
	auto ring = run_smithd("--foreground --config " + (tmp / "ring.yaml"));
	CHECK(ring.code == 1);
	CHECK_THAT(ring.output, Catch::Contains("power of two"));

	std::ofstream(tmp / "bpf_ring.yaml") << "bpf_ring: per-cpu\n";
	auto bpf_ring = run_smithd("--foreground --config " + (tmp / "bpf_ring.yaml"));
	CHECK(bpf_ring.code == 1);
	CHECK_THAT(bpf_ring.output,
		   Catch::Contains("bpf_ring") && Catch::Contains("per-cpu") && Catch::Contains("percpu"));

	auto missing = run_smithd("--foreground --config " + (tmp / "missing.yaml"));
	CHECK(missing.code == 1);
	CHECK_THAT(missing.output, Catch::Contains("does not exist"));
}

TEST_CASE("smithd: a replay run writes every event and exits 0 and options override the config",
	  "[unit][cli]")
{
	TempDir tmp;
	{
		smith::backend::ReplayWriter w(tmp / "in.raw", 0);
		for (int i = 0; i < 5; i++) {
			smith::test::ExecSpec e;
			e.argv = {"/bin/echo", std::to_string(i)};
			auto rec = smith::test::build_execve(e);
			w.write({rec.data(), rec.size()});
		}
	}
	// The config names another output file; --output on the command line wins.
	std::ofstream(tmp / "smithd.yaml") << "sink: file\noutput: " << (tmp / "from-config.json") << "\n";
	auto r = run_smithd("--foreground --config " + (tmp / "smithd.yaml") + " --replay " +
			    (tmp / "in.raw") + " --output " + (tmp / "out.json") + " --socket " +
			    (tmp / "s.sock") + " --pid-file " + (tmp / "s.pid"));
	INFO(r.output);
	REQUIRE(r.code == 0);
	std::ifstream out(tmp / "out.json");
	int lines = 0;
	for (std::string l; std::getline(out, l);)
		CHECK_THAT(l, Catch::Contains("\"seq\":" + std::to_string(++lines) + ","));
	CHECK(lines == 5);
	CHECK_FALSE(std::filesystem::exists(tmp / "from-config.json"));
	CHECK_FALSE(std::filesystem::exists(tmp / "s.pid")); // removed on exit
	CHECK_FALSE(std::filesystem::exists(tmp / "s.sock"));
}

namespace {

// A replay file of `n` exec records.
std::string write_execs(const TempDir &tmp, const char *name, int n)
{
	std::string path = tmp / name;
	smith::backend::ReplayWriter w(path, 0);
	for (int i = 0; i < n; i++) {
		smith::test::ExecSpec e;
		e.argv = {"/bin/echo", std::to_string(i)};
		auto rec = smith::test::build_execve(e);
		w.write({rec.data(), rec.size()});
	}
	return path;
}

// Nothing listens on port 1 of the loopback address: a broker that is away.
std::string kafka_args(const TempDir &tmp, const std::string &extra = "")
{
	return "--foreground --brokers 127.0.0.1:1 --spool-dir " + (tmp / "spool") + " --socket " +
	       (tmp / "s.sock") + " --pid-file " + (tmp / "s.pid") + " --heartbeat-interval 0 " + extra;
}

} // namespace

TEST_CASE("smithd: kafka settings are checked at start", "[unit][cli][kafka]")
{
	TempDir tmp;
	std::ofstream(tmp / "bad.yaml")
		<< "sink: kafka\nkafka:\n  bootstrap.servers: 127.0.0.1:1\n  no.such.property: 1\n";
	auto bad = run_smithd("--foreground --replay /dev/null --config " + (tmp / "bad.yaml"));
	CHECK(bad.code == 1);
	CHECK_THAT(bad.output, Catch::Contains("kafka property 'no.such.property'"));

	std::ofstream(tmp / "value.yaml") << "kafka:\n  bootstrap.servers: 127.0.0.1:1\n  acks: sometimes\n";
	auto value =
		run_smithd("--foreground --sink kafka --replay /dev/null --config " + (tmp / "value.yaml"));
	CHECK(value.code == 1);
	CHECK_THAT(value.output, Catch::Contains("kafka property 'acks'"));

	auto no_brokers = run_smithd("--foreground --sink kafka --config /dev/null");
	CHECK(no_brokers.code == 1);
	CHECK_THAT(no_brokers.output, Catch::Contains("needs brokers"));

	std::ofstream(tmp / "map.yaml") << "kafka: [1, 2]\n";
	auto map = run_smithd("--foreground --config " + (tmp / "map.yaml"));
	CHECK(map.code == 1);
	CHECK_THAT(map.output,
		   Catch::Contains("map.yaml:1") && Catch::Contains("mapping of librdkafka properties"));
}

TEST_CASE("smithd: with the broker away events go to the spool and a full spool counts its drops",
	  "[unit][cli][kafka]")
{
	TempDir tmp;
	auto in = write_execs(tmp, "in.raw", 30);
	auto away = run_smithd("--replay " + in + " --config /dev/null " + kafka_args(tmp));
	INFO(away.output);
	REQUIRE(away.code == 0);
	CHECK_THAT(away.output, Catch::Contains("0 delivered, 30 in the spool, 0 dropped"));

	// A second run, broker still away: the 30 are kept and 5 more join them.
	auto more = write_execs(tmp, "more.raw", 5);
	auto again = run_smithd("--replay " + more + " --config /dev/null " + kafka_args(tmp));
	INFO(again.output);
	REQUIRE(again.code == 0);
	CHECK_THAT(again.output, Catch::Contains("0 delivered, 35 in the spool, 0 dropped"));

	// A spool bounded to a few records refuses the rest, counts them, and smithd goes on to exit 0.
	TempDir small;
	std::ofstream(small / "small.yaml") << "spool_max_bytes: 4096\n";
	auto full = run_smithd("--replay " + in + " --config " + (small / "small.yaml") + " " +
			       kafka_args(small));
	INFO(full.output);
	REQUIRE(full.code == 0);
	CHECK_THAT(full.output, Catch::Contains("0 delivered, ") && Catch::Contains(" in the spool, "));
	CHECK_THAT(full.output, !Catch::Contains(" 0 dropped by the spool's size bound"));
}

TEST_CASE("smithd: a damaged spool record is skipped and counted", "[unit][cli][kafka]")
{
	TempDir tmp;
	auto in = write_execs(tmp, "in.raw", 20);
	auto first = run_smithd("--replay " + in + " --config /dev/null " + kafka_args(tmp));
	INFO(first.output);
	REQUIRE(first.code == 0);

	// Flip bytes inside the first record: its checksum no longer matches. (The
	// first, because with the broker away only the oldest records are read.)
	std::string segment;
	for (const auto &f : std::filesystem::directory_iterator(tmp / "spool"))
		if (f.path().extension() == ".seg")
			segment = f.path();
	REQUIRE_FALSE(segment.empty());
	{
		std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
		f.seekp(40);
		f.write("\xde\xad\xbe\xef", 4);
	}
	auto second = run_smithd("--replay " + write_execs(tmp, "one.raw", 1) + " --config /dev/null " +
				 kafka_args(tmp));
	INFO(second.output);
	REQUIRE(second.code == 0);
	CHECK_THAT(second.output, Catch::Contains("1 damaged spool records skipped"));
	// 20 from the first run (one of them now unreadable) and the new one.
	CHECK_THAT(second.output, Catch::Contains("0 delivered, 21 in the spool"));
}

namespace {

// A datagram socket where smithd's sd_notify messages arrive, as systemd's would.
struct NotifyListener {
	int fd = -1;
	explicit NotifyListener(const std::string &address)
	{
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		REQUIRE(fd >= 0);
		sockaddr_un sun{};
		sun.sun_family = AF_UNIX;
		std::memcpy(sun.sun_path, address.data(), address.size());
		if (address[0] == '@')
			sun.sun_path[0] = '\0';
		REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&sun),
			     static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size())) == 0);
	}
	~NotifyListener() { close(fd); }
	std::vector<std::string> messages() const
	{
		std::vector<std::string> out;
		char buf[4096];
		for (ssize_t n; (n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0;)
			out.emplace_back(buf, static_cast<size_t>(n));
		return out;
	}
};

} // namespace

TEST_CASE("smithd: tells systemd when it is ready and when it stops ($NOTIFY_SOCKET)", "[unit][cli]")
{
	TempDir tmp;
	std::string in = write_execs(tmp, "in.raw", 3);
	std::string common = " --foreground --config /dev/null --replay " + in + " --output " +
			     (tmp / "out.json") + " --socket " + (tmp / "s.sock") + " --pid-file " +
			     (tmp / "s.pid");
	for (std::string address : {tmp / "notify.sock", "@smith-notify-test-" + std::to_string(getpid())}) {
		INFO(address);
		NotifyListener listener(address);
		auto r = run_smithd_env("NOTIFY_SOCKET=" + address, common);
		INFO(r.output);
		REQUIRE(r.code == 0);
		auto m = listener.messages();
		REQUIRE(m.size() == 2);
		CHECK(m[0] == "READY=1\nSTATUS=backend replay, sink file");
		CHECK(m[1] == "STOPPING=1");
	}
	// Without $NOTIFY_SOCKET there is nothing to tell, and the run is the same.
	auto r = run_smithd(common);
	INFO(r.output);
	CHECK(r.code == 0);
}
