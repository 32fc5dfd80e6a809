// smithd: hooks execve, connect and module loads, and writes one schema v1
// JSON event per call to the configured sink.
//
// Error policy: user errors (options, config, an unusable kernel) are thrown as
// one of the exception types below and reported here, once, with exit code 1.
// Recoverable runtime errors (a bad record, a failed write) are counted and
// shown by smithctl status; they never stop the daemon.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <nss.h>
#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "backend/backend_choice.h"
#include "backend/replay_backend.h"
#include "daemon/config.h"
#include "daemon/control_server.h"
#include "daemon/pid_file.h"
#include "daemon/pipeline.h"
#include "daemon/systemd_notify.h"
#include "event/normalizer.h"
#include "sink/file_sink.h"
#include "sink/kafka_sink.h"
#include "smith/version.h"

namespace {

using namespace smith;

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reopen{false};

extern "C" void on_signal(int sig)
{
	if (sig == SIGHUP)
		g_reopen.store(true);
	else
		g_stop.store(true);
}

void install_signal_handlers()
{
	struct sigaction sa {};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (int sig : {SIGTERM, SIGINT, SIGHUP})
		sigaction(sig, &sa, nullptr);
	signal(SIGPIPE, SIG_IGN);
}

void setup_logging(const daemon::Config &c)
{
	std::vector<spdlog::sink_ptr> sinks;
	sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
	if (!c.log_file.empty())
		sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(c.log_file));
	auto logger = std::make_shared<spdlog::logger>("smithd", sinks.begin(), sinks.end());
	logger->set_level(spdlog::level::from_str(c.log_level));
	logger->flush_on(spdlog::level::info);
	spdlog::set_default_logger(logger);
}

// Detaches from the terminal: fork, new session, fork, stdio to /dev/null.
void daemonize()
{
	if (pid_t pid = fork(); pid < 0)
		throw daemon::ConfigError(fmt::format("fork failed: {}", std::strerror(errno)));
	else if (pid > 0)
		_exit(0);
	setsid();
	if (pid_t pid = fork(); pid < 0)
		_exit(1);
	else if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		_exit(1);
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

std::string kernel_release()
{
	utsname u{};
	uname(&u);
	return u.release;
}

// A static glibc loads NSS modules other than its built-in "files" and "dns" with dlopen, from
// the host's glibc of whatever version: unsafe for one binary that runs from glibc 2.17 on. The
// static build uses the built-in modules only: user names from /etc/passwd, hosts from
// /etc/hosts and DNS.
void use_builtin_nss_only()
{
#ifdef SMITH_STATIC_BUILD
	__nss_configure_lookup("passwd", "files");
	__nss_configure_lookup("group", "files");
	__nss_configure_lookup("hosts", "files dns");
#endif
}

int run(daemon::Config &config)
{
	setup_logging(config);
	if (!config.foreground)
		daemonize();
	install_signal_handlers();
	use_builtin_nss_only();
	daemon::SystemdNotify systemd; // before the backend, which may run modprobe

	// The sink first: a bad setting there fails at once, not after the programs load.
	std::unique_ptr<sink::Sink> sink;
	if (config.sink == "kafka") {
		sink::KafkaOptions kafka;
		kafka.topic = config.topic;
		kafka.heartbeat_topic = config.heartbeat_topic;
		kafka.properties = config.kafka;
		kafka.spool.dir = config.spool_dir;
		kafka.spool.max_bytes = config.spool_max_bytes;
		sink = std::make_unique<sink::KafkaSink>(kafka);
	} else if (config.sink == "file") {
		sink = std::make_unique<sink::FileSink>(config.output);
	} else {
		sink = std::make_unique<sink::FileSink>();
	}

	// Then the backend: it decides what the kernel can do, and may take a while to load.
	std::unique_ptr<backend::Backend> backend;
	std::string reason;
	if (config.backend == "replay") {
		backend = std::make_unique<backend::ReplayBackend>(config.replay);
		backend->start();
		reason = "requested with --replay";
	} else {
		backend::EbpfOptions ebpf;
		ebpf.ringbuf_bytes = config.ringbuf_bytes;
		backend::LkmOptions lkm;
		lkm.module_path = config.lkm_module;
		lkm.ring_kb = config.lkm_ring_kb;
		auto choice = backend::choose_backend(config.backend, ebpf, lkm);
		backend = std::move(choice.backend);
		reason = choice.reason;
	}
	spdlog::info("backend {}: {}", backend->name(), reason);

	event::HostInfo host = event::detect_host_info(backend->event_backend());
	if (backend->boot_to_epoch_ns() != 0)
		host.boot_to_epoch_ns = backend->boot_to_epoch_ns();
	std::unique_ptr<backend::ReplayWriter> recorder;
	if (!config.record.empty())
		recorder = std::make_unique<backend::ReplayWriter>(config.record, host.boot_to_epoch_ns);
	event::Normalizer normalizer(host);

	daemon::Pipeline pipeline(*backend, normalizer, *sink,
				  {reason, kernel_release(), std::chrono::seconds(config.heartbeat_interval)},
				  recorder.get());
	daemon::ControlServer control(config.socket, [&pipeline] { return pipeline.status_json(); });
	control.start();
	daemon::PidFile pid_file(config.pid_file);
	spdlog::info("smithd {} running: run_id {}, sink {} {}, control socket {}", SMITH_VERSION,
		     host.run_id, config.sink, config.sink == "file" ? config.output : "", config.socket);

	systemd.send(fmt::format("READY=1\nSTATUS=backend {}, sink {}", backend->name(), config.sink));

	pipeline.run(g_stop, g_reopen);
	systemd.send("STOPPING=1");
	control.stop();
	sink->close();
	backend->stop();
	spdlog::info("smithd stopped after {} events", pipeline.last_seq());
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	daemon::Config config;
	std::string config_path = daemon::kDefaultConfigPath;

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
	auto *o_lkm_module =
		app.add_option("--lkm-module", config.lkm_module,
			       "smith.ko to load when /dev/smith is absent (default: modprobe smith)");
	app.add_option("--record", config.record, "also write the raw records to this file, for --replay");
	app.add_option("--replay", config.replay, "read raw records from this file instead of the kernel");
	app.add_flag("--foreground,-f", config.foreground, "stay in the foreground (logs on stderr)");

	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		return app.exit(e);
	}

	try {
		// The file gives defaults; options given on the command line win.
		daemon::Config from_file;
		daemon::load_config_file(config_path, o_config->count() > 0, from_file);
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
		keep(o_topic, config.topic, from_file.topic);
		keep(o_spool, config.spool_dir, from_file.spool_dir);
		keep(o_heartbeat, config.heartbeat_interval, from_file.heartbeat_interval);
		keep(o_lkm_module, config.lkm_module, from_file.lkm_module);
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
		daemon::validate(config);
		return run(config);
	} catch (const daemon::ConfigError &e) {
		fmt::print(stderr, "smithd: {}\n", e.what());
	} catch (const backend::BackendError &e) {
		fmt::print(stderr, "smithd: {}\n", e.what());
	} catch (const sink::SinkError &e) {
		fmt::print(stderr, "smithd: {}\n", e.what());
	} catch (const std::exception &e) {
		fmt::print(stderr, "smithd: {}\n", e.what());
	}
	return 1;
}
