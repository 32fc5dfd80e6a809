#include "ctl/status_parse.h"

#include <stdexcept>

#include <fmt/format.h>
#include <simdjson.h>

namespace smith::ctl {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

[[noreturn]] void bad(std::string_view what)
{
	throw std::runtime_error(fmt::format("invalid status from smithd: {}", what));
}

// One JSON object of the status, with the path to it for error messages.
class Fields {
public:
	Fields(object obj, std::string path) : obj_(obj), path_(std::move(path)) {}

	std::string str(std::string_view key) const
	{
		return std::string(get<std::string_view>(key, "a string"));
	}
	uint64_t u64(std::string_view key) const { return get<uint64_t>(key, "an unsigned integer"); }
	int64_t i64(std::string_view key) const { return get<int64_t>(key, "an integer"); }
	double num(std::string_view key) const { return get<double>(key, "a number"); }
	bool boolean(std::string_view key) const { return get<bool>(key, "true or false"); }
	array arr(std::string_view key) const { return get<array>(key, "an array"); }
	Fields obj(std::string_view key) const { return Fields(get<object>(key, "an object"), name(key)); }

private:
	std::string name(std::string_view key) const
	{
		return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
	}

	template <typename T> T get(std::string_view key, std::string_view expected) const
	{
		element e;
		if (obj_[key].get(e) != simdjson::SUCCESS)
			bad(fmt::format("member \"{}\" is missing", name(key)));
		T value;
		if (e.get(value) != simdjson::SUCCESS)
			bad(fmt::format("member \"{}\" is not {}", name(key), expected));
		return value;
	}

	object obj_;
	std::string path_; // "" for the top level, e.g. "sink" or "hooks[2]" below it
};

object parse_object(simdjson::dom::parser &parser, const simdjson::padded_string &text)
{
	element root;
	if (auto err = parser.parse(text).get(root); err != simdjson::SUCCESS)
		bad(fmt::format("not JSON ({})", simdjson::error_message(err)));
	object obj;
	if (root.get(obj) != simdjson::SUCCESS)
		bad("not a JSON object");
	element error;
	if (obj["error"].get(error) == simdjson::SUCCESS) {
		std::string_view message;
		if (error.get(message) != simdjson::SUCCESS)
			message = "(no message)";
		throw std::runtime_error(fmt::format("smithd answered with an error: {}", message));
	}
	return obj;
}

void read_counts(const Fields &events, std::string_view key,
		 std::array<uint64_t, control::kEventTypeCount> &counts)
{
	const Fields by_type = events.obj(key);
	for (size_t i = 0; i < control::kEventTypeCount; ++i)
		counts[i] = by_type.u64(control::kEventTypeNames[i]);
}

} // namespace

void check_answer(std::string_view answer)
{
	simdjson::dom::parser parser;
	const simdjson::padded_string text(answer);
	parse_object(parser, text);
}

control::StatusSnapshot status_from_json(std::string_view json)
{
	simdjson::dom::parser parser;
	const simdjson::padded_string text(json);
	const Fields top(parse_object(parser, text), "");

	control::StatusSnapshot s;
	s.version = top.str("version");
	s.pid = top.i64("pid");
	s.uptime_seconds = top.num("uptime_seconds");
	s.time = top.num("time");
	s.heartbeat_interval_seconds = top.u64("heartbeat_interval_seconds");
	s.hostname = top.str("hostname");
	s.host_id = top.str("host_id");
	s.run_id = top.str("run_id");
	s.kernel = top.str("kernel");
	s.backend = top.str("backend");
	s.backend_reason = top.str("backend_reason");
	const Fields previous = top.obj("previous_run");
	s.previous_run_id = previous.str("run_id");
	s.previous_run_clean = previous.boolean("clean_stop");
	s.stopping = top.boolean("stopping");
	const Fields rings = top.obj("rings");
	s.rings = {rings.str("mode"), rings.u64("count"), rings.u64("bytes")};

	s.hook_timing = top.boolean("hook_timing");
	size_t i = 0;
	for (element e : top.arr("hooks")) {
		object o;
		const std::string path = fmt::format("hooks[{}]", i++);
		if (e.get(o) != simdjson::SUCCESS)
			bad(fmt::format("member \"{}\" is not an object", path));
		const Fields hook(o, path);
		s.hooks.push_back({hook.str("name"), hook.str("state"), hook.str("reason"),
				   hook.str("attach"), hook.u64("kernel_drops"), hook.u64("calls"),
				   hook.u64("avg_ns"), hook.u64("p99_ns")});
	}
	i = 0;
	for (element e : top.arr("programs")) {
		object o;
		const std::string path = fmt::format("programs[{}]", i++);
		if (e.get(o) != simdjson::SUCCESS)
			bad(fmt::format("member \"{}\" is not an object", path));
		const Fields prog(o, path);
		s.programs.push_back({prog.str("name"), prog.u64("run_cnt"), prog.u64("run_time_ns")});
	}

	const Fields events = top.obj("events");
	read_counts(events, "received", s.received);
	read_counts(events, "sent", s.sent);

	s.decode_errors = top.u64("decode_errors");
	s.suppressed_connects = top.u64("suppressed_connects");
	s.last_seq = top.u64("last_seq");
	s.own_records = top.u64("own_records");
	s.queue_depth = top.u64("queue_depth");
	s.spool_bytes = top.u64("spool_bytes");

	const Fields sink = top.obj("sink");
	s.sink.type = sink.str("type");
	s.sink.target = sink.str("target");
	s.sink.connected = sink.boolean("connected");
	s.sink.last_error = sink.str("last_error");
	s.sink.written = sink.u64("written");
	s.sink.failed = sink.u64("failed");
	s.sink.in_flight = sink.u64("in_flight");
	s.sink.spooled = sink.u64("spooled");
	s.sink.replayed = sink.u64("replayed");
	s.sink.spool_bytes = sink.u64("spool_bytes");
	s.sink.spool_records = sink.u64("spool_records");
	s.sink.spool_dropped = sink.u64("spool_dropped");
	s.sink.spool_corrupt = sink.u64("spool_corrupt");
	s.sink.dead_lettered = sink.u64("dead_lettered");
	s.sink.producer_rebuilds = sink.u64("producer_rebuilds");

	s.rss_bytes = top.u64("rss_bytes");
	s.cpu_seconds = top.num("cpu_seconds");
	s.cpu_percent = top.num("cpu_percent");
	return s;
}

} // namespace smith::ctl
