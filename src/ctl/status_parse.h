// Reading the daemon's answers back: the inverse of control::status_to_json.
#pragma once

#include <string_view>

#include "control/status.h"

namespace smith::ctl {

// Checks that `answer` is a JSON object and not an {"error":...} answer.
// Throws std::runtime_error saying what is wrong (or the daemon's error text).
void check_answer(std::string_view answer);

// Parses a status object. Members it does not know are ignored (fields may be
// added to the format); a missing member or one of the wrong type throws
// std::runtime_error naming the member.
control::StatusSnapshot status_from_json(std::string_view json);

} // namespace smith::ctl
