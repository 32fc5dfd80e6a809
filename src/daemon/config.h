// smithd's configuration: defaults, then /etc/smith/smithd.yaml (or --config),
// then command-line options, each overriding the one before.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "smith/budget.h"

namespace smith::daemon {

// A user error in the configuration or the options: fatal, reported in main.
class ConfigError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

inline constexpr const char *kDefaultConfigPath = "/etc/smith/smithd.yaml";

struct Config {
	std::string backend = "auto"; // auto | ebpf | lkm | replay
	std::string sink = "stdout";  // stdout | file | kafka
	std::string output;	      // the file sink's path
	std::string pid_file = "/run/smith.pid";
	std::string socket = "/run/smith/smithd.sock"; // control socket
	std::string log_level = "info";		       // trace | debug | info | warn | error
	std::string log_file;			       // also log here ("" = stderr only)
	uint32_t ringbuf_bytes = 8u << 20;	       // eBPF ring buffer size, a power of two
	std::string bpf_attach = "auto";	       // auto | fexit | sys_exit (EbpfOptions::attach)
	std::string bpf_ring = "shared";	       // shared | percpu (EbpfOptions::ring)
	std::string bpf_pin_dir = "/sys/fs/bpf/smith"; // where the eBPF ring is pinned; "": not pinned
	std::string record;			       // also write raw records here, for replay
	std::string replay;			       // replay backend input file
	std::string lkm_module;	  // smith.ko to load when /dev/smith is absent ("" = modprobe)
	uint32_t lkm_ring_kb = 0; // smith.ko ring_kb= parameter; 0 = the module's default
	// Each process's budget of connect events (include/smith/budget.h): per second, and at once.
	// A rate of 0 turns it off.
	uint32_t connect_budget_rate = SMITH_BUDGET_RATE_DEFAULT;
	uint32_t connect_budget_burst = SMITH_BUDGET_BURST_DEFAULT;
	bool foreground = false;
	// Time each hook in the kernel (EbpfOptions::hook_timing, LkmOptions::hook_timing): per-hook
	// calls, mean and p99 in smithctl status and the metrics.
	bool hook_timing = false;
	// The Prometheus listener (metrics_server.h): "ADDRESS:PORT", as 127.0.0.1:9464; "" = none.
	std::string metrics_listen;

	// The kafka sink.
	std::map<std::string, std::string> kafka; // librdkafka properties ("kafka:" map)
	std::string topic = "smith-events";
	std::string heartbeat_topic = "smith-heartbeat";
	uint32_t heartbeat_interval = 30; // seconds between heartbeats; 0 turns them off
	std::string spool_dir = "/var/lib/smith/spool";
	// Whether the previous run stopped cleanly is kept here (run_state.h); "" keeps nothing.
	std::string state_file = "/var/lib/smith/smithd.state";
	uint64_t spool_max_bytes = 1ull << 30;
	// disk: every event is in the spool's journal before librdkafka has it (kill -9 loses nothing);
	// memory: events wait in librdkafka's queue and reach the spool only when it is full.
	std::string durability = "disk";
};

// Reads a YAML config file into `config`. Unknown keys, wrong types and bad
// values are errors that name the file, line and key. A missing file is an
// error only when `required` (the user named it with --config).
void load_config_file(const std::string &path, bool required, Config &config);

// Checks the combination of settings; throws ConfigError with what to change.
void validate(const Config &config);

} // namespace smith::daemon
