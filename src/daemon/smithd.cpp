#include "daemon/smithd.h"

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
#include <memory>

#include "backend/backend_choice.h"
#include "backend/replay_backend.h"
#include "control/prometheus.h"
#include "daemon/control_server.h"
#include "daemon/detach.h"
#include "daemon/metrics_server.h"
#include "daemon/pid_file.h"
#include "daemon/pipeline.h"
#include "daemon/run_state.h"
#include "daemon/systemd_notify.h"
#include "event/normalizer.h"
#include "sink/file_sink.h"
#include "sink/kafka_sink.h"
#include "smith/version.h"

namespace smith::daemon {
namespace {

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

void setup_logging(const Config &c)
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

} // namespace

int run_daemon(Config &config)
{
	setup_logging(config);
	if (!config.foreground)
		detach();
	install_signal_handlers();
	use_builtin_nss_only();
	SystemdNotify systemd; // before the backend, which may run modprobe

	// One instance: the locks come before anything that touches the spool, the kernel or the
	// control socket, so a second smithd stops having changed nothing.
	LockFile pid_file(config.pid_file, "pid file");
	std::unique_ptr<LockFile> spool_lock;
	if (config.sink == "kafka")
		spool_lock = std::make_unique<LockFile>(config.spool_dir + "/lock", "spool directory");

	// The metrics port before the sink: one in use fails at once, not after the programs load.
	// Connections wait in its backlog until the pipeline is there to answer them.
	std::unique_ptr<MetricsServer> metrics;
	if (!config.metrics_listen.empty())
		metrics = std::make_unique<MetricsServer>(parse_listen_address(config.metrics_listen));

	// Then the sink: a bad setting there fails at once, not after the programs load.
	std::unique_ptr<sink::Sink> sink;
	if (config.sink == "kafka") {
		sink::KafkaOptions kafka;
		kafka.topic = config.topic;
		kafka.heartbeat_topic = config.heartbeat_topic;
		kafka.properties = config.kafka;
		kafka.spool.dir = config.spool_dir;
		kafka.spool.max_bytes = config.spool_max_bytes;
		kafka.durable = config.durability == "disk";
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
		ebpf.attach = config.bpf_attach;
		ebpf.ring = config.bpf_ring;
		ebpf.pin_dir = config.bpf_pin_dir;
		ebpf.hook_timing = config.hook_timing;
		ebpf.connect_budget_rate = config.connect_budget_rate;
		ebpf.connect_budget_burst = config.connect_budget_burst;
		backend::LkmOptions lkm;
		lkm.module_path = config.lkm_module;
		lkm.ring_kb = config.lkm_ring_kb;
		lkm.connect_budget_rate = config.connect_budget_rate;
		lkm.connect_budget_burst = config.connect_budget_burst;
		lkm.hook_timing = config.hook_timing;
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

	StatusContext context{reason, kernel_release(), std::chrono::seconds(config.heartbeat_interval)};
	context.own_records = config.backend != "replay"; // a replay gives the recorded events, nothing else
	// How the run before this one ended is in the very first status the control socket serves.
	const bool record_run = !config.state_file.empty() && config.backend != "replay";
	if (record_run) {
		const PreviousRun prev = begin_run(config.state_file, host.run_id);
		context.previous_run_id = prev.run_id;
		context.previous_run_clean = prev.clean_stop;
	}
	Pipeline pipeline(*backend, normalizer, *sink, std::move(context), recorder.get());
	ControlServer control(config.socket, [&pipeline] { return pipeline.status_json(); });
	control.start();
	// The metrics thread reads the pipeline: it ends before the pipeline does, however this returns.
	struct StopMetrics {
		MetricsServer *server;
		~StopMetrics()
		{
			if (server)
				server->stop();
		}
	} stop_metrics{metrics.get()};
	if (metrics)
		metrics->start([&pipeline] { return control::status_to_prometheus(pipeline.status()); });
	spdlog::info("smithd {} running: run_id {}, sink {} {}, control socket {}", SMITH_VERSION,
		     host.run_id, config.sink, config.sink == "file" ? config.output : "", config.socket);

	systemd.send(fmt::format("READY=1\nSTATUS=backend {}, sink {}", backend->name(), config.sink));
	report_ready();

	pipeline.run(g_stop, g_reopen);
	systemd.send("STOPPING=1");
	control.stop();
	if (metrics)
		metrics->stop();
	sink->close();
	backend->stop();
	if (record_run)
		end_run(config.state_file, host.run_id);
	spdlog::info("smithd stopped after {} events", pipeline.last_seq());
	return 0;
}

} // namespace smith::daemon
