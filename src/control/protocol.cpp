#include "control/protocol.h"

#include "json/json_writer.h"

namespace smith::control {

std::string error_answer(std::string_view message)
{
	std::string out;
	json::JsonWriter w(out);
	w.begin_object();
	w.field("error", message);
	w.end_object();
	return out;
}

} // namespace smith::control
