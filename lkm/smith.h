/* SPDX-License-Identifier: GPL-2.0-only */
/* smith.ko internals: what the files of lkm/ share. */
#ifndef SMITH_LKM_H
#define SMITH_LKM_H

#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/percpu.h>
#include <linux/wait.h>
#include <linux/path.h>
#include <linux/dcache.h>
#include <linux/mount.h>
#include <linux/string.h>
#include "compat.h"
#include "smith/abi.h"
#include "smith/lkm_ring.h"

#ifndef CONFIG_X86_64
#error "smith.ko supports x86_64 only (syscall symbols and argument registers)"
#endif

#define SMITH_LKM_VERSION "0.1.0"

#undef pr_fmt
#define pr_fmt(fmt) "smith: " fmt

/* main.c: module parameters */
extern unsigned int smith_ring_kb;
extern unsigned int smith_wakeup_bytes;
extern unsigned int smith_wakeup_ms;
bool smith_hook_param(unsigned int hook);

/* read.c: reads that never fault and never sleep, for atomic context */
int smith_kread(void *dst, const void *src, size_t n);
long smith_kstr(char *dst, const void *src, u32 max);
int smith_uread(void *dst, const void __user *src, size_t n);
long smith_ustr(char *dst, const void __user *src, u32 max);
u32 smith_tail_kstr(u8 *tail, u32 off, const void *src, u32 max);
u32 smith_tail_ustr(u8 *tail, u32 off, const void __user *src, u32 max);
/* Reads a kernel pointer-sized value, NULL/0 if it cannot be read. */
#define smith_kval(p)                                                                                        \
	({                                                                                                   \
		typeof(*(p)) ___v;                                                                           \
		if (smith_kread(&___v, (p), sizeof(___v)))                                                   \
			memset(&___v, 0, sizeof(___v));                                                      \
		___v;                                                                                        \
	})

/*
 * struct mount is private to fs/ (fs/mount.h) and absent from kernel headers
 * packages; path walks need its parent and mount point. Its first members
 * have been these since it was split from struct vfsmount (3.3, 7d6fec45a5131)
 * up to 6.x: the hash link (a list_head until 3.13, an hlist_node since, two
 * pointers either way), mnt_parent, mnt_mountpoint, then the embedded struct
 * vfsmount. smith_path_init() checks that layout against the running kernel
 * before the module accepts a reader, and refuses to load if it does not hold.
 */
struct smith_mount {
	void *mnt_hash[2];
	struct smith_mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
};

/* The primitives include/smith/builder.h is written against (read.c's nofault reads). */
#define SMITH_NOINLINE		   noinline
#define build__uread(dst, n, src)  smith_uread(dst, src, n)
#define build__ustr(dst, max, src) smith_ustr(dst, src, max)
#define build__kstr(dst, max, src) smith_kstr(dst, src, max)
#define build__kcopy(dst, n, src)  memcpy(dst, src, n)
#define build__tail_at(tail, off)  ((tail) + (off))
#define build__kval(p, field)                                                                                \
	({                                                                                                   \
		typeof((p)->field + 0) ___v;                                                                 \
		if (smith_kread(&___v, &(p)->field, sizeof(___v)))                                           \
			___v = 0;                                                                            \
		___v;                                                                                        \
	})
#define build__mount		  struct smith_mount
#define build__real_mount(vfsmnt) container_of(vfsmnt, struct smith_mount, mnt)
#define build__mount_vfs(m)	  (&(m)->mnt)
#define build__loop(n, fn, ctx)	  smith_loop(n, fn, ctx)

/* bpf_loop()'s contract, for the shared builders: fn(i, ctx) until it returns non-zero, n calls at most. */
static inline long smith_loop(u32 n, long (*fn)(u32 i, void *ctx), void *ctx)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (fn(i, ctx))
			return i + 1;
	return n;
}

#include "smith/builder.h"

/* ring.c: the shared area and its per-CPU rings */
extern void *smith_area;
extern unsigned long smith_area_bytes;
extern struct smith_lkm_info *smith_info;
extern wait_queue_head_t smith_wq;
int smith_rings_init(void);
void smith_rings_exit(void);
int smith_ring_output(const void *rec, u32 size, unsigned int hook);
void *smith_ring_reserve(u32 size, unsigned int hook);
void smith_ring_commit(void *rec);
void smith_ring_count_drops(unsigned int hook, u64 n);
bool smith_rings_readable(void);
void smith_rings_start(void);
void smith_rings_quiesce(void);

