// status_to_json: the snapshot as one JSON object on one line. Field names and
// order are stable: fields may be added, never renamed or removed, since
// `smithctl status --json` and the heartbeat topic are read by machines.
#include <charconv>
#include <cmath>

#include "control/json_string.h"
#include "control/status.h"

namespace smith::control {
namespace {

// Appends `"key":` after a comma unless it opens an object ('{' just written).
class ObjectWriter {
public:
	explicit ObjectWriter(std::string &out) : out_(out) {}

	void open()
	{
		out_.push_back('{');
		first_ = true;
	}
	void close()
	{
		out_.push_back('}');
		first_ = false;
	}

	void key(std::string_view k)
	{
		if (!first_)
			out_.push_back(',');
		first_ = false;
		append_json_string(out_, k);
		out_.push_back(':');
	}

	void field(std::string_view k, std::string_view v)
	{
		key(k);
		append_json_string(out_, v);
	}
	void field(std::string_view k, const std::string &v) { field(k, std::string_view(v)); }
	void field(std::string_view k, const char *v) { field(k, std::string_view(v)); }
	void field(std::string_view k, bool v)
	{
		key(k);
		out_.append(v ? "true" : "false");
	}
	void field(std::string_view k, uint64_t v)
	{
		key(k);
		number(v);
	}
	void field(std::string_view k, int64_t v)
	{
		key(k);
		number(v);
	}
	void field(std::string_view k, double v)
	{
		key(k);
		// JSON has no NaN or infinity; an unknowable number is 0.
		number(std::isfinite(v) ? v : 0.0);
	}

	std::string &out() { return out_; }

private:
	template <typename T> void number(T v)
	{
		char buf[32];
		const auto r = std::to_chars(buf, buf + sizeof(buf), v);
		out_.append(buf, r.ptr);
	}

	std::string &out_;
	bool first_ = true; // no field written yet in the innermost object
};

void append_counts(ObjectWriter &w, std::string_view name,
		   const std::array<uint64_t, kEventTypeCount> &counts)
{
	w.key(name);
	ObjectWriter inner(w.out());
	inner.open();
	for (size_t i = 0; i < kEventTypeCount; ++i)
		inner.field(kEventTypeNames[i], counts[i]);
	inner.close();
}

} // namespace

std::string status_to_json(const StatusSnapshot &s)
{
	std::string out;
	out.reserve(1024 + 128 * s.hooks.size());
	ObjectWriter w(out);
	w.open();
	w.field("version", s.version);
	w.field("pid", s.pid);
	w.field("uptime_seconds", s.uptime_seconds);
	w.field("hostname", s.hostname);
	w.field("host_id", s.host_id);
	w.field("run_id", s.run_id);
	w.field("kernel", s.kernel);
	w.field("backend", s.backend);
	w.field("backend_reason", s.backend_reason);

	w.key("hooks");
	out.push_back('[');
	for (size_t i = 0; i < s.hooks.size(); ++i) {
		if (i)
			out.push_back(',');
		const HookStatus &h = s.hooks[i];
		ObjectWriter hook(out);
		hook.open();
		hook.field("name", h.name);
		hook.field("state", h.state);
		hook.field("reason", h.reason);
		hook.field("kernel_drops", h.kernel_drops);
		hook.close();
	}
	out.push_back(']');

	w.key("events");
	{
		ObjectWriter events(out);
		events.open();
		append_counts(events, "received", s.received);
		append_counts(events, "sent", s.sent);
		events.close();
	}

	w.field("decode_errors", s.decode_errors);
	w.field("last_seq", s.last_seq);
	w.field("queue_depth", s.queue_depth);
	w.field("spool_bytes", s.spool_bytes);

	w.key("sink");
	{
		ObjectWriter sink(out);
		sink.open();
		sink.field("type", s.sink.type);
		sink.field("target", s.sink.target);
		sink.field("connected", s.sink.connected);
		sink.field("last_error", s.sink.last_error);
		sink.field("written", s.sink.written);
		sink.field("failed", s.sink.failed);
		sink.close();
	}

	w.field("rss_bytes", s.rss_bytes);
	w.field("cpu_seconds", s.cpu_seconds);
	w.field("cpu_percent", s.cpu_percent);
	w.close();
	return out;
}

} // namespace smith::control
