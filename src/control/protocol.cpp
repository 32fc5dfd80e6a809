#include "control/protocol.h"

#include "control/json_string.h"

namespace smith::control {

std::string error_answer(std::string_view message)
{
	std::string out = "{\"error\":";
	append_json_string(out, message);
	out.push_back('}');
	return out;
}

} // namespace smith::control
