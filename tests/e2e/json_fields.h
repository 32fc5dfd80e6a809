// Fields of a parsed `smithctl status --json` (or any simdjson element) that a test requires to be there:
// a missing field or a wrong type throws, and the test fails naming it.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>

namespace smith::e2e {

inline std::string get_str(simdjson::dom::element e, const char *key)
{
	return std::string(e[key].get_string().value());
}

inline uint64_t get_u64(simdjson::dom::element e, const char *key)
{
	return e[key].get_uint64().value();
}

} // namespace smith::e2e
