// status_to_json: the snapshot as one JSON object on one line. Field names and
// order are stable: fields may be added, never renamed or removed, since
// `smithctl status --json` and the heartbeat topic are read by machines.
#include <cmath>

#include "control/status.h"
#include "json/json_writer.h"

namespace smith::control {
namespace {

using json::JsonWriter;

// JSON has no NaN or infinity; an unknowable number is 0.
double finite(double v)
{
	return std::isfinite(v) ? v : 0.0;
}

void write_counts(JsonWriter &w, std::string_view name, const std::array<uint64_t, kEventTypeCount> &counts)
{
	w.key(name);
	w.begin_object();
	for (size_t i = 0; i < kEventTypeCount; ++i)
		w.field(kEventTypeNames[i], counts[i]);
	w.end_object();
}

} // namespace

std::string status_to_json(const StatusSnapshot &s)
{
	std::string out;
	out.reserve(1024 + 128 * s.hooks.size());
	JsonWriter w(out);
	w.begin_object();
	w.field("version", std::string_view(s.version));
	w.field("pid", s.pid);
	w.field("uptime_seconds", finite(s.uptime_seconds));
	w.field("time", finite(s.time));
	w.field("heartbeat_interval_seconds", s.heartbeat_interval_seconds);
	w.field("hostname", std::string_view(s.hostname));
	w.field("host_id", std::string_view(s.host_id));
	w.field("run_id", std::string_view(s.run_id));
	w.field("kernel", std::string_view(s.kernel));
	w.field("backend", std::string_view(s.backend));
	w.field("backend_reason", std::string_view(s.backend_reason));
	w.key("previous_run");
	w.begin_object();
	w.field("run_id", std::string_view(s.previous_run_id));
	w.field("clean_stop", s.previous_run_clean);
	w.end_object();
	w.field("stopping", s.stopping);
	w.key("rings");
	w.begin_object();
	w.field("mode", std::string_view(s.rings.mode));
	w.field("count", s.rings.count);
	w.field("bytes", s.rings.bytes);
	w.end_object();

	w.field("hook_timing", s.hook_timing);
	w.key("hooks");
	w.begin_array();
	for (const HookStatus &h : s.hooks) {
		w.begin_object();
		w.field("name", std::string_view(h.name));
		w.field("state", std::string_view(h.state));
		w.field("reason", std::string_view(h.reason));
		w.field("attach", std::string_view(h.attach));
		w.field("kernel_drops", h.kernel_drops);
		w.field("calls", h.calls);
		w.field("avg_ns", h.avg_ns);
		w.field("p99_ns", h.p99_ns);
		w.end_object();
	}
	w.end_array();
	w.key("programs");
	w.begin_array();
	for (const ProgramStatus &p : s.programs) {
		w.begin_object();
		w.field("name", std::string_view(p.name));
		w.field("run_cnt", p.run_cnt);
		w.field("run_time_ns", p.run_time_ns);
		w.end_object();
	}
	w.end_array();

	w.key("events");
	w.begin_object();
	write_counts(w, "received", s.received);
	write_counts(w, "sent", s.sent);
	w.end_object();

	w.field("decode_errors", s.decode_errors);
	w.field("suppressed_connects", s.suppressed_connects);
	w.field("last_seq", s.last_seq);
	w.field("own_records", s.own_records);
	w.field("queue_depth", s.queue_depth);
	w.field("spool_bytes", s.spool_bytes);

	w.key("sink");
	w.begin_object();
	w.field("type", std::string_view(s.sink.type));
	w.field("target", std::string_view(s.sink.target));
	w.field("connected", s.sink.connected);
	w.field("last_error", std::string_view(s.sink.last_error));
	w.field("written", s.sink.written);
	w.field("failed", s.sink.failed);
	w.field("in_flight", s.sink.in_flight);
	w.field("spooled", s.sink.spooled);
	w.field("replayed", s.sink.replayed);
	w.field("spool_bytes", s.sink.spool_bytes);
	w.field("spool_records", s.sink.spool_records);
	w.field("spool_dropped", s.sink.spool_dropped);
	w.field("spool_corrupt", s.sink.spool_corrupt);
	w.field("dead_lettered", s.sink.dead_lettered);
	w.field("producer_rebuilds", s.sink.producer_rebuilds);
	w.end_object();

	w.field("rss_bytes", s.rss_bytes);
	w.field("cpu_seconds", finite(s.cpu_seconds));
	w.field("cpu_percent", finite(s.cpu_percent));
	w.end_object();
	return out;
}

} // namespace smith::control
