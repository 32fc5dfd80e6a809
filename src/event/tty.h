// Controlling tty names in the schema's form ("pts/0", "tty1", "ttyS0", or "").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace smith::event {

// From tty_struct.name as the kernel sends it: "pts0" -> "pts/0" (only "pts"
// followed by digits gets the slash); other names as they are. The name ends
// at its first NUL, if any.
void tty_from_kernel_name(std::string_view name, std::string &out);

// From /proc/<pid>/stat's tty_nr (a dev_t): Unix98 ptys (majors 136..143) ->
// "pts/N", major 4 -> "ttyN" (minor < 64) or "ttyS<minor-64>"; 0 and other
// devices -> "".
void tty_from_dev(uint32_t tty_nr, std::string &out);

} // namespace smith::event
