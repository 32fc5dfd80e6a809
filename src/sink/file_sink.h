// JSON-lines sinks: `stdout` and `file`. Events are appended to a reused
// buffer and written with write(2) on flush() (after each pipeline batch) or
// when the buffer fills; a file is opened O_APPEND, so rotation by rename plus
// SIGHUP (reopen) loses nothing.
//
// Every line at the destination is a whole event: a write cut short (a full
// disk) is rolled back to the last whole line. What was not written waits in
// memory, in order, and goes out with the next flush that works; past 64 MiB
// waiting, new events are dropped and counted as failed.
#pragma once

#include <string>

#include "sink/sink.h"

namespace smith::sink {

class FileSink final : public Sink {
public:
	// Writes to standard output.
	FileSink();
	// Appends to `path`, creating it (mode 0600) if needed; throws SinkError if it cannot.
	explicit FileSink(std::string path);
	~FileSink() override;

	bool write(std::string_view json_line, std::string_view key) override;
	void flush() override;
	void persist() override { flush(); }
	void reopen() override;
	void close() override;
	control::SinkStatus status() const override;

private:
	void open_path();
	size_t settle_torn_line(size_t done);

	std::string path_; // "" for stdout
	int fd_ = -1;
	std::string buffer_;	     // events not yet written
	size_t buffered_events_ = 0; // events in buffer_
	uint64_t written_ = 0;
	uint64_t failed_ = 0;
	std::string last_error_;
};

} // namespace smith::sink
