#include "control/status.h"
namespace smith::control { std::string status_to_json(const StatusSnapshot &) { return "{}"; } }
