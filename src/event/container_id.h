// Container ids from cgroup names. Runtimes name a container's cgroup after
// its 64-hex id:
//   docker (systemd driver)        docker-<id>.scope
//   docker (cgroupfs driver)       /docker/<id>
//   containerd / CRI (systemd)     cri-containerd-<id>.scope
//   Kubernetes (cgroupfs driver)   /kubepods/<qos>/pod<uid>/<id>
//   cri-o                          crio-<id>.scope   (crio-conmon-<id>.scope is the monitor, not a container)
//   podman / libpod                libpod-<id>.scope
// The full 64-hex id is reported (Falco and Tetragon show its first 12 chars).
#pragma once

#include <string_view>

namespace smith::event {

inline constexpr size_t kContainerIdLen = 64;

// The container id named by one cgroup directory name (a leaf, as the kernel
// sends in SMITH_EXEC_CGROUP), or "" when the name is not a container's.
// The result is a view into `name`.
std::string_view container_id_from_cgroup_name(std::string_view name);

// The container id found in a cgroup path ("/system.slice/docker-<id>.scope"),
// looking at its components from the leaf up; "" on the host.
std::string_view container_id_from_cgroup_path(std::string_view path);

// The container id found in the contents of /proc/<pid>/cgroup: every line's
// path is checked, the first id found wins; "" on the host.
std::string_view container_id_from_proc_cgroup(std::string_view contents);

} // namespace smith::event
