// SPDX-License-Identifier: GPL-2.0-only
/*
 * The probes behind each hook, arming and disarming, and the accounting that
 * makes unloading safe. The probes are the tracepoints of the event table's
 * SMITH_LKM_TRACEPOINTS (include/smith/event_table.h):
 *
 *   hook            probes
 *   execve          sched_process_exec (successful execs of both calls, in
 *                   the new image: the point the BPF program uses)
 *                   + sys_exit (failed attempts)
 *   execveat        sys_exit (failed attempts)
 *   connect         sys_exit (connect(2), i386 connect and socketcall(SYS_CONNECT))
 *                   + inet_sock_set_state (TCP connections started without
 *                   connect(): io_uring, sendto(MSG_FASTOPEN), the kernel;
 *                   before 4.16 a kprobe on tcp_set_state() stands in)
 *                   + sched_process_exit (the budget's last count, the SYN_SENT slot)
 *   init_module     sys_exit + module_load (the module's name)
 *   finit_module    sys_exit + module_load (the module's name)
 *   fork            sched_process_fork (new processes, not threads)
 *
 * sys_exit is the raw syscall tracepoint: one probe sees the end of every
 * syscall, in both numberings (x86_64, and i386 through int $0x80 or a
 * 32-bit process), with the saved user registers and the return value, and
 * leaves at once unless the syscall is one of the hooks' (syscall.c). Unlike a
 * kretprobe it keeps nothing per call in flight, so no number of calls blocked
 * in the kernel can exhaust it; the price is that every syscall of every task
 * takes the kernel's slow exit path while a reader is attached (README).
 *
 * A hook is armed only when all its probes registered; otherwise whatever it
 * had registered is removed again, and it is reported unavailable when the
 * kernel lacks what it probes (a syscall this kernel has no number for:
 * execveat on 3.10; a missing tracepoint), failed otherwise. A probe serving
 * several hooks reports only for those armed (smith_hooks_on).
 *
 * Safe unloading (AgentSmith's SAFE_EXIT):
 *   - a reader's open file holds a module reference: no rmmod while open;
 *   - disarm clears smith_hooks_on, unregisters every probe, waits for
 *     tracepoint_synchronize_unregister() (and the kprobe core waits for its
 *     handlers), then until the per-CPU count of running handlers
 *     (smith_running) is zero on every CPU. A call blocked in the kernel
 *     holds nothing of the module's: it returns through a tracepoint that no
 *     longer calls smith;
 *   - sys_exit goes last, after the probes that flag new tasks for it
 *     (fork.c) are gone, so that the kernel's own unregistration clears
 *     every flag;
 *   - the rings' irq_work and timers are synced last.
 */
#include <linux/kprobes.h>
#include <linux/tracepoint.h>
#include <linux/vmalloc.h>
#include <linux/delay.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <asm/unistd.h>
#include "smith.h"

DEFINE_PER_CPU(long, smith_running);
u32 smith_hooks_on;

static struct smith_scratch *smith_scratch; /* one per possible CPU */

struct smith_scratch *smith_scratch_get(void)
{
	return &smith_scratch[smp_processor_id()];
}

struct smith_tp {
	const char *name; /* the tracepoint */
	void *probe;
	u32 hooks;	   /* the hooks that need it */
	struct kprobe *kp; /* where the kernel lacks the tracepoint: the kprobe that stands in */
	bool registered;
	struct tracepoint *tp;
};

#define HOOK(h) (1u << (h))

#ifndef HAVE_TRACE_INET_SOCK_SET_STATE
/*
 * Before 4.16 TCP has no inet_sock_set_state tracepoint: a kprobe (not a
 * kretprobe: nothing is kept per call) on tcp_set_state(sk, state), which
 * every TCP state change goes through, stands in (net.c).
 */
