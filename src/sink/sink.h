// The sink interface: where serialised events go.
//
// Contract, for every implementation (stdout, file, and later kafka):
//   - write() takes one event: its schema v1 JSON line (with the trailing
//     '\n'), and the key downstream ordering needs (host_id). The sink copies
//     what it keeps; the caller reuses the buffers right after. write() never
//     blocks for long: a sink that cannot take more records the loss in
//     status().failed and returns false.
//   - flush() pushes buffered events to the destination; the pipeline calls it
//     after each batch, and before publishing a status snapshot, so that every
//     event up to the snapshot's last_seq is at the destination.
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
	virtual void reopen() = 0;
	virtual void close() = 0;
	virtual void heartbeat(std::string_view /*status_json*/) {}
	virtual control::SinkStatus status() const = 0;
};

} // namespace smith::sink
