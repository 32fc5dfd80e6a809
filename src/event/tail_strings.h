// The two structured encodings found in record tails (include/smith/abi.h):
// leaf-first paths and NUL-separated argument lists.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace smith::event {

// Replaces `out` with the absolute path encoded leaf first in `encoded`
// (components each followed by NUL, final component first). A missing final
// NUL is tolerated and empty components are skipped. An empty encoding means
// the path was not read and gives ""; an encoding with no non-empty component
// (one empty component, or only NULs) is the root and gives "/".
void join_leaf_first_path(std::string_view encoded, std::string &out);

// Calls f(std::string_view) for each argument in `argv` (arguments each
// followed by NUL). The bytes decide the count, not the record's argc: a final
// argument without its NUL (cut by truncation) still counts, "" has none.
template <typename F> void for_each_arg(std::string_view argv, F &&f)
{
	size_t i = 0;
	while (i < argv.size()) {
		const size_t nul = argv.find('\0', i);
		if (nul == std::string_view::npos) {
			f(argv.substr(i));
			return;
		}
		f(argv.substr(i, nul - i));
		i = nul + 1;
	}
}

// The final component of a '/'-separated path ("" for "" or "/").
std::string_view path_basename(std::string_view path);

} // namespace smith::event
