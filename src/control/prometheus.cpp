// status_to_prometheus: the snapshot as Prometheus text (format 0.0.4), written by hand (why: see
// prometheus.h).
#include "control/prometheus.h"

#include <cmath>
#include <initializer_list>
#include <utility>

#include <fmt/format.h>

namespace smith::control {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid (overlong forms,
// surrogates and code points above U+10FFFF are invalid): the rule the JSON writer applies to
// events, so a value reads the same in both.
size_t utf8_sequence_length(std::string_view s, size_t i)
{
	const auto b0 = static_cast<unsigned char>(s[i]);
	const size_t left = s.size() - i;
	auto cont = [&](size_t k) { return (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80; };
	if (b0 < 0x80)
		return 1;
	if (b0 >= 0xC2 && b0 <= 0xDF)
		return left >= 2 && cont(1) ? 2 : 0;
	if (b0 >= 0xE0 && b0 <= 0xEF) {
		if (left < 3 || !cont(1) || !cont(2))
			return 0;
		const auto b1 = static_cast<unsigned char>(s[i + 1]);
		if ((b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 >= 0xA0))
			return 0; // overlong, or a UTF-16 surrogate
		return 3;
	}
	if (b0 >= 0xF0 && b0 <= 0xF4) {
		if (left < 4 || !cont(1) || !cont(2) || !cont(3))
			return 0;
		const auto b1 = static_cast<unsigned char>(s[i + 1]);
		if ((b0 == 0xF0 && b1 < 0x90) || (b0 == 0xF4 && b1 >= 0x90))
			return 0; // overlong, or above U+10FFFF
		return 4;
	}
	return 0;
}

// A JSON-free number: integers as they are, other values in the shortest form that reads back
// exactly. Prometheus has no use for a NaN or an infinity here: 0, as in the status JSON.
std::string number(uint64_t v)
{
	return fmt::format("{}", v);
}

std::string number(double v)
{
	return fmt::format("{}", std::isfinite(v) ? v : 0.0);
}

std::string seconds_of_ns(uint64_t ns)
{
	return number(static_cast<double>(ns) / 1e9);
}

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class Exposition {
public:
	explicit Exposition(std::string &out) : out_(out) {}

	// The HELP and TYPE lines of a family; its samples follow. `help` is the daemon's own text,
	// written with the format's escapes all the same.
	void family(std::string_view name, std::string_view type, std::string_view help)
	{
		out_.append("# HELP ").append(name).push_back(' ');
		for (char c : help) {
			if (c == '\\')
				out_.append("\\\\");
			else if (c == '\n')
				out_.append("\\n");
			else
				out_.push_back(c);
		}
		out_.append("\n# TYPE ").append(name).push_back(' ');
		out_.append(type).push_back('\n');
	}

	void sample(std::string_view name, Labels labels, const std::string &value)
	{
		out_.append(name);
		if (labels.size() > 0) {
			out_.push_back('{');
			bool first = true;
			for (const auto &[label, text] : labels) {
				if (!first)
					out_.push_back(',');
				first = false;
				out_.append(label).append("=\"");
				append_label_value(out_, text);
				out_.push_back('"');
			}
			out_.push_back('}');
		}
		out_.push_back(' ');
		out_.append(value).push_back('\n');
	}

	// A family of one sample without labels.
	void single(std::string_view name, std::string_view type, std::string_view help,
		    const std::string &value)
	{
		family(name, type, help);
		sample(name, {}, value);
	}

private:
	std::string &out_;
};

} // namespace

void append_label_value(std::string &out, std::string_view value)
{
	for (size_t i = 0; i < value.size();) {
		const char c = value[i];
		const size_t len = utf8_sequence_length(value, i);
		if (len == 0) {
			out.append(kReplacement);
			++i;
		} else if (c == '\\') {
			out.append("\\\\");
			++i;
		} else if (c == '"') {
			out.append("\\\"");
			++i;
		} else if (c == '\n') {
			out.append("\\n");
			++i;
		} else {
			out.append(value.substr(i, len));
			i += len;
		}
	}
}

std::string status_to_prometheus(const StatusSnapshot &s)
{
	std::string out;
	out.reserve(8192 + 1024 * s.hooks.size() + 256 * s.programs.size());
	Exposition e(out);

	e.family("smith_info", "gauge",
		 "smithd's version, backend (and why it was chosen), host, run, kernel release and ring "
		 "mode, as labels; always 1");
	e.sample("smith_info",
		 {{"version", s.version},
		  {"backend", s.backend},
		  {"backend_reason", s.backend_reason},
		  {"hostname", s.hostname},
		  {"host_id", s.host_id},
		  {"run_id", s.run_id},
		  {"kernel", s.kernel},
		  {"ring_mode", s.rings.mode}},
		 "1");
	e.single("smith_previous_run_clean_stop", "gauge",
		 "1 when the run before this one stopped cleanly (or there was none), 0 when it did not",
		 s.previous_run_clean ? "1" : "0");
	e.single("smith_uptime_seconds", "gauge", "Seconds since smithd started", number(s.uptime_seconds));
	e.single("smith_cpu_seconds_total", "counter", "CPU time smithd used since start, user and system",
		 number(s.cpu_seconds));
	e.single("smith_resident_memory_bytes", "gauge", "smithd's resident set size", number(s.rss_bytes));
	e.single("smith_rings", "gauge", "Kernel-side rings the hooks write to (ring_mode of smith_info)",
		 number(s.rings.count));
	e.single("smith_ring_size_bytes", "gauge", "Data bytes of each kernel-side ring",
		 number(s.rings.bytes));

	e.family("smith_hook_info", "gauge",
		 "Each hook's state (attached, unavailable, disabled, failed), how it is attached, and why "
		 "it is not; always 1");
	for (const HookStatus &h : s.hooks)
		e.sample("smith_hook_info",
			 {{"hook", h.name}, {"state", h.state}, {"attach", h.attach}, {"reason", h.reason}},
			 "1");
	e.family("smith_kernel_drops_total", "counter",
		 "Records a hook could not put in the ring (full), counted in the kernel");
	for (const HookStatus &h : s.hooks)
		e.sample("smith_kernel_drops_total", {{"hook", h.name}}, number(h.kernel_drops));

	e.single("smith_hook_timing_enabled", "gauge",
		 "1 while the hooks are timed in the kernel (setting hook_timing), else 0",
		 s.hook_timing ? "1" : "0");
	e.family("smith_hook_calls_total", "counter",
		 "Hook calls timed since start (0 while hook_timing is off)");
	for (const HookStatus &h : s.hooks)
		e.sample("smith_hook_calls_total", {{"hook", h.name}}, number(h.calls));
	e.family("smith_hook_average_seconds", "gauge",
		 "Mean time a hook call cost since start (0 while hook_timing is off)");
	for (const HookStatus &h : s.hooks)
		e.sample("smith_hook_average_seconds", {{"hook", h.name}}, seconds_of_ns(h.avg_ns));
	e.family("smith_hook_p99_seconds", "gauge",
		 "99th percentile of the time a hook call cost since start (0 while hook_timing is off)");
	for (const HookStatus &h : s.hooks)
		e.sample("smith_hook_p99_seconds", {{"hook", h.name}}, seconds_of_ns(h.p99_ns));
	if (!s.programs.empty()) {
		e.family("smith_program_runs_total", "counter",
			 "Runs of each BPF program, as the kernel's run-time statistics count them");
		for (const ProgramStatus &p : s.programs)
			e.sample("smith_program_runs_total", {{"program", p.name}}, number(p.run_cnt));
		e.family("smith_program_run_seconds_total", "counter",
			 "Time spent in each BPF program, as the kernel's run-time statistics count it");
		for (const ProgramStatus &p : s.programs)
			e.sample("smith_program_run_seconds_total", {{"program", p.name}},
				 seconds_of_ns(p.run_time_ns));
	}

	e.family("smith_events_received_total", "counter", "Records decoded from the kernel, by event type");
	for (size_t i = 0; i < kEventTypeCount; ++i)
		e.sample("smith_events_received_total", {{"type", kEventTypeNames[i]}},
			 number(s.received[i]));
	e.family("smith_events_sent_total", "counter", "Events written to the sink, by event type");
	for (size_t i = 0; i < kEventTypeCount; ++i)
		e.sample("smith_events_sent_total", {{"type", kEventTypeNames[i]}}, number(s.sent[i]));
	e.single("smith_connects_suppressed_total", "counter",
		 "Connect calls the per-process connect budget held back, as the connect_suppressed events "
		 "count them",
		 number(s.suppressed_connects));
	e.single("smith_decode_errors_total", "counter", "Records that could not be decoded (skipped)",
		 number(s.decode_errors));
	e.single("smith_own_records_total", "counter",
		 "smithd's own records written to the stream (run_start, loss, run_end)",
		 number(s.own_records));
	e.single("smith_last_seq", "gauge", "seq of the last event written; every event up to it is flushed",
		 number(s.last_seq));
	e.single("smith_queue_depth", "gauge", "Events waiting between the pipeline and the sink",
		 number(s.queue_depth));

	e.family("smith_sink_info", "gauge", "The sink's type and target (output path or brokers); always 1");
	e.sample("smith_sink_info", {{"type", s.sink.type}, {"target", s.sink.target}}, "1");
	e.single("smith_sink_connected", "gauge", "1 while the sink accepts writes, else 0",
		 s.sink.connected ? "1" : "0");
	e.single("smith_sink_written_total", "counter",
		 "Events at the destination (kafka: acknowledged by the broker)", number(s.sink.written));
	e.single("smith_sink_failed_total", "counter",
		 "Writes or deliveries that failed (kafka: the event went to the spool)",
		 number(s.sink.failed));
	e.single("smith_sink_in_flight", "gauge", "kafka: events queued in memory, not yet acknowledged",
		 number(s.sink.in_flight));
	e.single("smith_sink_spooled_total", "counter", "Events written to the spool",
		 number(s.sink.spooled));
	e.single("smith_sink_replayed_total", "counter", "Spooled events delivered", number(s.sink.replayed));
	e.single("smith_spool_bytes", "gauge", "Bytes in the on-disk spool", number(s.spool_bytes));
	e.single("smith_spool_records", "gauge", "Events in the on-disk spool", number(s.sink.spool_records));
	e.single("smith_spool_dropped_total", "counter", "Events lost to the spool's size bound",
		 number(s.sink.spool_dropped));
	e.single("smith_spool_corrupt_total", "counter", "Damaged spool records skipped",
		 number(s.sink.spool_corrupt));
	e.single("smith_sink_dead_lettered_total", "counter",
		 "kafka: events the broker refused for good, kept in the dead-letter file",
		 number(s.sink.dead_lettered));
	e.single("smith_sink_producer_rebuilds_total", "counter",
		 "kafka: producers rebuilt after a fatal error", number(s.sink.producer_rebuilds));
	return out;
}

} // namespace smith::control
