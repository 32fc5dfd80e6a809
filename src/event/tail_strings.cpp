#include "event/tail_strings.h"

namespace smith::event {

void join_leaf_first_path(std::string_view encoded, std::string &out)
{
	out.clear();
	if (encoded.empty())
		return;
	size_t end = encoded.size();
	if (encoded[end - 1] == '\0')
		--end; // the last component's terminator, not an empty component after it
	// Components are encoded[0, end) split at NULs; walk them last (root side) to first.
	size_t stop = end;
	for (;;) {
		size_t start = stop;
		while (start > 0 && encoded[start - 1] != '\0')
			--start;
		if (start < stop) {
			out.push_back('/');
			out.append(encoded.data() + start, stop - start);
		}
		if (start == 0)
			break;
		stop = start - 1;
	}
	if (out.empty())
		out.push_back('/');
}

std::string_view path_basename(std::string_view path)
{
	while (!path.empty() && path.back() == '/')
		path.remove_suffix(1);
	const size_t slash = path.rfind('/');
	return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

} // namespace smith::event
