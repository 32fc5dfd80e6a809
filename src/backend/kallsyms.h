// Where kernel functions lie, from /proc/kallsyms.
#pragma once

#include <cstdint>
#include <istream>
#include <string_view>
#include <vector>

namespace smith::backend {

struct FunctionExtent {
	uint64_t start = 0; // 0: not found, or the kernel hides addresses (kptr_restrict)
	uint64_t end = 0;   // the next kernel symbol's address
};

// For each of `names` (functions of the kernel itself, not of a module), the addresses
// [start, end) it occupies, as the kallsyms listing `in` gives them.
std::vector<FunctionExtent> function_extents(std::istream &in, const std::vector<std::string_view> &names);

} // namespace smith::backend