static struct kprobe smith_kp_tcp_set_state = {
	.symbol_name = "tcp_set_state",
	.pre_handler = smith_kp_tcp_set_state_pre,
};
#define SMITH_TP_KPROBE(tracepoint)                                                                          \
	(!strcmp(#tracepoint, "inet_sock_set_state") ? &smith_kp_tcp_set_state : NULL)
#else
#define SMITH_TP_KPROBE(tracepoint) NULL
#endif

static struct smith_tp smith_tps[] = {
#define SMITH_X(tracepoint, hooks) {#tracepoint, smith_tp_##tracepoint, hooks, SMITH_TP_KPROBE(tracepoint)},
	SMITH_LKM_TRACEPOINTS(SMITH_X)
#undef SMITH_X
};

static const char *const smith_hook_names[SMITH_HOOK_MAX] = {
#define SMITH_X(ID, syscall, record, nr_x86_64, nr_i386, reports) #syscall,
	SMITH_HOOKS(SMITH_X)
#undef SMITH_X
};

/*
 * Syscall hooks whose syscall this kernel has no number for: execveat before
 * 3.19 (CentOS 7's tree has no __NR_execveat), the module syscalls without
 * CONFIG_MODULES.
 */
static u32 hooks__missing_syscalls(void)
{
	u32 missing = 0;

#ifndef __NR_execveat
	missing |= HOOK(SMITH_HOOK_EXECVEAT);
#endif
#ifndef CONFIG_MODULES
	missing |= HOOK(SMITH_HOOK_INIT_MODULE) | HOOK(SMITH_HOOK_FINIT_MODULE);
#endif
	return missing;
}

static bool tp__is_sys_exit(const struct smith_tp *t)
{
	return t->probe == (void *)smith_tp_sys_exit;
}

#ifdef HAVE_TRACEPOINT_STRUCT
static void tp__find(struct tracepoint *tp, void *priv)
{
	struct smith_tp *t = priv;

	if (!t->tp && !strcmp(tp->name, t->name))
		t->tp = tp;
}
#endif

/* 0, -ENOENT when the kernel has no such tracepoint, or the error. */
static int tp__register(struct smith_tp *t)
{
	int err;

	if (t->kp) {
		const char *symbol = t->kp->symbol_name;
		kprobe_pre_handler_t pre = t->kp->pre_handler;

		/* A struct kprobe is registered afresh each time: nothing of the last session stays. */
		memset(t->kp, 0, sizeof(*t->kp));
		t->kp->symbol_name = symbol;
		t->kp->pre_handler = pre;
		err = register_kprobe(t->kp);
		if (err) {
			pr_warn("%s: cannot probe %s: %d\n", t->name, symbol, err);
			return err;
		}
		t->registered = true;
		return 0;
	}
#ifdef HAVE_TRACEPOINT_STRUCT
	t->tp = NULL;
	for_each_kernel_tracepoint(tp__find, t);
	if (!t->tp) {
		pr_warn("tracepoint %s not found\n", t->name);
		return -ENOENT;
	}
	err = tracepoint_probe_register(t->tp, t->probe, NULL);
#else
	err = tracepoint_probe_register(t->name, t->probe, NULL);
#endif
	if (err) {
		pr_warn("tracepoint %s: cannot register: %d\n", t->name, err);
		return err;
	}
	t->registered = true;
	return 0;
}

/* Unregisters; the caller waits (tracepoint_synchronize_unregister) before anything the probe uses goes. */
static void tp__unregister(struct smith_tp *t)
{
	if (!t->registered)
		return;
	if (t->kp)
		unregister_kprobe(t->kp); /* waits for running handlers */
	else
#ifdef HAVE_TRACEPOINT_STRUCT
		tracepoint_probe_unregister(t->tp, t->probe, NULL);
#else
		tracepoint_probe_unregister(t->name, t->probe, NULL);
#endif
	t->registered = false;
}

/*
 * Unregisters the probes that `keep` does not want, sys_exit last: the
 * probes that flag new tasks for it (fork.c) must be gone before the kernel's
 * unregistration clears the flags. Sleeps.
 */
static void hooks__remove(u32 keep)
{
	struct smith_tp *sys_exit = NULL;
	bool any = false;
	int i;

	for (i = 0; i < ARRAY_SIZE(smith_tps); i++)
		if (tp__is_sys_exit(&smith_tps[i]) && !(smith_tps[i].hooks & keep))
			WRITE_ONCE(smith_sys_exit_live, false);
	for (i = 0; i < ARRAY_SIZE(smith_tps); i++) {
		struct smith_tp *t = &smith_tps[i];

		if (!t->registered || (t->hooks & keep))
			continue;
		if (tp__is_sys_exit(t)) {
			sys_exit = t;
			continue;
		}
		any |= !t->kp;
		tp__unregister(t);
	}
	if (any)
		tracepoint_synchronize_unregister();
	if (sys_exit) {
		tp__unregister(sys_exit);
		tracepoint_synchronize_unregister();
	}
}

static long percpu_sum(long __percpu *v)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu) sum += *per_cpu_ptr(v, cpu);
	return sum;
}

