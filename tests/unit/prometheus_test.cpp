// status_to_prometheus: the exposition text of a known snapshot, line for line, and label values that
// stay inside their quotes whatever bytes a hostname, path or reason holds.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "control/prometheus.h"
#include "hostile_strings.h"

using namespace smith::control;

namespace {

StatusSnapshot known_snapshot()
{
	StatusSnapshot s;
	s.version = "0.1.0";
	s.pid = 123;
	s.uptime_seconds = 1.5;
	s.hostname = "h";
	s.host_id = "0123456789abcdef0123456789abcdef";
	s.run_id = "9f8e7d6c";
	s.kernel = "6.18.44";
	s.backend = "ebpf";
	s.backend_reason = "BTF and ring buffer available";
	s.rings = {"percpu", 2, 4194304};
	s.previous_run_id = "0badc0de";
	s.previous_run_clean = false;
	s.hook_timing = true;
	s.hooks = {{"execve", "attached", "", "fexit", 0, 40, 1500, 4096},
		   {"init_module", "unavailable", "kernel built without modules", "fexit", 7}};
	s.programs = {{"fexit___x64_sys_execve", 40, 61234}};
	s.received = {10, 20, 0, 0, 2};
	s.sent = {9, 20, 0, 0, 2};
	s.decode_errors = 1;
	s.suppressed_connects = 4321;
	s.last_seq = 29;
	s.own_records = 3;
	s.queue_depth = 2;
	s.spool_bytes = 4096;
	s.sink = {"kafka", "b1:9092,b2:9092", true, "", 29, 1, 5, 6, 4, 4096, 2, 8, 9, 10, 11};
	s.rss_bytes = 12582912;
	s.cpu_seconds = 0.25;
	s.cpu_percent = 0.5;
	return s;
}

// The value a Prometheus parser reads from the text between a label's quotes.
std::string unescaped(const std::string &text)
{
	std::string out;
	for (size_t i = 0; i < text.size(); ++i) {
		if (text[i] != '\\') {
			out.push_back(text[i]);
			continue;
		}
		REQUIRE(i + 1 < text.size());
		const char c = text[++i];
		REQUIRE((c == '\\' || c == '"' || c == 'n'));
		out.push_back(c == 'n' ? '\n' : c);
	}
	return out;
}

std::string label_text(std::string_view value)
{
	std::string out;
	append_label_value(out, value);
	return out;
}

// The line of `text` that starts with `prefix`, "" when none does.
std::string line_starting(const std::string &text, const std::string &prefix)
{
	size_t at = 0;
	while (at < text.size()) {
		const size_t end = text.find('\n', at);
		const std::string line = text.substr(at, end - at);
		if (line.rfind(prefix, 0) == 0)
			return line;
		if (end == std::string::npos)
			break;
		at = end + 1;
	}
	return "";
}

} // namespace

