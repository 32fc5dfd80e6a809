// Output robustness: hostile arguments still give one valid JSON line; control bytes round-trip, invalid
// UTF-8 becomes U+FFFD, and an over-long argv is cut and flagged.
#include "backends.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace smith::e2e;

TEST_CASE("execve: hostile argv gives a valid line with exact escaping and truncation", "[e2e]")
{
	shared_daemons();

	std::string controls;
	for (int c = 0x01; c <= 0x1f; ++c)
		controls.push_back(static_cast<char>(c));
	controls.push_back('\x7f');
	std::string long_arg;
	while (long_arg.size() < 20000)
		long_arg += "0123456789";
	long_arg.resize(20000);

	std::vector<std::string> argv = {
		"/bin/true",   "q\"uo'te\"",	     "back\\slash\\", controls,
		"x\xffy\xc3z", // two invalid bytes: 0xff is never UTF-8, 0xc3 lacks its continuation
		"caf\xc3\xa9", // valid UTF-8 stays as it is
		long_arg,      "after-the-long-one",
	};
	std::vector<std::string> expected = argv;
	expected[4] = "x\xEF\xBF\xBDy\xEF\xBF\xBDz";
	const size_t must_keep = 6; // everything before the long argument

	std::vector<char *> c_argv;
	for (auto &a : argv)
		c_argv.push_back(a.data());
	c_argv.push_back(nullptr);
	char env0[] = "PATH=/usr/bin:/bin";
	char *envp[] = {env0, nullptr};
	Fd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
	REQUIRE(devnull.get() >= 0);

	pid_t child = spawn([&] {
		dup2(devnull.get(), 0);
		dup2(devnull.get(), 1);
		execve("/bin/true", c_argv.data(), envp);
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 0);

	expect_in_every_backend(
		"execve of /bin/true by pid " + std::to_string(child),
		[&](const Event &ev) {
			return ev.type() == "execve" && ev.pid() == child &&
			       ev.str("filename") == "/bin/true";
		},
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.str("exe") == real_path("/bin/true"));
			CHECK(e.i64("retval") == 0);

			// No raw control byte may reach the line.
			size_t raw_controls = 0;
			for (unsigned char ch : e.line())
				if (ch < 0x20)
					++raw_controls;
			CHECK(raw_controls == 0);

			CHECK(e.boolean("argv_truncated") == true);
			const std::vector<std::string> kept = e.strings("argv");
			REQUIRE(kept.size() >= must_keep);
			REQUIRE(kept.size() <= expected.size());
			for (size_t i = 0; i < must_keep; ++i) {
				INFO("argv[" << i << "]");
				CHECK(kept[i] == expected[i]);
			}
			// What follows is a prefix of the real argv: whole arguments, the last one possibly
			// cut.
			for (size_t i = must_keep; i < kept.size(); ++i) {
				INFO("argv[" << i << "] of " << kept.size() << ", " << kept[i].size()
					     << " bytes");
				if (i + 1 < kept.size())
					CHECK(kept[i] == expected[i]);
				else
					CHECK(expected[i].compare(0, kept[i].size(), kept[i]) == 0);
			}
			// Something was cut: fewer arguments, or a shorter last one.
			const bool cut = kept.size() < expected.size() ||
					 kept.back().size() < expected[kept.size() - 1].size();
			CHECK(cut);
			CHECK(d.bad_lines().empty());
		},
		child);
}

TEST_CASE("execve: hostile paths in cwd and filename are escaped and repaired", "[e2e]")
{
	shared_daemons();
	TempDir base("smith-e2e-cwd-");
	const std::string raw_dir = base.path() + "/ctl\x01\x1f"
						  "bad\xff"
						  "end";
	const std::string shown_dir = base.path() + "/ctl\x01\x1f"
						    "bad\xEF\xBF\xBD"
						    "end";
	REQUIRE(mkdir(raw_dir.c_str(), 0755) == 0);
	const std::string raw_file = "/nonexistent/tab\there\xc3"
				     "x";
	const std::string shown_file = "/nonexistent/tab\there\xEF\xBF\xBD"
				       "x";
	std::vector<std::string> argv = {"hostile-path"};
	std::vector<char *> c_argv = {argv[0].data(), nullptr};
	char env0[] = "PATH=/usr/bin:/bin";
	char *envp[] = {env0, nullptr};

	pid_t child = spawn([&] {
		if (chdir(raw_dir.c_str()) != 0)
			_exit(126);
		execve(raw_file.c_str(), c_argv.data(), envp);
		_exit(127);
	});
	REQUIRE(child > 0);
	REQUIRE(wait_exit(child) == 127);

	expect_in_every_backend(
		"failed execve by pid " + std::to_string(child),
		[&](const Event &ev) { return ev.type() == "execve" && ev.pid() == child; },
		[&](const Event &e, const Smithd &d) {
			check_common(e, "execve", d);
			CHECK(e.str("cwd") == shown_dir);
			CHECK(e.str("filename") == shown_file);
			CHECK(e.i64("retval") == -2);
			size_t raw_controls = 0;
			for (unsigned char ch : e.line())
				if (ch < 0x20)
					++raw_controls;
			CHECK(raw_controls == 0);
			CHECK(d.bad_lines().empty());
		},
		child);
}
