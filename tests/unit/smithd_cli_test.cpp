// smithd's command line and configuration, through the real binary, without
// root: bad input gets one clear error line and a non-zero exit; a replay run
// writes the events and exits 0.
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "backend/replay_backend.h"
#include "record_builder.h"

namespace {

struct Result {
	int code = -1;
	std::string output; // stdout and stderr together
};

Result run_smithd(const std::string &args)
{
	std::string cmd = std::string(SMITHD_PATH) + " " + args + " 2>&1";
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
	for (const char *opt :
	     {"--backend", "--sink", "--output", "--config", "--foreground", "--pid-file", "--socket"})
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

TEST_CASE("smithd: --backend=lkm says the module backend is not built yet", "[unit][cli]")
{
	auto r = run_smithd("--backend=lkm --foreground --config /dev/null");
	CHECK(r.code == 1);
	CHECK_THAT(r.output, Catch::Contains("not built yet"));
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

	auto missing = run_smithd("--foreground --config " + (tmp / "missing.yaml"));
	CHECK(missing.code == 1);
	CHECK_THAT(missing.output, Catch::Contains("does not exist"));
}

TEST_CASE("smithd: a replay run writes every event and exits 0; options override the config", "[unit][cli]")
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