TEST_CASE("status_to_prometheus writes every metric of the snapshot, with HELP and TYPE", "[unit][metrics]")
{
	const std::string expected =
		"# HELP smith_info smithd's version, backend (and why it was chosen), host, run, kernel "
		"release "
		"and ring mode, as labels; always 1\n"
		"# TYPE smith_info gauge\n"
		"smith_info{version=\"0.1.0\",backend=\"ebpf\",backend_reason=\"BTF and ring buffer "
		"available\","
		"hostname=\"h\",host_id=\"0123456789abcdef0123456789abcdef\",run_id=\"9f8e7d6c\","
		"kernel=\"6.18.44\",ring_mode=\"percpu\"} 1\n"
		"# HELP smith_previous_run_clean_stop 1 when the run before this one stopped cleanly (or "
		"there "
		"was none), 0 when it did not\n"
		"# TYPE smith_previous_run_clean_stop gauge\n"
		"smith_previous_run_clean_stop 0\n"
		"# HELP smith_uptime_seconds Seconds since smithd started\n"
		"# TYPE smith_uptime_seconds gauge\n"
		"smith_uptime_seconds 1.5\n"
		"# HELP smith_cpu_seconds_total CPU time smithd used since start, user and system\n"
		"# TYPE smith_cpu_seconds_total counter\n"
		"smith_cpu_seconds_total 0.25\n"
		"# HELP smith_resident_memory_bytes smithd's resident set size\n"
		"# TYPE smith_resident_memory_bytes gauge\n"
		"smith_resident_memory_bytes 12582912\n"
		"# HELP smith_rings Kernel-side rings the hooks write to (ring_mode of smith_info)\n"
		"# TYPE smith_rings gauge\n"
		"smith_rings 2\n"
		"# HELP smith_ring_size_bytes Data bytes of each kernel-side ring\n"
		"# TYPE smith_ring_size_bytes gauge\n"
		"smith_ring_size_bytes 4194304\n"
		"# HELP smith_hook_info Each hook's state (attached, unavailable, disabled, failed), how it "
		"is "
		"attached, and why it is not; always 1\n"
		"# TYPE smith_hook_info gauge\n"
		"smith_hook_info{hook=\"execve\",state=\"attached\",attach=\"fexit\",reason=\"\"} 1\n"
		"smith_hook_info{hook=\"init_module\",state=\"unavailable\",attach=\"fexit\","
		"reason=\"kernel built without modules\"} 1\n"
		"# HELP smith_kernel_drops_total Records a hook could not put in the ring (full), counted in "
		"the "
		"kernel\n"
		"# TYPE smith_kernel_drops_total counter\n"
		"smith_kernel_drops_total{hook=\"execve\"} 0\n"
		"smith_kernel_drops_total{hook=\"init_module\"} 7\n"
		"# HELP smith_hook_timing_enabled 1 while the hooks are timed in the kernel (setting "
		"hook_timing), else 0\n"
		"# TYPE smith_hook_timing_enabled gauge\n"
		"smith_hook_timing_enabled 1\n"
		"# HELP smith_hook_calls_total Hook calls timed since start (0 while hook_timing is off)\n"
		"# TYPE smith_hook_calls_total counter\n"
		"smith_hook_calls_total{hook=\"execve\"} 40\n"
		"smith_hook_calls_total{hook=\"init_module\"} 0\n"
		"# HELP smith_hook_average_seconds Mean time a hook call cost since start (0 while "
		"hook_timing "
		"is off)\n"
		"# TYPE smith_hook_average_seconds gauge\n"
		"smith_hook_average_seconds{hook=\"execve\"} 1.5e-06\n"
		"smith_hook_average_seconds{hook=\"init_module\"} 0\n"
		"# HELP smith_hook_p99_seconds 99th percentile of the time a hook call cost since start (0 "
		"while "
		"hook_timing is off)\n"
		"# TYPE smith_hook_p99_seconds gauge\n"
		"smith_hook_p99_seconds{hook=\"execve\"} 4.096e-06\n"
		"smith_hook_p99_seconds{hook=\"init_module\"} 0\n"
		"# HELP smith_program_runs_total Runs of each BPF program, as the kernel's run-time "
		"statistics "
		"count them\n"
		"# TYPE smith_program_runs_total counter\n"
		"smith_program_runs_total{program=\"fexit___x64_sys_execve\"} 40\n"
		"# HELP smith_program_run_seconds_total Time spent in each BPF program, as the kernel's "
		"run-time "
		"statistics count it\n"
		"# TYPE smith_program_run_seconds_total counter\n"
		"smith_program_run_seconds_total{program=\"fexit___x64_sys_execve\"} 6.1234e-05\n"
		"# HELP smith_events_received_total Records decoded from the kernel, by event type\n"
		"# TYPE smith_events_received_total counter\n"
		"smith_events_received_total{type=\"execve\"} 10\n"
		"smith_events_received_total{type=\"connect\"} 20\n"
		"smith_events_received_total{type=\"init_module\"} 0\n"
		"smith_events_received_total{type=\"finit_module\"} 0\n"
		"smith_events_received_total{type=\"connect_suppressed\"} 2\n"
		"# HELP smith_events_sent_total Events written to the sink, by event type\n"
		"# TYPE smith_events_sent_total counter\n"
		"smith_events_sent_total{type=\"execve\"} 9\n"
		"smith_events_sent_total{type=\"connect\"} 20\n"
		"smith_events_sent_total{type=\"init_module\"} 0\n"
		"smith_events_sent_total{type=\"finit_module\"} 0\n"
		"smith_events_sent_total{type=\"connect_suppressed\"} 2\n"
		"# HELP smith_connects_suppressed_total Connect calls the per-process connect budget held "
		"back, "
		"as the connect_suppressed events count them\n"
		"# TYPE smith_connects_suppressed_total counter\n"
		"smith_connects_suppressed_total 4321\n"
		"# HELP smith_decode_errors_total Records that could not be decoded (skipped)\n"
		"# TYPE smith_decode_errors_total counter\n"
		"smith_decode_errors_total 1\n"
		"# HELP smith_own_records_total smithd's own records written to the stream (run_start, loss, "
		"run_end)\n"
		"# TYPE smith_own_records_total counter\n"
		"smith_own_records_total 3\n"
		"# HELP smith_last_seq seq of the last event written; every event up to it is flushed\n"
		"# TYPE smith_last_seq gauge\n"
		"smith_last_seq 29\n"
		"# HELP smith_queue_depth Events waiting between the pipeline and the sink\n"
		"# TYPE smith_queue_depth gauge\n"
		"smith_queue_depth 2\n"
		"# HELP smith_sink_info The sink's type and target (output path or brokers); always 1\n"
		"# TYPE smith_sink_info gauge\n"
		"smith_sink_info{type=\"kafka\",target=\"b1:9092,b2:9092\"} 1\n"
		"# HELP smith_sink_connected 1 while the sink accepts writes, else 0\n"
		"# TYPE smith_sink_connected gauge\n"
		"smith_sink_connected 1\n"
		"# HELP smith_sink_written_total Events at the destination (kafka: acknowledged by the "
		"broker)\n"
		"# TYPE smith_sink_written_total counter\n"
		"smith_sink_written_total 29\n"
		"# HELP smith_sink_failed_total Writes or deliveries that failed (kafka: the event went to "
		"the "
		"spool)\n"
		"# TYPE smith_sink_failed_total counter\n"
		"smith_sink_failed_total 1\n"
		"# HELP smith_sink_in_flight kafka: events queued in memory, not yet acknowledged\n"
		"# TYPE smith_sink_in_flight gauge\n"
		"smith_sink_in_flight 5\n"
		"# HELP smith_sink_spooled_total Events written to the spool\n"
		"# TYPE smith_sink_spooled_total counter\n"
		"smith_sink_spooled_total 6\n"
		"# HELP smith_sink_replayed_total Spooled events delivered\n"
		"# TYPE smith_sink_replayed_total counter\n"
		"smith_sink_replayed_total 4\n"
		"# HELP smith_spool_bytes Bytes in the on-disk spool\n"
		"# TYPE smith_spool_bytes gauge\n"
		"smith_spool_bytes 4096\n"
		"# HELP smith_spool_records Events in the on-disk spool\n"
		"# TYPE smith_spool_records gauge\n"
		"smith_spool_records 2\n"
		"# HELP smith_spool_dropped_total Events lost to the spool's size bound\n"
		"# TYPE smith_spool_dropped_total counter\n"
		"smith_spool_dropped_total 8\n"
		"# HELP smith_spool_corrupt_total Damaged spool records skipped\n"
		"# TYPE smith_spool_corrupt_total counter\n"
		"smith_spool_corrupt_total 9\n"
		"# HELP smith_sink_dead_lettered_total kafka: events the broker refused for good, kept in "
		"the "
		"dead-letter file\n"
		"# TYPE smith_sink_dead_lettered_total counter\n"
		"smith_sink_dead_lettered_total 10\n"
		"# HELP smith_sink_producer_rebuilds_total kafka: producers rebuilt after a fatal error\n"
		"# TYPE smith_sink_producer_rebuilds_total counter\n"
		"smith_sink_producer_rebuilds_total 11\n";
	CHECK(status_to_prometheus(known_snapshot()) == expected);
}

