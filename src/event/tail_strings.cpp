#include "event/tail_strings.h"

#include <cstring>

namespace smith::event {

void join_leaf_first_path(std::string_view encoded, std::string &out)
{
	out.clear();
	if (encoded.empty())
		return;
	size_t end = encoded.size();
	if (encoded[end - 1] == '\0')
		--end; // the last component's terminator, not an empty component after it
	// The path has one '/' per non-empty component and the components' bytes, which together are
	// at most end + 1 bytes (the NULs between components are as many as the components but one).
	out.resize(end + 1);
	char *const begin = out.data();
	char *d = begin;
	// Components are encoded[0, end) split at NULs; walk them last (root side) to first.
	const char *const base = encoded.data();
	size_t stop = end;
	for (;;) {
		const void *nul = stop == 0 ? nullptr : memrchr(base, '\0', stop);
		const size_t start =
			nul == nullptr ? 0 : static_cast<size_t>(static_cast<const char *>(nul) - base) + 1;
		if (start < stop) {
			*d++ = '/';
			std::memcpy(d, base + start, stop - start);
			d += stop - start;
		}
		if (start == 0)
			break;
		stop = start - 1;
	}
	if (d == begin)
		*d++ = '/';
	out.resize(static_cast<size_t>(d - begin));
}

std::string_view path_basename(std::string_view path)
{
	while (!path.empty() && path.back() == '/')
		path.remove_suffix(1);
	const size_t slash = path.rfind('/');
	return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

} // namespace smith::event
