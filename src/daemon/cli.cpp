#include "daemon/cli.h"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include "smith/version.h"

namespace smith::daemon {

std::optional<Config> parse_command_line(int argc, char **argv, int *exit_code)
{
	Config config;
	std::string config_path = kDefaultConfigPath;

	CLI::App app{
		"smithd: Linux host security event collector (execve, connect, module loads -> JSON events)",
		"smithd"};
	app.set_version_flag("--version", std::string("smithd ") + SMITH_VERSION);
	auto *o_config = app.add_option("--config", config_path, "YAML config file")->capture_default_str();
	auto *o_backend = app.add_option("--backend", config.backend, "auto | ebpf | lkm")
				  ->check(CLI::IsMember({"auto", "ebpf", "lkm"}));
	auto *o_sink = app.add_option("--sink", config.sink, "stdout | file | kafka")
			       ->check(CLI::IsMember({"stdout", "file", "kafka"}));
	std::string brokers;
	auto *o_brokers =
		app.add_option("--brokers", brokers, "kafka bootstrap servers (implies --sink kafka)");
	auto *o_topic =
		app.add_option("--topic", config.topic, "kafka topic for events (default smith-events)");
	auto *o_spool = app.add_option("--spool-dir", config.spool_dir,
				       "spool directory (default /var/lib/smith/spool)");
	auto *o_state = app.add_option("--state-file", config.state_file,
				       "where whether the last run stopped cleanly is kept (default "
				       "/var/lib/smith/smithd.state; \"\" keeps nothing)");
	auto *o_durability =
		app.add_option("--durability", config.durability,
			       "kafka: disk (every event journaled in the spool first) | memory");
	auto *o_heartbeat = app.add_option("--heartbeat-interval", config.heartbeat_interval,
					   "seconds between heartbeats (0: off)");
	auto *o_output = app.add_option("--output", config.output, "file sink path (implies --sink file)");
	auto *o_pid = app.add_option("--pid-file", config.pid_file, "pid file (default /run/smith.pid)");
	auto *o_socket =
		app.add_option("--socket", config.socket, "control socket (default /run/smith/smithd.sock)");
	auto *o_level =
		app.add_option("--log-level", config.log_level, "trace | debug | info | warn | error");
	auto *o_log = app.add_option("--log-file", config.log_file, "also log to this file");
	auto *o_ring = app.add_option("--ringbuf-bytes", config.ringbuf_bytes,
				      "eBPF ring buffer size (power of two)");
	auto *o_attach =
		app.add_option("--bpf-attach", config.bpf_attach,
			       "eBPF syscall hooks: auto | fexit (trampolines) | sys_exit (tracepoint)");
	auto *o_bpf_ring =
		app.add_option("--bpf-ring", config.bpf_ring,
			       "eBPF ring buffers: shared (one for all CPUs) | percpu (one per CPU, "
			       "--ringbuf-bytes shared out among them)");
	auto *o_pin_dir =
		app.add_option("--bpf-pin-dir", config.bpf_pin_dir,
			       "bpffs directory the eBPF ring is pinned in, so that a killed smithd's "
			       "records wait for the next start (\"\": not pinned)");
	auto *o_lkm_module =
		app.add_option("--lkm-module", config.lkm_module,
			       "smith.ko to load when /dev/smith is absent (default: modprobe smith)");
	auto *o_budget_rate = app.add_option(
		"--connect-budget-rate", config.connect_budget_rate,
		"connect events per second each process may have before the rest are counted (0: no budget)");
	auto *o_budget_burst = app.add_option("--connect-budget-burst", config.connect_budget_burst,
					      "connect events each process may have at once");
	auto *o_timing =
		app.add_option("--hook-timing", config.hook_timing,
			       "time each hook in the kernel: calls, mean and p99 in status and metrics "
			       "(true|false; default false)");
	auto *o_metrics =
		app.add_option("--metrics-listen", config.metrics_listen,
			       "serve Prometheus metrics on ADDRESS:PORT, as 127.0.0.1:9464 (\"\": off)");
	app.add_option("--record", config.record, "also write the raw records to this file, for --replay");
	app.add_option("--replay", config.replay, "read raw records from this file instead of the kernel");
	app.add_flag("--foreground,-f", config.foreground, "stay in the foreground (logs on stderr)");

	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		*exit_code = app.exit(e);
		return std::nullopt;
	}

	// The file gives defaults; options given on the command line win.
	Config from_file;
	load_config_file(config_path, o_config->count() > 0, from_file);
	auto keep = [](CLI::Option *opt, auto &value, const auto &file_value) {
		if (opt->count() == 0)
			value = file_value;
	};
	keep(o_backend, config.backend, from_file.backend);
	keep(o_sink, config.sink, from_file.sink);
	keep(o_output, config.output, from_file.output);
	keep(o_pid, config.pid_file, from_file.pid_file);
	keep(o_socket, config.socket, from_file.socket);
	keep(o_level, config.log_level, from_file.log_level);
	keep(o_log, config.log_file, from_file.log_file);
	keep(o_ring, config.ringbuf_bytes, from_file.ringbuf_bytes);
	keep(o_attach, config.bpf_attach, from_file.bpf_attach);
	keep(o_pin_dir, config.bpf_pin_dir, from_file.bpf_pin_dir);
	keep(o_bpf_ring, config.bpf_ring, from_file.bpf_ring);
	keep(o_topic, config.topic, from_file.topic);
	keep(o_spool, config.spool_dir, from_file.spool_dir);
	keep(o_state, config.state_file, from_file.state_file);
	keep(o_heartbeat, config.heartbeat_interval, from_file.heartbeat_interval);
	keep(o_durability, config.durability, from_file.durability);
	keep(o_lkm_module, config.lkm_module, from_file.lkm_module);
	keep(o_budget_rate, config.connect_budget_rate, from_file.connect_budget_rate);
	keep(o_budget_burst, config.connect_budget_burst, from_file.connect_budget_burst);
	keep(o_metrics, config.metrics_listen, from_file.metrics_listen);
	keep(o_timing, config.hook_timing, from_file.hook_timing);
	if (o_lkm_module->count() > 0 && !config.lkm_module.empty()) // smithd chdirs to / as a daemon
		config.lkm_module = std::filesystem::absolute(config.lkm_module).string();
	config.lkm_ring_kb = from_file.lkm_ring_kb;
	config.heartbeat_topic = from_file.heartbeat_topic;
	config.spool_max_bytes = from_file.spool_max_bytes;
	config.kafka = from_file.kafka;
	if (o_brokers->count() > 0) {
		config.kafka["bootstrap.servers"] = brokers;
		if (o_sink->count() == 0)
			config.sink = "kafka";
	}
	if (!config.output.empty() && o_sink->count() == 0 && o_brokers->count() == 0 &&
	    from_file.sink == "stdout")
		config.sink = "file";
	if (!config.replay.empty())
		config.backend = "replay";
	validate(config);
	*exit_code = 0;
	return config;
}

} // namespace smith::daemon
