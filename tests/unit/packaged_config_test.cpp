// packaging/smithd.yaml, the /etc/smith/smithd.yaml the packages install: it parses, it changes
// nothing but the sink (events to /var/log/smith/events.jsonl, not to the journal), the defaults it
// documents are the real ones, and it documents every key the parser accepts.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "daemon/config.h"

namespace {

const std::string kSourceDir = SMITH_SOURCE_DIR;
const std::string kPackagedConfig = kSourceDir + "/packaging/smithd.yaml";

std::string read_file(const std::string &path)
{
	std::ifstream in(path);
	REQUIRE(in.good());
	std::stringstream s;
	s << in.rdbuf();
	return s.str();
}

// `shipped`: as the package installs it, with the file sink set.
void check_defaults(const smith::daemon::Config &c, bool shipped = false)
{
	const smith::daemon::Config d;
	CHECK(c.backend == d.backend);
	CHECK(c.sink == (shipped ? "file" : d.sink));
	CHECK(c.output == (shipped ? "/var/log/smith/events.jsonl" : d.output));
	CHECK(c.pid_file == d.pid_file);
	CHECK(c.socket == d.socket);
	CHECK(c.log_level == d.log_level);
	CHECK(c.log_file == d.log_file);
	CHECK(c.ringbuf_bytes == d.ringbuf_bytes);
	CHECK(c.bpf_ring == d.bpf_ring);
	CHECK(c.record == d.record);
	CHECK(c.replay == d.replay);
	CHECK(c.lkm_module == d.lkm_module);
	CHECK(c.lkm_ring_kb == d.lkm_ring_kb);
	CHECK(c.foreground == d.foreground);
	CHECK(c.kafka == d.kafka);
	CHECK(c.topic == d.topic);
	CHECK(c.heartbeat_topic == d.heartbeat_topic);
	CHECK(c.heartbeat_interval == d.heartbeat_interval);
	CHECK(c.spool_dir == d.spool_dir);
	CHECK(c.spool_max_bytes == d.spool_max_bytes);
	CHECK(c.metrics_listen == d.metrics_listen);
}

// The keys load_config_file accepts, read from its source: `key == "name"`.
std::set<std::string> parser_keys()
{
	const std::string src = read_file(kSourceDir + "/src/daemon/config.cpp");
	const std::regex key_re(R"re(key == "([a-z_]+)")re");
	std::set<std::string> keys;
	for (auto it = std::sregex_iterator(src.begin(), src.end(), key_re); it != std::sregex_iterator();
	     ++it)
		keys.insert((*it)[1]);
	return keys;
}

} // namespace

TEST_CASE("packaged config: loads as shipped and changes no default but the file sink", "[unit][config]")
{
	smith::daemon::Config c;
	smith::daemon::load_config_file(kPackagedConfig, true, c);
	check_defaults(c, true);
}

TEST_CASE("packaged config: every documented default, uncommented, is the real default", "[unit][config]")
{
	// "# key: value" lines (the key right after "# ") are the defaults; indented ones are examples.
	const std::string text = read_file(kPackagedConfig);
	const std::regex default_re(R"(^# ([a-z_]+): (.*)$)");
	std::istringstream in(text);
	std::ostringstream uncommented;
	std::set<std::string> defaults;
	for (std::string line; std::getline(in, line);) {
		std::smatch m;
		if (std::regex_match(line, m, default_re)) {
			defaults.insert(m[1]);
			uncommented << line.substr(2) << "\n";
		}
	}

	char tmpl[] = "/tmp/smith-packaged-config-XXXXXX";
	REQUIRE(mkdtemp(tmpl) != nullptr);
	const std::filesystem::path dir = tmpl;
	const std::string path = (dir / "smithd.yaml").string();
	std::ofstream(path) << uncommented.str();
	smith::daemon::Config c;
	smith::daemon::load_config_file(path, true, c);
	std::filesystem::remove_all(dir);
	check_defaults(c);

	// Every key has its default line, except lkm_module, which has no value meaning "not set"
	// ("" is refused) and is shown as an example instead.
	std::set<std::string> expected = parser_keys();
	REQUIRE(expected.size() >= 16);
	CHECK(expected.count("lkm_module") == 1);
	expected.erase("lkm_module");
	CHECK(defaults == expected);
	CHECK(text.find("\n#   lkm_module: /") != std::string::npos);
}
