/* SPDX-License-Identifier: GPL-2.0-only */
/* Fills struct smith_task, the context common to every record, from a task. */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "smith/abi.h"
#include "core_fixes.bpf.h"

/*
 * The task pointers here come from bpf_get_current_task_btf() or a tp_btf
 * argument, so fields are read with plain loads that the verifier guards
 * (a fault reads 0) rather than a bpf_probe_read_kernel() call per field: this
 * runs on every hooked syscall, and the helper calls were most of its cost.
 * Accesses stay CO-RE relocatable through vmlinux.h's preserve_access_index.
 */
static __always_inline __u32 pid__nr(struct pid *pid)
{
	/* numbers[0] is the pid in the initial namespace */
	return pid ? pid->numbers[0].nr : 0;
}

/*
 * Inode of the pid namespace the task lives in (not pid_ns_for_children): the
 * namespace of its pid's deepest level.
 */
static __always_inline __u32 task__pidns(struct task_struct *task)
{
	struct pid *pid = task->thread_pid;
	__u64 level;
	struct upid *upid;

	if (!pid)
		return 0;
	level = pid->level;
	/* A task of the initial namespace (most of them): plain loads. */
	if (level == 0)
		return pid->numbers[0].ns->ns.inum;
	/*
	 * Deeper levels lie past numbers[0], where the verifier lets no plain
	 * load go, so they are read with probe reads of a plain number: older
	 * verifiers (6.1) refuse pointer arithmetic with a product of two
	 * registers, whatever its bounds.
	 */
	if (level > 32)
		return 0;
	upid = (void *)BPF_CORE_READ(task, thread_pid) + bpf_core_field_offset(struct pid, numbers) +
	       level * (__u64)bpf_core_type_size(struct upid);
	return BPF_CORE_READ(upid, ns, ns.inum);
}

/*
 * Copies `n` bytes, a multiple of 8, with 8-byte loads: a copy of a char
 * array is otherwise one guarded load per byte.
 */
static __always_inline void copy__words(void *dst, const void *src, __u32 n)
{
#pragma unroll
	for (__u32 i = 0; i < n / 8; i++)
		((__u64 *)dst)[i] = ((const __u64 *)src)[i];
}

static __always_inline void task__fill(struct smith_task *t, struct task_struct *task)
{
	const struct cred *cred = task->real_cred;
	struct signal_struct *signal = task->signal;
	struct nsproxy *ns = task->nsproxy;

	t->start_time = task__start_boottime(task->group_leader);
	/* What bpf_get_current_cgroup_id() returns, by plain loads: the default hierarchy's kernfs id. */
	t->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	t->pid = task->tgid;
	t->tid = task->pid;
	t->ppid = task->real_parent->tgid;
	t->pgid = pid__nr(signal->pids[PIDTYPE_PGID]);
	t->sid = pid__nr(signal->pids[PIDTYPE_SID]);
	t->uid = cred->uid.val;
	t->gid = cred->gid.val;
	t->euid = cred->euid.val;
	t->egid = cred->egid.val;
	t->sessionid = task__sessionid(task);
	t->pidns = task__pidns(task);
	t->mntns = ns->mnt_ns->ns.inum;
	t->netns = ns->net_ns->ns.inum;
	t->pad0 = 0;
	/*
	 * Plain loads, not bpf_get_current_comm() or a string read: those cost
	 * more than the rest of the record. Bytes after a comm's NUL are not
	 * cleared. The kernel pads a nodename with NULs, and its 65th byte is
	 * always one.
	 */
	_Static_assert(sizeof(t->comm) == 16 && sizeof(t->nodename) == 72, "word copies");
	copy__words(t->comm, task->comm, 16);
	copy__words(t->nodename, ns->uts_ns->name.nodename, 64);
	*(__u64 *)&t->nodename[64] = 0;
}

/*
 * The current task's process and its real parents, each by its thread group
 * leader (abi.h, struct smith_pid_tree): plain loads, at most
 * SMITH_PID_TREE_MAX steps. Every hook that records a tree runs in the
 * context of the task it reports, so the walk starts at the current task.
 *
 * A global function: the verifier checks it once, on its own, rather than
 * once for every caller and path that reaches it, which more than doubled the
 * time the syscall program took to load. Its argument is then memory of the
 * record's size that may be NULL.
 */
__noinline int pid_tree__fill(struct smith_pid_tree *t)
{
	struct task_struct *p, *parent;
	__u32 i;

	if (!t)
		return 0;
	p = bpf_get_current_task_btf()->group_leader;
	t->depth = 0;
	t->flags = SMITH_PID_TREE_TRUNCATED;
	*(__u32 *)t->pad0 = 0;
	*(__u16 *)&t->pad0[4] = 0;
	for (i = 0; i < SMITH_PID_TREE_MAX; i++) {
		/* A task always has a group leader and a parent: a NULL one is a load that failed, and
		 * the tree stays flagged as cut. */
		if (!p)
			break;
		t->pid[i] = p->tgid;
		copy__words(t->comm[i], p->comm, SMITH_COMM_LEN);
		t->depth = i + 1;
		if (p->tgid ==
		    1) { /* the host's init: past a pid namespace's init too, which anyone can make */
			t->flags = 0;
			break;
		}
		parent = p->real_parent;
		if (!parent)
			break;
		if (!parent->tgid) { /* kthreadd's parent is the idle task, pid 0 */
			t->flags = 0;
			break;
		}
		p = parent->group_leader;
	}
	return 0;
}

static __always_inline void hdr__fill(struct smith_rec_hdr *h, __u16 type, __u16 fixed, __u32 size,
				      __s64 retval, struct task_struct *task)
{
	h->type = type;
	h->abi = SMITH_ABI_VERSION;
	h->size = size;
	h->fixed = fixed;
	h->pad0[0] = h->pad0[1] = h->pad0[2] = 0;
	h->ts = bpf_ktime_get_boot_ns();
	h->retval = retval;
	task__fill(&h->task, task);
}
