// SPDX-License-Identifier: GPL-2.0-only
/*
 * fork records: the sched_process_fork tracepoint (the one the BPF program
 * uses), for each new process (not a thread). The daemon gives the new process
 * its parent's image, cwd, tty and container, so that a process that never
 * execs is still known by what it runs.
 *
 * The same probe makes sure that every new task passes the sys_exit
 * tracepoint while it is armed. The kernel flags every task when the first
 * sys_exit probe registers, and a child inherits its parent's flag; but 3.10
 * flags only tasks with an mm, so a kernel thread has none, and the user
 * processes it starts (call_usermodehelper: modprobe for request_module(),
 * which an unprivileged socket() can trigger, core dump pipes) would make
 * their module loads, connects and failed execs unseen. Their fork is
 * flagged here. (6.x flags kernel threads too, and this does nothing there.)
 */
#include <linux/sched.h>
#include "smith.h"

/* The sys_exit probe is registered: new tasks must be flagged for it. */
bool smith_sys_exit_live;

void smith_tp_sched_process_fork(void *data, struct task_struct *parent, struct task_struct *child)
{
	struct smith_fork *rec;
	u64 start;

	/* The child has not run yet: nothing races with this. */
	if (READ_ONCE(smith_sys_exit_live) && !smith_task_sys_traced(child))
		smith_task_sys_trace(child);
	if (child->pid != child->tgid)
		return; /* a thread: it shares its process's entry */
	if (!smith_hook_on(SMITH_HOOK_FORK))
		return;
	smith_enter();
	preempt_disable();
	start = smith_timing_start();
	rec = smith_ring_reserve(sizeof(*rec), SMITH_HOOK_FORK);
	if (rec) {
		smith_hdr_fill(&rec->hdr, SMITH_REC_FORK, sizeof(*rec), sizeof(*rec), 0);
		rec->child_start_time = smith_task_start(child);
		rec->child_pid = child->tgid;
		rec->pad0 = 0;
		smith_ring_commit(rec);
	}
	smith_timing_add(SMITH_HOOK_FORK, start);
	preempt_enable();
	smith_leave();
}
