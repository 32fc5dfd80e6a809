// The sink interface: where serialised events go.
//
// Contract, for every implementation (stdout and file: FileSink; kafka: KafkaSink):
//   - write() takes one event: its schema v1 JSON line (with the trailing
//     '\n'), and the key downstream ordering needs (host_id). The sink copies
//     what it keeps; the caller reuses the buffers right after. write() never
//     blocks for long. It returns false when the event is already lost (kafka:
//     the broker is away and the spool is full); a loss found later (a file
//     write that fails at flush) is counted then. Every lost event is counted
//     in status() (failed, spool_dropped).
//   - flush() moves buffered events on: the file sink writes them; the kafka
//     sink collects delivery reports, feeds spooled events back to the
//     producer and syncs the spool. The pipeline calls it when the ring is
//     idle, at least every 100 ms, and before publishing a status snapshot, so
//     that every event up to the snapshot's last_seq is at the destination, in
//     flight to it (status().in_flight), in the spool, or counted lost.
//   - persist() makes every event written so far survive the death of the process (kill -9,
//     an OOM kill): the file sink writes its buffer; the kafka sink with durability: disk
//     writes its journal (into the page cache, synced by its own policy). The pipeline calls
//     it before the backend gives the kernel the records' space back (RecordHandler::
//     on_batch_end), one write per batch. With durability: memory it promises nothing.
//   - reopen() re-opens the destination (SIGHUP after log rotation); a no-op
//     where it means nothing.
//   - close() flushes and releases the destination; idempotent.
//   - heartbeat() sends the daemon's status JSON where the sink's consumers
//     look for it (kafka: the heartbeat topic); a no-op elsewhere.
//   - Errors opening the destination at construction throw SinkError.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "control/status.h"

namespace smith::sink {

class SinkError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

class Sink {
public:
	virtual ~Sink() = default;
	virtual bool write(std::string_view json_line, std::string_view key) = 0;
	virtual void flush() = 0;
	virtual void persist() {}
	virtual void reopen() = 0;
	virtual void close() = 0;
	virtual void heartbeat(std::string_view /*status_json*/) {}
	virtual control::SinkStatus status() const = 0;
};

} // namespace smith::sink