TEST_CASE("status_to_prometheus leaves out the program families when no program is timed", "[unit][metrics]")
{
	StatusSnapshot s = known_snapshot();
	s.programs.clear();
	s.uptime_seconds = std::numeric_limits<double>::infinity();
	s.cpu_seconds = std::nan("");
	const std::string text = status_to_prometheus(s);
	CHECK(text.find("smith_program_") == std::string::npos);
	CHECK(line_starting(text, "smith_uptime_seconds ") == "smith_uptime_seconds 0");
	CHECK(line_starting(text, "smith_cpu_seconds_total ") == "smith_cpu_seconds_total 0");
}

TEST_CASE("label values: backslash, double quote and line feed are escaped, invalid UTF-8 replaced",
	  "[unit][metrics]")
{
	CHECK(label_text("plain") == "plain");
	CHECK(label_text("a\"b") == "a\\\"b");
	CHECK(label_text("a\\b") == "a\\\\b");
	CHECK(label_text("a\nb") == "a\\nb");
	CHECK(label_text("\\n") == "\\\\n"); // a backslash then n, not a line feed
	CHECK(label_text("\"} 1\nsmith_evil 1") == "\\\"} 1\\nsmith_evil 1");
	CHECK(label_text("tab\tcr\r") == "tab\tcr\r"); // the format escapes only the three
	CHECK(label_text("\xff") == "\xEF\xBF\xBD");
	CHECK(label_text("caf\xC3\xA9") == "caf\xC3\xA9");
	CHECK(label_text("end\\\xC3") == "end\\\\\xEF\xBF\xBD");

	// Every hostile string comes back as the JSON of events gives it: the same bytes, invalid UTF-8
	// replaced one byte at a time.
	for (const auto &[input, expected] : smith::test::hostile_cases()) {
		INFO("input: " << input);
		const std::string text = label_text(input);
		CHECK(text.find('\n') == std::string::npos);
		for (size_t i = 0; i < text.size(); ++i)
			if (text[i] == '"')
				CHECK((i > 0 && text[i - 1] == '\\'));
		CHECK(unescaped(text) == expected);
	}
}

