// The fleet view of `smithctl fleet`: from the messages of the heartbeat topic (each a status
// object, control::status_to_json), one row per host with its newest heartbeat, and that table as
// text for people or as a JSON array for machines. Nothing here talks to Kafka
// (heartbeat_reader.h does), so the rows can be built from any heartbeats and any clock.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace smith::ctl {

// A host is stale when its newest heartbeat is older than this many of its heartbeat intervals.
inline constexpr double kStaleIntervals = 3;

// One host, as its newest heartbeat shows it.
struct FleetRow {
	std::string hostname;
	std::string host_id; // /etc/machine-id of the host; rows are keyed by it (by hostname when "")
	std::string version;
	std::string backend;
	std::string kernel;
	std::string run_id;
	int64_t pid = 0;
	double uptime_seconds = 0;
	double time = 0; // when the heartbeat's status was taken, by the host's clock (epoch seconds)
	double last_seen_seconds = 0;		 // now - time: negative when the host's clock is ahead
	uint64_t heartbeat_interval_seconds = 0; // the host's own interval
	bool stale = false;			 // last_seen_seconds > kStaleIntervals intervals
	bool stopping = false;			 // the heartbeat was the last of a clean stop
	std::string previous_run_id;		 // "" when the host had no run recorded before this one
	bool previous_run_clean_stop = true;	 // whether that run stopped cleanly
	uint64_t kernel_drops = 0;		 // all hooks' kernel_drops since the run started
	uint64_t spool_records = 0;		 // events waiting in the host's spool
	uint64_t spool_bytes = 0;
	bool sink_connected = false;
	std::string sink_last_error;
};

// The newest heartbeat of each host, from messages given in any order.
class Fleet {
public:
	// Takes one message of the heartbeat topic. A message that is not a status object is counted
	// and otherwise ignored; the return value says why ("" when it was taken). Of two heartbeats
	// of one host, the one with the later `time` is kept; with equal times, the one added last.
	std::string add(std::string_view message);

	// The rows as of `now` (epoch seconds): stale hosts first, then by hostname and host_id.
	std::vector<FleetRow> rows(double now) const;

	size_t hosts() const { return newest_.size(); }
	size_t unreadable() const { return unreadable_; }		// messages ignored so far
	const std::string &first_error() const { return first_error_; } // why the first one was

private:
	std::map<std::string, FleetRow> newest_; // by host key: "id:" host_id, or "name:" hostname
	size_t unreadable_ = 0;
	std::string first_error_;
};

// The rows as a table with a header line, then a line counting the hosts and the stale ones, and
// one about unreadable messages if there were any. Text from the heartbeats goes through
// printable(), so a hostile hostname or error cannot drive the terminal.
std::string format_fleet(const std::vector<FleetRow> &rows, size_t unreadable = 0,
			 std::string_view first_error = {});

// The rows as one JSON array on one line, fields as README documents them.
std::string fleet_to_json(const std::vector<FleetRow> &rows);

} // namespace smith::ctl
