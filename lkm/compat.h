/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel API differences, in one place, each decided by a compile test of
 * lkm/conftest/ (HAVE_* from conftest.h), never by LINUX_VERSION_CODE.
 */
#ifndef SMITH_LKM_COMPAT_H
#define SMITH_LKM_COMPAT_H

#include <linux/version.h>
#include <linux/compiler.h>
#include <linux/uaccess.h>
#include <linux/timer.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/thread_info.h>
#ifdef HAVE_LINUX_SCHED_SIGNAL_H
#include <linux/sched/signal.h>
#endif
#ifdef HAVE_LINUX_SCHED_TASK_STACK_H
#include <linux/sched/task_stack.h>
#endif

/* READ_ONCE/WRITE_ONCE: 3.19. 3.10 has ACCESS_ONCE. */
#ifndef HAVE_READ_ONCE
#define READ_ONCE(x)	 ACCESS_ONCE(x)
#define WRITE_ONCE(x, v) (ACCESS_ONCE(x) = (v))
#endif

/* smp_load_acquire/smp_store_release: 3.14. Full barriers before that. */
#ifndef HAVE_SMP_LOAD_ACQUIRE
#define smp_load_acquire(p)                                                                                  \
	({                                                                                                   \
		typeof(*(p)) ___v = READ_ONCE(*(p));                                                         \
		smp_mb();                                                                                    \
		___v;                                                                                        \
	})
#define smp_store_release(p, v)                                                                              \
	do {                                                                                                 \
		smp_mb();                                                                                    \
		WRITE_ONCE(*(p), v);                                                                         \
	} while (0)
#endif

/* access_ok lost its type argument in 5.0. */
#ifdef HAVE_ACCESS_OK_2ARGS
#define smith_access_ok(p, n) access_ok(p, n)
#else
#define smith_access_ok(p, n) access_ok(VERIFY_READ, p, n)
#endif

/* poll's return type: __poll_t and EPOLL* since 4.16. */
#ifdef HAVE_POLL_T
typedef __poll_t smith_poll_t;
#define SMITH_POLLIN (EPOLLIN | EPOLLRDNORM)
#else
typedef unsigned int smith_poll_t;
#define SMITH_POLLIN (POLLIN | POLLRDNORM)
#endif

/* timer_delete_sync since 6.2 (timer_setup vs setup_timer: see ring.c). */
#ifdef HAVE_TIMER_DELETE_SYNC
#define smith_timer_delete_sync(t) timer_delete_sync(t)
#else
#define smith_timer_delete_sync(t) del_timer_sync(t)
#endif

/* A namespace's inode number: ns_common since 3.19, proc_inum before. */
#ifdef HAVE_NS_COMMON
#define smith_ns_inum(x) ((x)->ns.inum)
#else
#define smith_ns_inum(x) ((x)->proc_inum)
#endif

/* The memory controller's subsystem id: renamed in 3.15. */
#ifdef HAVE_MEMORY_CGRP_ID
#define SMITH_MEMCG_ID memory_cgrp_id
#else
#define SMITH_MEMCG_ID mem_cgroup_subsys_id
#endif

/*
 * The flag that makes a task's syscalls pass the sys_enter/sys_exit
 * tracepoints: a bit of thread_info.syscall_work since 5.11 (generic entry),
 * TIF_SYSCALL_TRACEPOINT before.
 */
#ifdef HAVE_SYSCALL_WORK
#define smith_task_sys_traced(t) test_task_syscall_work(t, SYSCALL_TRACEPOINT)
#define smith_task_sys_trace(t)	 set_task_syscall_work(t, SYSCALL_TRACEPOINT)
#else
#define smith_task_sys_traced(t) test_tsk_thread_flag(t, TIF_SYSCALL_TRACEPOINT)
#define smith_task_sys_trace(t)	 set_tsk_thread_flag(t, TIF_SYSCALL_TRACEPOINT)
#endif

/*
 * The current task is in a syscall made through the 32-bit entry (int $0x80,
 * or any syscall of a 32-bit process): TS_COMPAT in thread_info.status, set at
 * that entry and cleared only on the way back to user mode, after the
 * sys_exit tracepoint. Spelled the same on 3.10 and 6.x; without
 * CONFIG_IA32_EMULATION there is no such entry.
 */
static inline bool smith_in_compat_syscall(void)
{
#if defined(CONFIG_IA32_EMULATION) && defined(TS_COMPAT)
	return current_thread_info()->status & TS_COMPAT;
#else
	return false;
#endif
}

#endif /* SMITH_LKM_COMPAT_H */
