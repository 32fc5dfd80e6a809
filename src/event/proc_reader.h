// Reads a live process's exe, cwd, tty and container id from procfs, for
// processes whose execve the daemon did not see (started before it). Called
// once per process, on a process cache miss; uses stack buffers only.
#pragma once

#include "event/process_cache.h"

#include <cstdint>
#include <string_view>

namespace smith::event {

// Fills `out` from <proc_root>/<pid>/{exe,cwd,stat,cgroup}. Whatever cannot be
// read (the process exited, a kernel thread has no exe) is left "".
void read_process_info(std::string_view proc_root, uint32_t pid, ProcessInfo &out);

} // namespace smith::event
