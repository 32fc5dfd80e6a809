// uid -> user name on this host, through getpwuid_r (files, LDAP, sssd: NSS
// decides; the static smithd has files only, see main.cpp), each uid looked up once. Unknown uids are cached
// as "" too, so a uid without a name costs one lookup, not one per event.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace smith::event {

class UserCache {
public:
	static constexpr size_t kDefaultCapacity = 4096;

	explicit UserCache(size_t capacity = kDefaultCapacity);

	// The name of `uid`, or "" if it has none. The view is valid until the
	// next call. Past `capacity` distinct uids the cache starts over.
	std::string_view name(uint32_t uid);

	// Changes whenever a name given before may be given differently (the cache
	// started over): while it stays the same, name(uid) gives what it gave.
	uint64_t generation() const { return generation_; }

private:
	size_t capacity_;				  // most uids held
	std::unordered_map<uint32_t, std::string> names_; // uid -> name, "" when unknown
	std::vector<char> pw_buf_;			  // getpwuid_r's scratch, grown on ERANGE
	uint64_t generation_ = 0;			  // times the cache started over
};

} // namespace smith::event
