// Test helpers to read back one JSON line written by the normalizer or the
// JSON writer, with simdjson (an independent parser).
#pragma once

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smith::test {

inline const std::vector<std::string> kCommonKeys = {
	"schema",    "seq",	     "run_id",	 "ts",
	"type",	     "data_type",    "backend",	 "hostname",
	"host_id",   "nodename",     "pid",	 "tid",
	"ppid",	     "pgid",	     "sid",	 "uid",
	"gid",	     "euid",	     "egid",	 "user",
	"comm",	     "exe",	     "cwd",	 "tty",
	"sessionid", "pidns",	     "mntns",	 "netns",
	"cgroup_id", "container_id", "pid_tree", "pid_tree_truncated"};

inline std::vector<std::string> with_common(std::vector<std::string> extra)
{
	std::vector<std::string> keys = kCommonKeys;
	keys.insert(keys.end(), extra.begin(), extra.end());
	return keys;
}

inline const std::vector<std::string> kExecKeys =
	with_common({"filename", "argv", "argv_truncated", "stdin", "stdout", "ld_preload", "retval",
		     "env_truncated", "path_truncated", "compat"});
inline const std::vector<std::string> kConnectKeys =
	with_common({"family", "protocol", "saddr", "sport", "daddr", "dport", "retval", "daddr_source",
		     "via", "compat"});
inline const std::vector<std::string> kModuleKeys = with_common(
	{"module", "module_path", "params", "retval", "module_path_truncated", "params_truncated", "compat"});
inline const std::vector<std::string> kConnectSuppressedKeys =
	with_common({"suppressed", "first_ts", "last_ts", "budget_rate", "budget_burst", "retval"});

// One parsed line; keeps the parser alive for the object's lifetime.
struct ParsedLine {
	simdjson::dom::parser parser;
	simdjson::dom::object obj;

	explicit ParsedLine(const std::string &line)
	{
		REQUIRE(!line.empty());
		REQUIRE(line.back() == '\n');
		REQUIRE(line.find('\n') == line.size() - 1); // exactly one line
		bool raw_control = false;		     // no raw control byte may survive
		for (size_t i = 0; i + 1 < line.size(); ++i)
			raw_control |= static_cast<unsigned char>(line[i]) < 0x20;
		REQUIRE_FALSE(raw_control);
		simdjson::dom::element doc;
		const auto err = parser.parse(line).get(doc);
		INFO(line);
		REQUIRE(err == simdjson::SUCCESS);
		REQUIRE(doc.get(obj) == simdjson::SUCCESS);
	}

	std::vector<std::string> keys() const
	{
		std::vector<std::string> k;
		for (auto field : obj)
			k.emplace_back(field.key);
		return k;
	}

	simdjson::dom::element at(std::string_view key) const
	{
		simdjson::dom::element e;
		INFO("key " << key);
		REQUIRE(obj.at_key(key).get(e) == simdjson::SUCCESS);
		return e;
	}

	std::string str(std::string_view key) const
	{
		std::string_view v;
		INFO("key " << key);
		REQUIRE(at(key).get(v) == simdjson::SUCCESS);
		return std::string(v);
	}

	int64_t i64(std::string_view key) const
	{
		int64_t v = 0;
		INFO("key " << key);
		REQUIRE(at(key).get(v) == simdjson::SUCCESS);
		return v;
	}

	uint64_t u64(std::string_view key) const
	{
		uint64_t v = 0;
		INFO("key " << key);
		REQUIRE(at(key).get(v) == simdjson::SUCCESS);
		return v;
	}

	bool boolean(std::string_view key) const
	{
		bool v = false;
		INFO("key " << key);
		REQUIRE(at(key).get(v) == simdjson::SUCCESS);
		return v;
	}

	// "pid_tree" as "pid:comm" strings, the caller first; each entry must have exactly those keys.
	std::vector<std::string> pid_tree() const
	{
		simdjson::dom::array a;
		REQUIRE(at("pid_tree").get(a) == simdjson::SUCCESS);
		std::vector<std::string> out;
		for (auto e : a) {
			simdjson::dom::object o;
			REQUIRE(e.get(o) == simdjson::SUCCESS);
			REQUIRE(o.size() == 2);
			int64_t pid = 0;
			std::string_view comm;
			REQUIRE(o["pid"].get(pid) == simdjson::SUCCESS);
			REQUIRE(o["comm"].get(comm) == simdjson::SUCCESS);
			out.push_back(std::to_string(pid) + ":" + std::string(comm));
		}
		return out;
	}

	std::vector<std::string> strings(std::string_view key) const
	{
		simdjson::dom::array a;
		INFO("key " << key);
		REQUIRE(at(key).get(a) == simdjson::SUCCESS);
		std::vector<std::string> out;
		for (auto e : a) {
			std::string_view v;
			REQUIRE(e.get(v) == simdjson::SUCCESS);
			out.emplace_back(v);
		}
		return out;
	}
};

} // namespace smith::test
