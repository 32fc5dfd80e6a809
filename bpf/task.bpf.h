/* SPDX-License-Identifier: GPL-2.0-only */
/* Fills struct smith_task, the context common to every record, from a task. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "smith/abi.h"
#include "core_fixes.bpf.h"

static __always_inline __u32 pid__nr(struct pid *pid)
{
	/* numbers[0] is the pid in the initial namespace */
	return pid ? BPF_CORE_READ(pid, numbers[0].nr) : 0;
}

/* Inode of the pid namespace the task lives in (not pid_ns_for_children). */
static __always_inline __u32 task__pidns(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid *upid;

	if (level > 32)
		return 0;
	upid = (void *)pid + bpf_core_field_offset(struct pid, numbers) +
	       level * bpf_core_type_size(struct upid);
	return BPF_CORE_READ(upid, ns, ns.inum);
}

static __always_inline void task__fill(struct smith_task *t, struct task_struct *task)
{
	const struct cred *cred = BPF_CORE_READ(task, real_cred);
	struct signal_struct *signal = BPF_CORE_READ(task, signal);
	struct nsproxy *ns = BPF_CORE_READ(task, nsproxy);
	struct uts_namespace *uts = BPF_CORE_READ(ns, uts_ns);

	t->start_time = BPF_CORE_READ(task, group_leader, start_time);
	t->cgroup_id = bpf_get_current_cgroup_id();
	t->pid = BPF_CORE_READ(task, tgid);
	t->tid = BPF_CORE_READ(task, pid);
	t->ppid = BPF_CORE_READ(task, real_parent, tgid);
	t->pgid = pid__nr(BPF_CORE_READ(signal, pids[PIDTYPE_PGID]));
	t->sid = pid__nr(BPF_CORE_READ(signal, pids[PIDTYPE_SID]));
	t->uid = BPF_CORE_READ(cred, uid.val);
	t->gid = BPF_CORE_READ(cred, gid.val);
	t->euid = BPF_CORE_READ(cred, euid.val);
	t->egid = BPF_CORE_READ(cred, egid.val);
	t->sessionid = task__sessionid(task);
	t->pidns = task__pidns(task);
	t->mntns = BPF_CORE_READ(ns, mnt_ns, ns.inum);
	t->netns = BPF_CORE_READ(ns, net_ns, ns.inum);
	t->pad0 = 0;
	bpf_get_current_comm(t->comm, sizeof(t->comm));
	bpf_probe_read_kernel_str(t->nodename, sizeof(t->nodename),
				  __builtin_preserve_access_index(&uts->name.nodename));
}

static __always_inline void hdr__fill(struct smith_rec_hdr *h, __u16 type, __u32 size, __s64 retval,
				      struct task_struct *task)
{
	h->type = type;
	h->abi = SMITH_ABI_VERSION;
	h->size = size;
	h->ts = bpf_ktime_get_boot_ns();
	h->retval = retval;
	task__fill(&h->task, task);
}
