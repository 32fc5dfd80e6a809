// SPDX-License-Identifier: GPL-2.0-only
/*
 * fork records: the sched_process_fork tracepoint (the one the BPF program
 * uses), for each new process (not a thread). The daemon gives the new process
 * its parent's image, cwd, tty and container, so that a process that never
 * execs is still known by what it runs.
 */
#include <linux/sched.h>
#include "smith.h"

void smith_tp_sched_process_fork(void *data, struct task_struct *parent, struct task_struct *child)
{
	struct smith_fork *rec;

	if (child->pid != child->tgid)
		return; /* a thread: it shares its process's entry */
	smith_enter();
	preempt_disable();
	smith_missed_fold();
	rec = smith_ring_reserve(sizeof(*rec), SMITH_HOOK_FORK);
	if (rec) {
		smith_hdr_fill(&rec->hdr, SMITH_REC_FORK, sizeof(*rec), sizeof(*rec), 0);
		rec->child_start_time = smith_task_start(child);
		rec->child_pid = child->tgid;
		rec->pad0 = 0;
		smith_ring_commit(rec);
	}
	preempt_enable();
	smith_leave();
}
