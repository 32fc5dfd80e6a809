// Validates one raw record (include/smith/abi.h) and gives a view of it: the
// fixed part copied out (records may sit at any alignment), the tail strings
// as views into the record's bytes. Nothing is allocated; the views live as
// long as the record's bytes.
#pragma once

#include "smith/abi.h"

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

namespace smith::event {

// The daemon's view of the ABI's layout; a change here means abi.h changed.
static_assert(sizeof(smith_task) == 160);
static_assert(sizeof(smith_rec_hdr) == 184);
static_assert(sizeof(smith_inet) == 40);
static_assert(sizeof(smith_fd) == 56);
static_assert(sizeof(smith_execve) == 328);
static_assert(sizeof(smith_connect) == 224);
static_assert(sizeof(smith_module) == 200); // 196 bytes of fields; the tail starts at sizeof
static_assert(static_cast<int>(SMITH_MODULE_STR_COUNT) <= static_cast<int>(SMITH_EXEC_STR_COUNT));

struct DecodedRecord {
	smith_rec_type type = SMITH_REC_EXECVE;
	smith_rec_hdr hdr{};	 // common to every type
	smith_execve execve{};	 // valid when type == SMITH_REC_EXECVE
	smith_connect connect{}; // valid when type == SMITH_REC_CONNECT
	smith_module module{};	 // valid for SMITH_REC_INIT_MODULE and SMITH_REC_FINIT_MODULE
	// Tail strings indexed by enum smith_exec_str or enum smith_module_str;
	// unused slots are empty. Raw bytes: paths still leaf-first encoded.
	std::array<std::string_view, SMITH_EXEC_STR_COUNT> tail{};
};

struct DecodeResult {
	bool ok = false;
	std::string_view error; // static text, when !ok
};

// Checks, in this order: the record holds a header; hdr.size equals the
// record's size; hdr.abi is SMITH_ABI_VERSION; the type is known; the fixed
// part is present; the tail lengths add up to no more than what follows the
// fixed part. On failure `out` is unspecified.
DecodeResult decode_record(std::span<const std::byte> record, DecodedRecord &out);

} // namespace smith::event
