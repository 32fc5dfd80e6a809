// What an event needs to know about a process that its record may not carry:
// exe, cwd, tty and container id, keyed by (pid, start_time). Execve records
// fill it; connect and module records read it.
//
// Bounded: `capacity` entries. Inserting a new process into a full cache drops
// the oldest half (oldest by first insertion; an update keeps an entry's
// place), so the processes seen recently stay. Memory is reserved up front and
// entries are reused in place: once an entry's strings have grown to a
// process's paths, refilling it allocates nothing.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smith::event {

struct ProcessInfo {
	std::string exe;			 // absolute path of the executable, or ""
	std::string cwd;			 // working directory, or ""
	std::string tty;			 // "pts/0" form, or ""
	std::array<char, 64> container_id_buf{}; // the 64-hex id, when container_id_len is 64
	uint8_t container_id_len = 0;
	uint64_t generation = 0; // set by each upsert() to a value the cache never gave before

	std::string_view container_id() const { return {container_id_buf.data(), container_id_len}; }
	// Stores `id` (64 hex chars, or "" on the host; anything longer is cut).
	void set_container_id(std::string_view id);
};

class ProcessCache {
public:
	static constexpr size_t kDefaultCapacity = 32768;

	explicit ProcessCache(size_t capacity = kDefaultCapacity);

	// The entry for (pid, start_time), or nullptr. The pointer is valid until
	// the next call to upsert().
	const ProcessInfo *find(uint32_t pid, uint64_t start_time) const;

	// The entry for (pid, start_time), created if absent (dropping the oldest
	// half first when full). A new entry's fields are cleared and keep their
	// capacity; an existing entry is returned as it is, for the caller to
	// overwrite. The reference is valid until the next call to upsert().
	// Either way the entry gets a new generation, one no entry ever had: what
	// was derived from an entry (a rendered fragment of JSON) and names its
	// generation is current exactly while the entry still has that generation,
	// as long as entries are written only right after upsert().
	ProcessInfo &upsert(uint32_t pid, uint64_t start_time, bool *created = nullptr);

	size_t size() const { return used_; }
	size_t capacity() const { return capacity_; }

private:
	struct Entry {
		uint32_t pid = 0;
		uint64_t start_time = 0;
		ProcessInfo info;
	};

	static uint64_t hash(uint32_t pid, uint64_t start_time);
	size_t slot_of(uint32_t pid, uint64_t start_time) const; // index into table_ (empty or matching)
	void drop_oldest_half();

	size_t capacity_;	      // most entries held
	size_t used_ = 0;	      // entries_[0, used_) are live, in first-insertion order
	std::vector<Entry> entries_;  // reserved to capacity_, never reallocated; [used_, size()) are spare
	std::vector<uint32_t> table_; // open addressing, linear probing: entry index + 1, 0 = empty
	size_t mask_;		      // table_.size() - 1 (a power of two, at least 2 * capacity_)
	uint64_t generation_ = 0;     // the last generation given by upsert()
};

} // namespace smith::event
