#include "ctl/status_view.h"

#include <cmath>

#include <fmt/format.h>

#include "ctl/text_table.h"

namespace smith::ctl {
namespace {

void labelled(std::string &out, std::string_view label, std::string_view value)
{
	out.append(fmt::format("{:<15}{}\n", fmt::format("{}:", label), value));
}

} // namespace

std::string format_duration(double seconds)
{
	if (!std::isfinite(seconds) || seconds < 0)
		return "0s";
	const auto total = static_cast<uint64_t>(seconds);
	const uint64_t d = total / 86400, h = total / 3600 % 24, m = total / 60 % 60, s = total % 60;
	if (d > 0)
		return fmt::format("{}d{:02}h{:02}m{:02}s", d, h, m, s);
	if (h > 0)
		return fmt::format("{}h{:02}m{:02}s", h, m, s);
	if (m > 0)
		return fmt::format("{}m{:02}s", m, s);
	return fmt::format("{}s", s);
}

std::string printable(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	for (size_t i = 0; i < s.size(); ++i) {
		const auto c = static_cast<unsigned char>(s[i]);
		if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
		    static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
			// C1 control (U+0080..U+009F), e.g. a single-byte CSI.
			out.append(fmt::format("\\u{:04x}", static_cast<unsigned char>(s[i + 1])));
			++i;
		} else if (c == '\n') {
			out.append("\\n");
		} else if (c == '\t') {
			out.append("\\t");
		} else if (c == '\r') {
			out.append("\\r");
		} else if (c < 0x20 || c == 0x7F) {
			out.append(fmt::format("\\x{:02x}", c));
		} else {
			out.push_back(static_cast<char>(c));
		}
	}
	return out;
}

std::string format_status(const control::StatusSnapshot &s)
{
	std::string out;
	labelled(out, "version", printable(s.version));
	labelled(out, "pid", fmt::format("{}", s.pid));
	labelled(out, "uptime", format_duration(s.uptime_seconds));
	labelled(out, "backend",
		 s.backend_reason.empty()
			 ? printable(s.backend)
			 : fmt::format("{} ({})", printable(s.backend), printable(s.backend_reason)));
	labelled(out, "kernel", printable(s.kernel));
	labelled(out, "hostname", printable(s.hostname));
	labelled(out, "host_id", printable(s.host_id));
	labelled(out, "run_id", printable(s.run_id));
	if (!s.previous_run_id.empty())
		labelled(
			out, "previous run",
			fmt::format("{} ({})", printable(s.previous_run_id),
				    s.previous_run_clean ? "stopped cleanly" : "ended without a clean stop"));
	if (!s.rings.mode.empty())
		labelled(out, "rings",
			 fmt::format("{} ({} of {} KiB)", printable(s.rings.mode), s.rings.count,
				     s.rings.bytes / 1024));
	labelled(out, "rss", fmt::format("{:.1f} MiB", static_cast<double>(s.rss_bytes) / (1024.0 * 1024.0)));
	labelled(out, "cpu", fmt::format("{:.1f}% ({:.2f} s total)", s.cpu_percent, s.cpu_seconds));

	out.append("\n");
	if (s.hooks.empty()) {
		out.append("hooks: none\n");
	} else {
		Table hooks({{"NAME"},
			     {"STATE"},
			     {"ATTACH"},
			     {"KERNEL_DROPS", true},
			     {"CALLS", true},
			     {"AVG_NS", true},
			     {"P99_NS", true},
			     {"REASON"}});
		const auto timed = [&](uint64_t v) { return s.hook_timing ? fmt::format("{}", v) : "-"; };
		for (const auto &h : s.hooks)
			hooks.add({printable(h.name), printable(h.state), printable(h.attach),
				   fmt::format("{}", h.kernel_drops), timed(h.calls), timed(h.avg_ns),
				   timed(h.p99_ns), printable(h.reason)});
		hooks.render(out);
		if (!s.hook_timing)
			out.append("hook timing: off (hook_timing: true in smithd.yaml turns it on)\n");
	}
	if (!s.programs.empty()) {
		out.append("\n");
		Table progs({{"PROGRAM"}, {"RUNS", true}, {"AVG_NS", true}});
		for (const auto &p : s.programs)
			progs.add({printable(p.name), fmt::format("{}", p.run_cnt),
				   fmt::format("{}", p.run_cnt ? p.run_time_ns / p.run_cnt : 0)});
		progs.render(out);
	}

	out.append("\n");
	Table events({{"TYPE"}, {"RECEIVED", true}, {"SENT", true}});
	for (size_t i = 0; i < control::kEventTypeCount; ++i)
		events.add({control::kEventTypeNames[i], fmt::format("{}", s.received[i]),
			    fmt::format("{}", s.sent[i])});
	events.render(out);

	out.append("\n");
	labelled(out, "sink", printable(s.sink.type));
	labelled(out, "target", printable(s.sink.target));
	labelled(out, "connected", s.sink.connected ? "yes" : "no");
	labelled(out, "last error", s.sink.last_error.empty() ? "none" : printable(s.sink.last_error));
	labelled(out, "written", fmt::format("{}", s.sink.written));
	labelled(out, "failed", fmt::format("{}", s.sink.failed));
	labelled(out, "in flight", fmt::format("{}", s.sink.in_flight));
	labelled(out, "queue depth", fmt::format("{}", s.queue_depth));
	labelled(out, "spool",
		 fmt::format("{} events, {} bytes ({} spooled, {} replayed since start)",
			     s.sink.spool_records, s.spool_bytes, s.sink.spooled, s.sink.replayed));
	labelled(out, "spool losses",
		 fmt::format("{} dropped by the size bound, {} damaged records skipped", s.sink.spool_dropped,
			     s.sink.spool_corrupt));
	labelled(out, "refused",
		 fmt::format(
			 "{} events refused by the broker for good (dead-letter file), {} producers rebuilt",
			 s.sink.dead_lettered, s.sink.producer_rebuilds));
	labelled(out, "decode errors", fmt::format("{}", s.decode_errors));
	labelled(out, "suppressed",
		 fmt::format("{} connect calls held back by the connect budget", s.suppressed_connects));
	labelled(out, "last seq", fmt::format("{}", s.last_seq));
	return out;
}

} // namespace smith::ctl