TEST_CASE("hostile host and hook strings stay inside their label quotes", "[unit][metrics]")
{
	StatusSnapshot s = known_snapshot();
	s.hostname = "evil\"} 666\nsmith_info{x=\"";
	s.kernel = "6.1\\";
	s.backend_reason = "a\xff"
			   "b";
	s.hooks[1].reason = "line1\nline2 \"quoted\" C:\\dir";
	s.sink.target = "/tmp/\xC0\xAF";
	const std::string text = status_to_prometheus(s);
	CHECK(line_starting(text, "smith_info{") ==
	      "smith_info{version=\"0.1.0\",backend=\"ebpf\",backend_reason=\"a\xEF\xBF\xBD"
	      "b\",hostname=\"evil\\\"} "
	      "666\\nsmith_info{x=\\\"\",host_id=\"0123456789abcdef0123456789abcdef\","
	      "run_id=\"9f8e7d6c\",kernel=\"6.1\\\\\",ring_mode=\"percpu\"} 1");
	CHECK(line_starting(text, "smith_hook_info{hook=\"init_module\"") ==
	      "smith_hook_info{hook=\"init_module\",state=\"unavailable\",attach=\"fexit\","
	      "reason=\"line1\\nline2 \\\"quoted\\\" C:\\\\dir\"} 1");
	CHECK(line_starting(text, "smith_sink_info{") ==
	      "smith_sink_info{type=\"kafka\",target=\"/tmp/\xEF\xBF\xBD\xEF\xBF\xBD\"} 1");
	// Nothing was injected: no line starts with what the hostname tried to add.
	CHECK(line_starting(text, "smith_info{x=") == "");
	size_t samples = 0;
	for (size_t at = text.find("\nsmith_info"); at != std::string::npos;
	     at = text.find("\nsmith_info", at + 1))
		++samples;
	CHECK(samples == 1);
}