/* dev.c: /dev/smith */
int smith_dev_init(void);
void smith_dev_exit(void);

/* hooks.c: probes, arming, in-flight accounting, scratch buffers (include/smith/builder.h) */
int smith_hooks_init(void);
void smith_hooks_exit(void);
int smith_hooks_arm(void);
void smith_hooks_disarm(void);
struct smith_scratch *smith_scratch_get(void);

/*
 * The hooks armed (1 << enum smith_hook): set once every probe of the session
 * is registered, cleared before any is removed. A probe that serves several
 * hooks (sys_exit) reports only for those set here.
 */
extern u32 smith_hooks_on;

static inline bool smith_hook_on(unsigned int hook)
{
	return READ_ONCE(smith_hooks_on) & (1u << hook);
}

DECLARE_PER_CPU(long, smith_running);

/* Brackets every handler: disarm waits until no CPU runs one. */
static inline void smith_enter(void)
{
	this_cpu_inc(smith_running);
}

static inline void smith_leave(void)
{
	this_cpu_dec(smith_running);
}

/* ring.c: hook timing (abi.h, struct smith_timing), with preemption disabled */
u64 smith_timing_start(void);
void smith_timing_add(unsigned int hook, u64 start);

/* task.c: struct smith_task and the record header */
int smith_task_init(void);
void smith_hdr_fill(struct smith_rec_hdr *h, u16 type, u16 fixed, u32 size, s64 retval);
void smith_pid_tree_fill(struct smith_pid_tree *t);
u64 smith_task_start(struct task_struct *task);
struct file *smith_fd_get(unsigned int fd);
void smith_fd_put(struct file *file);
struct pt_regs;
struct pt_regs *smith_user_regs(void);
const char *smith_cgroup_leaf_name(void);

/* net.c: sockets */
struct sock;
struct file;
struct sock *smith_file_sock(struct file *file);
void smith_sock_source(struct sock *sk, u16 family, struct smith_inet *inet);
void smith_sock_dest(struct sock *sk, u16 family, struct smith_inet *inet);

/* path.c: leaf-first path encoding (path__append of include/smith/builder.h) */
int smith_path_init(void);
u32 smith_path_append(u8 *tail, struct smith_walk *w, const struct path *path);

/* syscall.c: the sys_exit probe, and what the current task is in the middle of */
struct pt_regs;
void smith_tp_sys_exit(void *data, struct pt_regs *regs, long ret);
u16 smith_connect_via_current(bool *in_connect);

/* exec.c, net.c, kmod.c, fork.c, budget.c: what each hook reports (event_table.h) */
struct linux_binprm;
struct module;
struct task_struct;
void smith_exec_failed(long ret, unsigned long filename, unsigned long argv, unsigned long envp, bool compat,
		       unsigned int hook);
void smith_connect_exit(int fd, unsigned long uaddr, u32 addrlen, long ret, u32 flags, u16 via);
void smith_connect_socketcall_exit(unsigned long args, long ret);
void smith_connect_syn_sent(const struct sock *sk);
void smith_connecting_release(void);
void smith_connecting_forget(void);
void smith_module_exit(unsigned int hook, long ret, int fd, unsigned long uargs, bool compat);
bool smith_compat_exec_take(void);
int smith_compat_exec_arm(void);
void smith_compat_exec_disarm(void);
void smith_tp_sched_process_exec(void *data, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm);
void smith_tp_module_load(void *data, struct module *mod);
void smith_tp_sched_process_fork(void *data, struct task_struct *parent, struct task_struct *child);
void smith_tp_sched_process_exit(void *data, struct task_struct *p);
void smith_tp_inet_sock_set_state(void *data, const struct sock *sk, const int oldstate, const int newstate);
#ifndef HAVE_TRACE_INET_SOCK_SET_STATE
struct kprobe;
int smith_kp_tcp_set_state_pre(struct kprobe *p, struct pt_regs *regs);
#endif
void smith_kmod_reset(void);

/* fork.c: the syscall-tracepoint flag of tasks the kernel does not flag itself */
extern bool smith_sys_exit_live;

/* budget.c: each process's budget of connect events (include/smith/budget.h) */
extern unsigned int smith_budget_rate;
extern unsigned int smith_budget_burst;
int smith_budget_init(void);
void smith_budget_exit(void);
void smith_budget_reset(void);
bool smith_budget_connect(void);

#endif /* SMITH_LKM_H */
