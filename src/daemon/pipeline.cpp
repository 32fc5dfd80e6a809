#include "daemon/pipeline.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <time.h>

#include "json/json_writer.h"
#include "smith/version.h"

namespace smith::daemon {
namespace {

constexpr auto kPollTimeout = std::chrono::milliseconds(100);
constexpr auto kPublishInterval = std::chrono::milliseconds(100);

double cpu_seconds()
{
	rusage ru{};
	getrusage(RUSAGE_SELF, &ru);
	auto sec = [](const timeval &tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
	return sec(ru.ru_utime) + sec(ru.ru_stime);
}

uint64_t wall_clock_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_REALTIME, &ts);
	return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// data_type of smithd's own records: 2000 + n, clear of the syscall numbers and 1000 + them.
constexpr int64_t kDataTypeRunStart = 2001;
constexpr int64_t kDataTypeRunEnd = 2002;
constexpr int64_t kDataTypeLoss = 2003;

uint64_t rss_bytes()
{
	std::ifstream statm("/proc/self/statm");
	uint64_t size = 0, resident = 0;
	statm >> size >> resident;
	return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

} // namespace

Pipeline::Pipeline(backend::Backend &backend, event::Normalizer &normalizer, sink::Sink &sink,
		   StatusContext context, backend::ReplayWriter *recorder)
    : backend_(backend), normalizer_(normalizer), sink_(sink), recorder_(recorder),
      context_(std::move(context)), started_(std::chrono::steady_clock::now())
{
	line_.reserve(1 << 16);
	last_cpu_sample_ = started_;
	last_heartbeat_ = started_ - context_.heartbeat_interval; // the first one goes out at once
	publish();
}

void Pipeline::on_record(std::span<const std::byte> record)
{
	if (recorder_)
		recorder_->write(record);
	line_.clear();
	event::NormalizeResult r = normalizer_.append_json(record, seq_ + 1, line_);
	if (!r.ok) {
		decode_errors_++;
		if (decode_errors_ <= 10 || decode_errors_ % 10000 == 0)
			spdlog::warn("skipped a raw record that cannot be decoded ({}); {} so far", r.error,
				     decode_errors_);
		return;
	}
	if (!r.event)
		return; // a record about processes: it keeps no seq
	seq_++;
	const size_t type = control::event_type_index(r.type);
	received_[type]++;
	suppressed_connects_ += r.suppressed;
	if (sink_.write(line_, normalizer_.host().host_id))
		sent_[type]++;
}

template <typename Fill> void Pipeline::write_own(const char *type, int64_t data_type, Fill fill)
{
	if (!context_.own_records)
		return;
	const auto &host = normalizer_.host();
	line_.clear();
	{
		json::JsonWriter w(line_);
		w.begin_object();
		w.field("schema", int64_t{1});
		w.field("seq", seq_ + 1);
		w.field("run_id", std::string_view(host.run_id));
		w.field("ts", wall_clock_ns());
		w.field("type", type);
		w.field("data_type", data_type);
		w.field("backend", std::string_view(host.backend));
		w.field("hostname", std::string_view(host.hostname));
		w.field("host_id", std::string_view(host.host_id));
		fill(w);
		w.end_object();
	}
	line_.push_back('\n');
	seq_++;
	own_records_++;
	sink_.write(line_, host.host_id);
}

void Pipeline::emit_run_start()
{
	write_own("run_start", kDataTypeRunStart, [&](json::JsonWriter &w) {
		w.field("first_seq", seq_ + 1);
		w.field("version", SMITH_VERSION);
		w.field("kernel", std::string_view(context_.kernel));
		w.field("backend_reason", std::string_view(context_.backend_reason));
		w.field("previous_run_id", std::string_view(context_.previous_run_id));
		w.field("previous_clean_stop", context_.previous_run_clean);
	});
}

void Pipeline::emit_loss_if_any()
{
	std::array<uint64_t, control::kHookCount> now{};
	for (const auto &h : backend_.hooks())
		for (size_t i = 0; i < control::kHookCount; ++i)
			if (h.name == control::kHookNames[i])
				now[i] = h.kernel_drops;
	uint64_t dropped = 0, total = 0;
	for (size_t i = 0; i < control::kHookCount; ++i) {
		dropped += now[i] > drops_reported_[i] ? now[i] - drops_reported_[i] : 0;
		total += now[i];
	}
	if (dropped == 0)
		return;
	write_own("loss", kDataTypeLoss, [&](json::JsonWriter &w) {
		w.field("dropped", dropped);
		for (size_t i = 0; i < control::kHookCount; ++i)
			w.field(std::string("dropped_") + control::kHookNames[i],
				now[i] > drops_reported_[i] ? now[i] - drops_reported_[i] : uint64_t{0});
		w.field("dropped_since_start", total);
	});
	drops_reported_ = now;
}

void Pipeline::emit_run_end()
{
	uint64_t total = 0;
	for (uint64_t d : drops_reported_)
		total += d;
	write_own("run_end", kDataTypeRunEnd, [&](json::JsonWriter &w) {
		w.field("first_seq", uint64_t{1});
		w.field("last_seq", seq_ + 1);
		w.field("dropped_since_start", total);
		w.field("decode_errors", decode_errors_);
	});
}

void Pipeline::run(const std::atomic<bool> &stop, std::atomic<bool> &reopen)
{
	emit_run_start();
	bool ended = false;
	while (!stop.load(std::memory_order_relaxed)) {
		long n = backend_.poll(kPollTimeout, *this);
		if (n == backend::PollEnd) {
			ended = true;
			break;
		}
		if (reopen.exchange(false))
			sink_.reopen();
		auto now = std::chrono::steady_clock::now();
		if (n == 0 || now - last_publish_ >= kPublishInterval) {
			// Records are stamped with boot time, which a step of the wall clock leaves alone;
			// the offset to epoch time is measured again at least every kPublishInterval.
			// Replayed records keep the offset they were recorded with.
			if (backend_.boot_to_epoch_ns() == 0)
				normalizer_.set_boot_to_epoch_ns(event::measure_boot_to_epoch_ns());
			emit_loss_if_any();
			sink_.flush();
			if (recorder_)
				recorder_->flush();
			publish();
			if (context_.heartbeat_interval.count() > 0 &&
			    now - last_heartbeat_ >= context_.heartbeat_interval) {
				last_heartbeat_ = now;
				sink_.heartbeat(status_json());
			}
		}
	}
	if (!ended) {
		// Orderly stop: no new records, then everything already queued.
		backend_.detach();
		while (backend_.poll(std::chrono::milliseconds(0), *this) > 0) {
		}
	}
	emit_loss_if_any();
	emit_run_end();
	sink_.flush();
	if (recorder_)
		recorder_->flush();
	publish(true);
	// The consumers of heartbeats learn that this run stopped, and that it stopped cleanly.
	if (context_.heartbeat_interval.count() > 0)
		sink_.heartbeat(status_json());
	spdlog::info("pipeline stopped after {} events ({} records skipped)", seq_, decode_errors_);
}

void Pipeline::publish(bool stopping)
{
	auto now = std::chrono::steady_clock::now();
	last_publish_ = now;
	control::StatusSnapshot s;
	const auto &host = normalizer_.host();
	s.version = SMITH_VERSION;
	s.pid = getpid();
	s.uptime_seconds = std::chrono::duration<double>(now - started_).count();
	s.time = static_cast<double>(wall_clock_ns()) / 1e9;
	s.heartbeat_interval_seconds = static_cast<uint64_t>(context_.heartbeat_interval.count());
	s.hostname = host.hostname;
	s.host_id = host.host_id;
	s.run_id = host.run_id;
	s.kernel = context_.kernel;
	s.backend = backend_.name();
	s.backend_reason = context_.backend_reason;
	s.previous_run_id = context_.previous_run_id;
	s.previous_run_clean = context_.previous_run_clean;
	s.stopping = stopping;
	s.hooks = backend_.hooks();
	s.hook_timing = backend_.hook_timing();
	s.programs = backend_.programs();
	s.rings = backend_.rings();
	s.received = received_;
	s.sent = sent_;
	s.decode_errors = decode_errors_;
	s.suppressed_connects = suppressed_connects_;
	s.last_seq = seq_;
	s.own_records = own_records_;
	s.sink = sink_.status();
	s.queue_depth = s.sink.in_flight;
	s.spool_bytes = s.sink.spool_bytes;
	s.rss_bytes = rss_bytes();
	s.cpu_seconds = cpu_seconds();
	double window = std::chrono::duration<double>(now - last_cpu_sample_).count();
	if (window >= 1.0) {
		cpu_percent_ = 100.0 * (s.cpu_seconds - last_cpu_seconds_) / window;
		last_cpu_seconds_ = s.cpu_seconds;
		last_cpu_sample_ = now;
	}
	s.cpu_percent = cpu_percent_;
	std::string json = control::status_to_json(s);
	std::lock_guard lock(status_mutex_);
	status_json_.swap(json);
	status_ = std::move(s);
}

std::string Pipeline::status_json() const
{
	std::lock_guard lock(status_mutex_);
	return status_json_;
}

control::StatusSnapshot Pipeline::status() const
{
	std::lock_guard lock(status_mutex_);
	return status_;
}

} // namespace smith::daemon
