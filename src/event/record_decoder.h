// Validates one raw record (include/smith/abi.h) and gives a view of it: the
// fixed part copied out (records may sit at any alignment), the tail strings
// as views into the record's bytes. Every record type of the event table
// (include/smith/event_table.h) is decoded by the same code. Nothing is
// allocated; the views live as long as the record's bytes.
#pragma once

#include "smith/abi.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <new>
#include <span>
#include <string_view>
#include <type_traits>

namespace smith::event {

// The daemon's view of the ABI's layout; a change here means abi.h changed.
static_assert(sizeof(smith_task) == 160);
static_assert(sizeof(smith_rec_hdr) == 192);
static_assert(sizeof(smith_inet) == 40);
static_assert(sizeof(smith_fd) == 56);
static_assert(sizeof(smith_pid_tree) == 248);
static_assert(sizeof(smith_execve) == 336 + 248);
static_assert(sizeof(smith_connect) == 240 + 248);
static_assert(sizeof(smith_module) == 208 + 248);
static_assert(sizeof(smith_fork) == 208);
static_assert(sizeof(smith_connect_suppressed) == 224 + 248);

// The number of tail strings a record struct has: the extent of its len[] array (0 without one).
template <class Record> constexpr size_t tail_string_count()
{
	if constexpr (requires(const Record &r) { r.len; })
		return std::extent_v<decltype(Record::len)>;
	else
		return 0;
}

// The largest fixed part and the most tail strings of any record type.
inline constexpr size_t kMaxFixedSize = std::max({
#define SMITH_X(ID, value, name, data_type, record) sizeof(record),
	SMITH_RECORD_TYPES(SMITH_X)
#undef SMITH_X
#define SMITH_X(ID, value, record) sizeof(record),
		SMITH_PROCESS_RECORD_TYPES(SMITH_X)
#undef SMITH_X
});
inline constexpr size_t kMaxTailStrings = std::max({
#define SMITH_X(ID, value, name, data_type, record) tail_string_count<record>(),
	SMITH_RECORD_TYPES(SMITH_X)
#undef SMITH_X
});

struct DecodedRecord {
	smith_rec_type type = SMITH_REC_EXECVE;
	smith_rec_hdr hdr{}; // common to every type
	// The fixed part as this daemon's struct for `type` lays it out. Fields the producer did
	// not send (appended to abi.h after it was built) read as zero. Bytes past the struct's size
	// are what earlier records left.
	alignas(8) std::array<std::byte, kMaxFixedSize> fixed{};
	// Tail strings indexed by the type's string enum (enum smith_exec_str, ...); unused slots
	// are empty. Raw bytes: paths still leaf-first encoded.
	std::array<std::string_view, kMaxTailStrings> tail{};

	// The fixed part as `Record`, the struct the event table names for `type`.
	template <class Record> const Record &as() const
	{
		static_assert(std::is_trivially_copyable_v<Record> && sizeof(Record) <= kMaxFixedSize);
		return *std::launder(reinterpret_cast<const Record *>(fixed.data()));
	}
};

struct DecodeResult {
	bool ok = false;
	std::string_view error; // static text, when !ok
};

// Checks, in this order: the record holds a header; hdr.size equals the
// record's size; hdr.abi is SMITH_ABI_VERSION; the type is known; hdr.fixed
// covers the header, is 8-byte aligned and lies within the record; the tail
// lengths add up to no more than what follows hdr.fixed. On failure `out` is
// unspecified.
DecodeResult decode_record(std::span<const std::byte> record, DecodedRecord &out);

} // namespace smith::event
