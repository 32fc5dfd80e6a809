#include "event/container_id.h"

#include <array>

namespace smith::event {
namespace {

bool is_hex_id(std::string_view s)
{
	if (s.size() != kContainerIdLen)
		return false;
	for (const char c : s)
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	return true;
}

constexpr std::array<std::string_view, 4> kPrefixes = {"docker-", "cri-containerd-", "crio-", "libpod-"};
constexpr std::string_view kScope = ".scope";

} // namespace

std::string_view container_id_from_cgroup_name(std::string_view name)
{
	if (name.size() < kContainerIdLen)
		return {}; // every form holds the whole id: most names (session-2.scope, init.scope) end here
	if (is_hex_id(name))
		return name; // cgroupfs drivers: the directory is the bare id
	for (const std::string_view prefix : kPrefixes) {
		if (!name.starts_with(prefix))
			continue;
		std::string_view rest = name.substr(prefix.size());
		if (rest.ends_with(kScope))
			rest.remove_suffix(kScope.size());
		if (is_hex_id(rest))
			return rest;
	}
	return {};
}

std::string_view container_id_from_cgroup_path(std::string_view path)
{
	while (!path.empty()) {
		const size_t slash = path.rfind('/');
		const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
		const std::string_view id = container_id_from_cgroup_name(name);
		if (!id.empty())
			return id;
		if (slash == std::string_view::npos)
			break;
		path = path.substr(0, slash);
	}
	return {};
}

std::string_view container_id_from_proc_cgroup(std::string_view contents)
{
	while (!contents.empty()) {
		const size_t nl = contents.find('\n');
		const std::string_view line = contents.substr(0, nl);
		contents = nl == std::string_view::npos ? std::string_view{} : contents.substr(nl + 1);
		// "hierarchy-id:controllers:path"; the path may itself contain ':'.
		const size_t c1 = line.find(':');
		if (c1 == std::string_view::npos)
			continue;
		const size_t c2 = line.find(':', c1 + 1);
		if (c2 == std::string_view::npos)
			continue;
		const std::string_view id = container_id_from_cgroup_path(line.substr(c2 + 1));
		if (!id.empty())
			return id;
	}
	return {};
}

} // namespace smith::event
