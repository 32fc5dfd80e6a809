#include "event/user_cache.h"

#include <cerrno>
#include <pwd.h>

namespace smith::event {

UserCache::UserCache(size_t capacity) : capacity_(capacity), pw_buf_(4096)
{
	names_.reserve(capacity_);
}

std::string_view UserCache::name(uint32_t uid)
{
	if (const auto it = names_.find(uid); it != names_.end())
		return it->second;
	if (names_.size() >= capacity_) {
		names_.clear();
		++generation_;
	}

	std::string found;
	for (;;) {
		passwd pw{};
		passwd *result = nullptr;
		const int rc =
			getpwuid_r(static_cast<uid_t>(uid), &pw, pw_buf_.data(), pw_buf_.size(), &result);
		if (rc == ERANGE && pw_buf_.size() < (1u << 20)) {
			pw_buf_.resize(pw_buf_.size() * 2);
			continue;
		}
		if (rc == 0 && result != nullptr && result->pw_name != nullptr)
			found = result->pw_name;
		break;
	}
	return names_.emplace(uid, std::move(found)).first->second;
}

} // namespace smith::event