/* Removes every probe and waits until no handler runs. Sleeps. */
static void hooks__remove_all(void)
{
	int waited;

	WRITE_ONCE(smith_hooks_on, 0);
	smith_compat_exec_disarm();
	hooks__remove(0);
	for (waited = 0; percpu_sum(&smith_running); waited++) {
		if (waited == 10000)
			pr_warn("still waiting for running handlers to finish\n");
		msleep(1);
	}
	smith_rings_quiesce();
}

/* "sys_exit, inet_sock_set_state" : the probes of `hook` that registered, for the log. */
static void hooks__probe_names(unsigned int hook, char *buf, size_t size)
{
	size_t n = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < ARRAY_SIZE(smith_tps) && n < size; i++) {
		const struct smith_tp *t = &smith_tps[i];

		if (!t->registered || !(t->hooks & HOOK(hook)))
			continue;
		n += scnprintf(buf + n, size - n, "%s%s%s%s", n ? ", " : "", t->kp ? "kprobe " : "",
			       t->kp ? t->kp->symbol_name : t->name, t->kp ? " for " : "");
		if (t->kp)
			n += scnprintf(buf + n, size - n, "%s", t->name);
	}
}

int smith_hooks_arm(void)
{
	u32 wanted = 0, failed = 0, disabled = 0, armed = 0, missing;
	char probes[160];
	unsigned int h;
	int i, err;

	WRITE_ONCE(smith_hooks_on, 0);
	smith_kmod_reset();
	smith_budget_reset();
	for (h = 0; h < SMITH_HOOK_MAX; h++) {
		if (smith_hook_param(h))
			wanted |= HOOK(h);
		else
			disabled |= HOOK(h);
	}
	missing = hooks__missing_syscalls() & wanted;
	wanted &= ~missing;
	for (i = 0; i < ARRAY_SIZE(smith_tps); i++) {
		struct smith_tp *t = &smith_tps[i];

		if (!(t->hooks & wanted))
			continue;
		err = tp__register(t);
		if (err == -ENOENT)
			missing |= t->hooks & wanted;
		else if (err)
			failed |= t->hooks & wanted;
		else if (tp__is_sys_exit(t))
			WRITE_ONCE(smith_sys_exit_live, true);
	}
	failed &= ~missing;
	armed = wanted & ~failed & ~missing;

	/* A probe none of whose hooks is armed is not left behind. */
	hooks__remove(armed);
	if (armed & HOOK(SMITH_HOOK_EXECVE))
		pr_info("execs through the 32-bit entry: %d of 2 kprobes\n", smith_compat_exec_arm());
	else
		smith_compat_exec_disarm();

	smith_info->hooks_armed = armed;
	smith_info->hooks_disabled = disabled;
	smith_info->hooks_failed = failed;
	smith_info->hooks_unavailable = missing;
	WRITE_ONCE(smith_hooks_on, armed);
	for (h = 0; h < SMITH_HOOK_MAX; h++) {
		hooks__probe_names(h, probes, sizeof(probes));
		pr_info("hook %s: %s%s%s\n", smith_hook_names[h],
			(armed & HOOK(h))      ? "armed"
			: (disabled & HOOK(h)) ? "disabled"
			: (missing & HOOK(h))  ? "unavailable (the kernel has no such syscall or tracepoint)"
					       : "failed",
			(armed & HOOK(h)) ? " on " : "", (armed & HOOK(h)) ? probes : "");
	}
	return 0;
}

void smith_hooks_disarm(void)
{
	hooks__remove_all();
	smith_connecting_release();
	smith_info->hooks_armed = 0;
	pr_info("hooks disarmed\n");
}

int smith_hooks_init(void)
{
	smith_scratch = vzalloc((unsigned long)nr_cpu_ids * sizeof(*smith_scratch));
	if (!smith_scratch)
		return -ENOMEM;
	return 0;
}

void smith_hooks_exit(void)
{
	vfree(smith_scratch);
	smith_scratch = NULL;
}
