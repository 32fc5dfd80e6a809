/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel drift workarounds, in one place. Each names the kernel change it
 * bridges. The eBPF backend needs BTF and the BPF ring buffer (5.8+), so only
 * differences after 5.8 matter here; older kernels use the kernel module.
 *
 * - sock.sk_protocol is a plain u16 since 5.6 (bf9765145b85 "sock: Make
 *   sk_protocol a 16-bit value"), before every kernel this backend runs on:
 *   no bitfield flavour needed.
 * - task_struct.sessionid exists only with CONFIG_AUDIT (CONFIG_AUDITSYSCALL
 *   before 5.0): read through bpf_core_field_exists, else "unset".
 * - The memory cgroup controller may be compiled out or unused (cgroup v2
 *   only): the cgroup leaf name falls back to the default hierarchy.
 * - A task's boot-based start time is start_boottime since 5.5 (cf0cb7bba0d2
 *   "sched: Rename task_struct::real_start_time"), real_start_time before.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

#define SMITH_SESSIONID_UNSET 0xffffffffu

static __always_inline __u32 task__sessionid(struct task_struct *task)
{
	if (bpf_core_field_exists(task->sessionid))
		return task->sessionid;
	return SMITH_SESSIONID_UNSET;
}

struct task_struct___real_start_time {
	u64 real_start_time;
} __attribute__((preserve_access_index));

/* A task's start, ns since boot (CLOCK_BOOTTIME): what /proc/PID/stat's starttime counts. */
static __always_inline __u64 task__start_boottime(struct task_struct *task)
{
	if (bpf_core_field_exists(task->start_boottime))
		return task->start_boottime;
	return ((struct task_struct___real_start_time *)task)->real_start_time;
}

/* The cgroup whose leaf name carries the container id: the memory
 * controller's on v1/hybrid hosts (where container runtimes place tasks), the
 * default hierarchy's otherwise. */
static __always_inline struct cgroup *task__container_cgroup(struct task_struct *task)
{
	struct cgroup *cg = NULL;

	if (bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)) {
		int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);

		if (id >= 0 && id < CGROUP_SUBSYS_COUNT)
			cg = BPF_CORE_READ(task, cgroups, subsys[id], cgroup);
	}
	if (!cg)
		cg = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	return cg;
}
