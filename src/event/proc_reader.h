// Reads a live process's exe, cwd, tty and container id from procfs, for
// processes whose execve the daemon did not see (started before it). Called
// once per process, on a process cache miss; uses stack buffers only.
#pragma once

#include "event/process_cache.h"

#include <cstdint>
#include <string_view>

namespace smith::event {

// Fills `out` from <proc_root>/<pid>/{exe,cwd,stat,cgroup}, when the process
// there is the one that started `start_time` ns after boot (its stat's
// starttime, within a clock tick): a reused pid lends nothing. Whatever cannot
// be read (the process exited, a kernel thread has no exe) is left "". False
// when the process was not there.
bool read_process_info(std::string_view proc_root, uint32_t pid, uint64_t start_time, ProcessInfo &out);

} // namespace smith::event
