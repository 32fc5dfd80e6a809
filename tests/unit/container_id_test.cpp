#include "event/container_id.h"

#include <catch2/catch.hpp>

#include <string>

using namespace smith::event;

namespace {
const std::string kId = "4f5ab7c34d0fc1e6b0a5a1d7bdf4c1e1a3ef22a3cb38c4e6df0bcd9a4c7ed6a1";
const std::string kId2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
} // namespace

TEST_CASE("container id from a cgroup leaf name", "[unit]")
{
	REQUIRE(kId.size() == 64);
	CHECK(container_id_from_cgroup_name("docker-" + kId + ".scope") == kId);
	CHECK(container_id_from_cgroup_name("cri-containerd-" + kId + ".scope") == kId);
	CHECK(container_id_from_cgroup_name("crio-" + kId + ".scope") == kId);
	CHECK(container_id_from_cgroup_name("libpod-" + kId + ".scope") == kId);
	CHECK(container_id_from_cgroup_name("libpod-" + kId) == kId); // podman, cgroupfs driver
	CHECK(container_id_from_cgroup_name(kId) == kId);	      // docker/k8s cgroupfs leaf

	// Not containers.
	CHECK(container_id_from_cgroup_name("crio-conmon-" + kId + ".scope") == "");
	CHECK(container_id_from_cgroup_name("session-3.scope") == "");
	CHECK(container_id_from_cgroup_name("user@1000.service") == "");
	CHECK(container_id_from_cgroup_name("") == "");
	CHECK(container_id_from_cgroup_name("/") == "");
	CHECK(container_id_from_cgroup_name("docker-" + kId.substr(0, 63) + ".scope") == "");
	CHECK(container_id_from_cgroup_name("docker-" + kId + "0.scope") == "");
	CHECK(container_id_from_cgroup_name("docker-" + kId + ".scopex") == "");
	std::string upper = kId;
	upper[0] = 'F';
	upper[1] = 'G';
	CHECK(container_id_from_cgroup_name(upper) == "");
	CHECK(container_id_from_cgroup_name("213ec418844af039b0be22dfbb3de31f") == ""); // 32 hex
}

TEST_CASE("container id from a cgroup path", "[unit]")
{
	CHECK(container_id_from_cgroup_path("/system.slice/docker-" + kId + ".scope") == kId);
	CHECK(container_id_from_cgroup_path("/docker/" + kId) == kId);
	CHECK(container_id_from_cgroup_path("/kubepods/burstable/pod6c1a2b6e-1e3f-4a52-9d8e-0b0f7c6e2a11/" +
					    kId) == kId);
	CHECK(container_id_from_cgroup_path("/kubepods.slice/kubepods-besteffort.slice/"
					    "kubepods-besteffort-pod6c1a2b6e_1e3f.slice/cri-containerd-" +
					    kId + ".scope") == kId);
	CHECK(container_id_from_cgroup_path("/machine.slice/libpod-" + kId + ".scope/container") == kId);
	CHECK(container_id_from_cgroup_path("/user.slice/user-1000.slice/session-2.scope") == "");
	CHECK(container_id_from_cgroup_path("/") == "");
	CHECK(container_id_from_cgroup_path("") == "");
	// The component nearest the leaf wins (docker-in-docker).
	CHECK(container_id_from_cgroup_path("/docker/" + kId2 + "/docker/" + kId) == kId);
}

TEST_CASE("container id from /proc/<pid>/cgroup contents", "[unit]")
{
	CHECK(container_id_from_proc_cgroup("0::/system.slice/containerd.service\n") == "");
	CHECK(container_id_from_proc_cgroup("0::/system.slice/docker-" + kId + ".scope\n") == kId);
	// cgroup v1: the id is on some hierarchies only; every line is checked.
	CHECK(container_id_from_proc_cgroup("12:pids:/\n11:cpuset:/\n4:memory:/docker/" + kId +
					    "\n1:name=systemd:/\n0::/\n") == kId);
	CHECK(container_id_from_proc_cgroup("4:memory:/process_api/213ec418844af039b0be22dfbb3de31f\n0::/") ==
	      "");
	CHECK(container_id_from_proc_cgroup("garbage\n\n::\n0::/docker/" + kId) == kId); // no final newline
	CHECK(container_id_from_proc_cgroup("") == "");
}
