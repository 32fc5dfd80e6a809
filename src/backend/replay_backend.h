// The replay backend: reads raw records recorded earlier (smithd --record, or
// test fixtures) from a file, so that decode, normalize and sink run without
// root or a kernel. File format: struct smith_replay_file_hdr, then records
// back to back (include/smith/abi.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace smith::backend {

class ReplayBackend final : public Backend {
public:
	// `event_backend` is what the replayed events name as their backend.
	ReplayBackend(std::string path, std::string event_backend = "ebpf");

	std::string name() const override { return "replay"; }
	std::string event_backend() const override { return event_backend_; }
	// Reads the whole file and checks its header; throws BackendError on a
	// missing file, a bad magic or an ABI version this build does not speak.
	void start() override;
	// Delivers every remaining record at once, then returns PollEnd. A record
	// whose size runs past the end of the file ends the replay with an error.
	long poll(std::chrono::milliseconds timeout, RecordHandler &handler) override;
	std::vector<control::HookStatus> hooks() const override;
	void stop() override {}
	int64_t boot_to_epoch_ns() const override { return boot_to_epoch_ns_; }

private:
	std::string path_;
	std::string event_backend_;
	std::vector<std::byte> data_; // the whole file
	size_t pos_ = 0;	      // next record's offset in data_
	int64_t boot_to_epoch_ns_ = 0;
};

// Writes raw records in the replay format (smithd --record).
class ReplayWriter {
public:
	// Creates or truncates `path`; throws BackendError if it cannot.
	ReplayWriter(const std::string &path, int64_t boot_to_epoch_ns);
	~ReplayWriter();
	ReplayWriter(const ReplayWriter &) = delete;
	ReplayWriter &operator=(const ReplayWriter &) = delete;

	void write(std::span<const std::byte> record);
	void flush();

private:
	int fd_ = -1;
	std::vector<std::byte> buffer_; // pending bytes, written when full and on flush
};

} // namespace smith::backend
