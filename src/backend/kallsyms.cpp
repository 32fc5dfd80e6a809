#include "backend/kallsyms.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace smith::backend {

std::vector<FunctionExtent> function_extents(std::istream &in, const std::vector<std::string_view> &names)
{
	std::vector<FunctionExtent> found(names.size());
	std::vector<uint64_t> addresses; // of the kernel's own symbols
	std::string line;
	while (std::getline(in, line)) {
		// "ffffffff81000000 T _stext", a module's symbols with " [module]" after the name
		const size_t type_at = line.find(' ');
		if (type_at == std::string::npos || type_at + 3 > line.size())
			continue;
		uint64_t address = 0;
		if (std::from_chars(line.data(), line.data() + type_at, address, 16).ec != std::errc{} ||
		    address == 0)
			continue;
		std::string_view name(line);
		name.remove_prefix(type_at + 3);
		const size_t name_end = name.find_first_of(" \t");
		if (name_end != std::string_view::npos) {
			if (name.find('[', name_end) != std::string_view::npos)
				continue; // a module's
			name = name.substr(0, name_end);
		}
		addresses.push_back(address);
		for (size_t i = 0; i < names.size(); i++)
			if (found[i].start == 0 && name == names[i])
				found[i].start = address;
	}
	std::sort(addresses.begin(), addresses.end());
	for (FunctionExtent &f : found) {
		const auto next = std::upper_bound(addresses.begin(), addresses.end(), f.start);
		if (f.start == 0 || next == addresses.end())
			f = {};
		else
			f.end = *next;
	}
	return found;
}

} // namespace smith::backend
