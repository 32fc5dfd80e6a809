#include "ctl/fleet_view.h"

#include <algorithm>
#include <exception>
#include <tuple>

#include <fmt/format.h>

#include "control/status.h"
#include "ctl/status_parse.h"
#include "ctl/status_view.h"
#include "ctl/text_table.h"
#include "json/json_writer.h"

namespace smith::ctl {
namespace {

FleetRow row_of(const control::StatusSnapshot &s)
{
	FleetRow r;
	r.hostname = s.hostname;
	r.host_id = s.host_id;
	r.version = s.version;
	r.backend = s.backend;
	r.kernel = s.kernel;
	r.run_id = s.run_id;
	r.pid = s.pid;
	r.uptime_seconds = s.uptime_seconds;
	r.time = s.time;
	r.heartbeat_interval_seconds = s.heartbeat_interval_seconds;
	r.stopping = s.stopping;
	r.previous_run_id = s.previous_run_id;
	r.previous_run_clean_stop = s.previous_run_clean;
	for (const control::HookStatus &h : s.hooks)
		r.kernel_drops += h.kernel_drops;
	r.spool_records = s.sink.spool_records;
	r.spool_bytes = s.sink.spool_bytes;
	r.sink_connected = s.sink.connected;
	r.sink_last_error = s.sink.last_error;
	return r;
}

std::string sink_state(const FleetRow &r)
{
	if (r.sink_connected)
		return "connected";
	if (r.sink_last_error.empty())
		return "not connected";
	return "error: " + printable(r.sink_last_error);
}

std::string previous_stop(const FleetRow &r)
{
	if (r.previous_run_id.empty())
		return "-";
	return r.previous_run_clean_stop ? "clean" : "unclean";
}

} // namespace

std::string Fleet::add(std::string_view message)
{
	control::StatusSnapshot s;
	try {
		s = status_from_json(message);
	} catch (const std::exception &e) {
		if (unreadable_++ == 0)
			first_error_ = e.what();
		return e.what();
	}
	const std::string key = s.host_id.empty() ? "name:" + s.hostname : "id:" + s.host_id;
	auto it = newest_.find(key);
	if (it == newest_.end())
		newest_.emplace(key, row_of(s));
	else if (s.time >= it->second.time)
		it->second = row_of(s);
	return "";
}

std::vector<FleetRow> Fleet::rows(double now) const
{
	std::vector<FleetRow> out;
	out.reserve(newest_.size());
	for (const auto &[key, row] : newest_) {
		FleetRow r = row;
		r.last_seen_seconds = now - r.time;
		r.stale = r.last_seen_seconds >
			  kStaleIntervals * static_cast<double>(r.heartbeat_interval_seconds);
		out.push_back(std::move(r));
	}
	std::sort(out.begin(), out.end(), [](const FleetRow &a, const FleetRow &b) {
		if (a.stale != b.stale)
			return a.stale;
		return std::tie(a.hostname, a.host_id) < std::tie(b.hostname, b.host_id);
	});
	return out;
}

std::string format_fleet(const std::vector<FleetRow> &rows, size_t unreadable, std::string_view first_error)
{
	std::string out;
	size_t stale = 0;
	if (rows.empty()) {
		out.append("no heartbeats\n");
	} else {
		Table table({{"STATE"},
			     {"HOSTNAME"},
			     {"HOST_ID"},
			     {"VERSION"},
			     {"BACKEND"},
			     {"KERNEL"},
			     {"LAST_SEEN", true},
			     {"DROPS", true},
			     {"SPOOL_EVENTS", true},
			     {"SPOOL_BYTES", true},
			     {"RUN"},
			     {"PREVIOUS_STOP"},
			     {"SINK"}});
		for (const FleetRow &r : rows) {
			stale += r.stale;
			table.add({r.stale ? "stale" : "fresh", printable(r.hostname), printable(r.host_id),
				   printable(r.version), printable(r.backend), printable(r.kernel),
				   format_duration(r.last_seen_seconds), fmt::format("{}", r.kernel_drops),
				   fmt::format("{}", r.spool_records), fmt::format("{}", r.spool_bytes),
				   r.stopping ? "stopped" : "running", previous_stop(r), sink_state(r)});
		}
		table.render(out);
	}
	out.append(fmt::format("\n{} {}, {} stale (silent for more than {} heartbeat intervals)\n",
			       rows.size(), rows.size() == 1 ? "host" : "hosts", stale, kStaleIntervals));
	if (unreadable > 0)
		out.append(fmt::format("{} {} on the topic could not be read as heartbeats; the first: {}\n",
				       unreadable, unreadable == 1 ? "message" : "messages",
				       printable(first_error)));
	return out;
}

std::string fleet_to_json(const std::vector<FleetRow> &rows)
{
	std::string out;
	{
		json::JsonWriter w(out);
		w.begin_array();
		for (const FleetRow &r : rows) {
			w.begin_object();
			w.field("hostname", std::string_view(r.hostname));
			w.field("host_id", std::string_view(r.host_id));
			w.field("version", std::string_view(r.version));
			w.field("backend", std::string_view(r.backend));
			w.field("kernel", std::string_view(r.kernel));
			w.field("run_id", std::string_view(r.run_id));
			w.field("pid", r.pid);
			w.field("uptime_seconds", r.uptime_seconds);
			w.field("time", r.time);
			w.field("last_seen_seconds", r.last_seen_seconds);
			w.field("heartbeat_interval_seconds", r.heartbeat_interval_seconds);
			w.field("stale", r.stale);
			w.field("stopping", r.stopping);
			w.field("previous_run_id", std::string_view(r.previous_run_id));
			w.field("previous_run_clean_stop", r.previous_run_clean_stop);
			w.field("kernel_drops", r.kernel_drops);
			w.field("spool_records", r.spool_records);
			w.field("spool_bytes", r.spool_bytes);
			w.field("sink_connected", r.sink_connected);
			w.field("sink_last_error", std::string_view(r.sink_last_error));
			w.end_object();
		}
		w.end_array();
	}
	return out;
}

} // namespace smith::ctl
