// Raw record -> schema v1 JSON line. The one entry point of src/event/ that the
// daemon calls for every record, on the hot path.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "smith/abi.h"

namespace smith::event {

// Facts about this host and run, fixed for the daemon's lifetime but for the clock offset, which
// follows steps of the wall clock.
struct HostInfo {
	std::string hostname;	      // gethostname()
	std::string host_id;	      // /etc/machine-id, "" if absent
	std::string run_id;	      // random hex id of this run
	std::string backend;	      // "ebpf" or "lkm" (records replayed keep the backend named here)
	int64_t boot_to_epoch_ns = 0; // CLOCK_REALTIME - CLOCK_BOOTTIME, to turn record ts into epoch ns
};

// Reads this host's hostname and machine-id, draws a run id, and measures the
// boot-to-epoch offset.
HostInfo detect_host_info(std::string backend);

// CLOCK_REALTIME - CLOCK_BOOTTIME now: the offset that turns a record's boot-time stamp into
// epoch ns. It changes when the wall clock is stepped (NTP at boot, `date -s`).
int64_t measure_boot_to_epoch_ns();

struct NormalizeResult {
	bool ok = false;
	smith_rec_type type = SMITH_REC_EXECVE; // valid when ok
	std::string_view error;			// why the record was rejected, when !ok (static text)
	bool event = true;			// a JSON event was appended (a fork record makes none)
	uint64_t suppressed = 0; // connect_suppressed: the connect calls it says were held back
};

class Normalizer {
public:
	explicit Normalizer(HostInfo host);
	~Normalizer();
	Normalizer(const Normalizer &) = delete;
	Normalizer &operator=(const Normalizer &) = delete;

	// Decodes one raw record (struct smith_rec_hdr first, as include/smith/abi.h
	// defines) and appends exactly one schema v1 JSON object and '\n' to `out`,
	// with the given seq. A record that only tells about processes (a fork)
	// updates what the normalizer knows of them and appends nothing
	// (event=false; seq is not used). A malformed record (short, wrong ABI
	// version, unknown type, lengths past its end) appends nothing and returns
	// ok=false.
	// Once warm it does no heap allocation; enrichment caches fill on first sight.
	NormalizeResult append_json(std::span<const std::byte> record, uint64_t seq, std::string &out);

	const HostInfo &host() const;
	// Stamps from now on are turned into epoch ns with this offset (a stepped wall clock).
	void set_boot_to_epoch_ns(int64_t offset);

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace smith::event
