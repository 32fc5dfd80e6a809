#include "daemon/config.h"

#include "daemon/metrics_server.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>

namespace smith::daemon {
namespace {

const std::set<std::string> kBackends = {"auto", "ebpf", "lkm", "replay"};
const std::set<std::string> kSinks = {"stdout", "file", "kafka"};
const std::set<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error"};

std::string where(const std::string &path, const YAML::Node &node)
{
	return fmt::format("{}:{}", path, node.Mark().line + 1);
}

template <typename T> T get(const std::string &path, const std::string &key, const YAML::Node &node)
{
	try {
		return node.as<T>();
	} catch (const YAML::Exception &) {
		throw ConfigError(
			fmt::format("{}: '{}' has a value of the wrong type", where(path, node), key));
	}
}

void one_of(const std::string &what, const std::string &value, const std::set<std::string> &allowed)
{
	if (!allowed.count(value)) {
		std::string list;
		for (const auto &a : allowed)
			list += (list.empty() ? "" : ", ") + a;
		throw ConfigError(fmt::format("{} '{}' is not one of: {}", what, value, list));
	}
}

// smith.ko takes ring_kb as a power of two from 64 to 1048576; 0 leaves the module's default.
bool lkm_ring_kb_ok(uint32_t kb)
{
	return kb == 0 || (kb >= 64 && kb <= (1u << 20) && (kb & (kb - 1)) == 0);
}

std::string lkm_ring_kb_error(uint32_t kb)
{
	return fmt::format("lkm_ring_kb {} must be a power of two from 64 to 1048576 (KiB per CPU), or 0 for "
			   "the module's default",
			   kb);
}

} // namespace

void load_config_file(const std::string &path, bool required, Config &c)
{
	std::error_code ec;
	if (!std::filesystem::exists(path, ec)) {
		if (required)
			throw ConfigError(fmt::format("config file {} does not exist", path));
		return;
	}
	YAML::Node root;
	try {
		root = YAML::LoadFile(path);
	} catch (const YAML::Exception &e) {
		throw ConfigError(fmt::format("{}:{}: not valid YAML: {}", path, e.mark.line + 1, e.msg));
	}
	if (root.IsNull())
		return; // an empty file: all defaults
	if (!root.IsMap())
		throw ConfigError(fmt::format("{}: the top level must be a mapping of settings", path));

	for (const auto &kv : root) {
		const std::string key = kv.first.as<std::string>();
		const YAML::Node &v = kv.second;
		if (key == "backend")
			c.backend = get<std::string>(path, key, v);
		else if (key == "sink")
			c.sink = get<std::string>(path, key, v);
		else if (key == "output")
			c.output = get<std::string>(path, key, v);
		else if (key == "pid_file")
			c.pid_file = get<std::string>(path, key, v);
		else if (key == "socket")
			c.socket = get<std::string>(path, key, v);
		else if (key == "log_level")
			c.log_level = get<std::string>(path, key, v);
		else if (key == "log_file")
			c.log_file = get<std::string>(path, key, v);
		else if (key == "ringbuf_bytes")
			c.ringbuf_bytes = get<uint32_t>(path, key, v);
		else if (key == "bpf_attach")
			c.bpf_attach = get<std::string>(path, key, v);
		else if (key == "bpf_ring")
			c.bpf_ring = get<std::string>(path, key, v);
		else if (key == "hook_timing")
			c.hook_timing = get<bool>(path, key, v);
		else if (key == "bpf_pin_dir")
			c.bpf_pin_dir = get<std::string>(path, key, v);
		else if (key == "lkm_module") {
			c.lkm_module = get<std::string>(path, key, v);
			if (c.lkm_module.empty() || c.lkm_module.front() != '/')
				throw ConfigError(
					fmt::format("{}: 'lkm_module' must be an absolute path to smith.ko, "
						    "not '{}'",
						    where(path, v), c.lkm_module));
		} else if (key == "lkm_ring_kb") {
			c.lkm_ring_kb = get<uint32_t>(path, key, v);
			if (!lkm_ring_kb_ok(c.lkm_ring_kb))
				throw ConfigError(fmt::format("{}: {}", where(path, v),
							      lkm_ring_kb_error(c.lkm_ring_kb)));
		} else if (key == "connect_budget_rate")
			c.connect_budget_rate = get<uint32_t>(path, key, v);
		else if (key == "connect_budget_burst")
			c.connect_budget_burst = get<uint32_t>(path, key, v);
		else if (key == "topic")
			c.topic = get<std::string>(path, key, v);
		else if (key == "heartbeat_topic")
			c.heartbeat_topic = get<std::string>(path, key, v);
		else if (key == "heartbeat_interval")
			c.heartbeat_interval = get<uint32_t>(path, key, v);
		else if (key == "spool_dir")
			c.spool_dir = get<std::string>(path, key, v);
		else if (key == "state_file")
			c.state_file = get<std::string>(path, key, v);
		else if (key == "spool_max_bytes")
			c.spool_max_bytes = get<uint64_t>(path, key, v);
		else if (key == "metrics_listen")
			c.metrics_listen = get<std::string>(path, key, v);
		else if (key == "durability")
			c.durability = get<std::string>(path, key, v);
		else if (key == "kafka") {
			if (!v.IsMap())
				throw ConfigError(
					fmt::format("{}: 'kafka' must be a mapping of librdkafka properties",
						    where(path, v)));
			for (const auto &prop : v) {
				const std::string name = prop.first.as<std::string>();
				if (!prop.second.IsScalar())
					throw ConfigError(
						fmt::format("{}: kafka property '{}' must be a single value",
							    where(path, prop.second), name));
				c.kafka[name] = prop.second.as<std::string>();
			}
		} else
			throw ConfigError(
				fmt::format("{}: unknown setting '{}'", where(path, kv.first), key));
	}
}

void validate(const Config &c)
{
	one_of("backend", c.backend, kBackends);
	one_of("sink", c.sink, kSinks);
	one_of("log level", c.log_level, kLogLevels);
	one_of("durability", c.durability, {"disk", "memory"});
	one_of("bpf_attach", c.bpf_attach, {"auto", "fexit", "sys_exit"});
	one_of("bpf_ring", c.bpf_ring, {"shared", "percpu"});
	if (c.sink == "file" && c.output.empty())
		throw ConfigError(
			"sink 'file' needs an output path (--output PATH or 'output:' in the config)");
	auto brokers = c.kafka.find("bootstrap.servers");
	if (c.sink == "kafka" && (brokers == c.kafka.end() || brokers->second.empty()))
		throw ConfigError("sink 'kafka' needs brokers (--brokers HOST:PORT or "
				  "kafka.bootstrap.servers in the config)");
	if (c.sink == "kafka" && c.topic.empty())
		throw ConfigError("sink 'kafka' needs a topic");
	if (c.backend == "replay" && c.replay.empty())
		throw ConfigError("backend 'replay' needs a file to replay (--replay FILE)");
	if (c.ringbuf_bytes < 4096 || (c.ringbuf_bytes & (c.ringbuf_bytes - 1)) != 0)
		throw ConfigError(fmt::format("ringbuf_bytes {} must be a power of two of at least 4096",
					      c.ringbuf_bytes));
	if (!lkm_ring_kb_ok(c.lkm_ring_kb))
		throw ConfigError(lkm_ring_kb_error(c.lkm_ring_kb));
	if (c.connect_budget_rate > 1000000000u)
		throw ConfigError(fmt::format("connect_budget_rate {} must be at most 1000000000 (events per "
					      "second), or 0 to turn the budget off",
					      c.connect_budget_rate));
	if (c.connect_budget_rate > 0 && c.connect_budget_burst == 0)
		throw ConfigError("connect_budget_burst must be at least 1 while connect_budget_rate is set");
	if (!c.lkm_module.empty() && c.lkm_module.front() != '/')
		throw ConfigError(fmt::format("lkm_module '{}' must be an absolute path", c.lkm_module));
	if (!c.metrics_listen.empty() && parse_listen_address(c.metrics_listen).port == 0)
		throw ConfigError(
			fmt::format("metrics_listen '{}' needs a port from 1 to 65535, where Prometheus "
				    "can find it",
				    c.metrics_listen));
	if (c.sink == "stdout" && !c.foreground)
		throw ConfigError("sink 'stdout' needs --foreground (a daemon has no terminal); use --sink "
				  "file --output PATH");
}

} // namespace smith::daemon
