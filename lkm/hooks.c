// SPDX-License-Identifier: GPL-2.0-only
/*
 * The probes behind each hook, arming and disarming, and the accounting that
 * makes unloading safe. The probes come from the event table
 * (include/smith/event_table.h): a kretprobe on each hook's syscall, and the
 * tracepoints of SMITH_LKM_TRACEPOINTS:
 *
 *   hook            probes
 *   execve          tracepoint sched_process_exec (successful execs of both
 *                   calls, in the new image: the point the BPF program uses)
 *                   + kretprobe on execve (failed attempts)
 *   execveat        kretprobe on execveat (failed attempts)
 *   connect         kretprobe on connect
 *   init_module     kretprobe on init_module + tracepoint module_load (name)
 *   finit_module    kretprobe on finit_module + tracepoint module_load (name)
 *   fork            tracepoint sched_process_fork (new processes, not threads)
 *
 * A hook is armed only when all its probes registered; otherwise whatever it
 * had registered is removed again, and it is reported unavailable when the
 * kernel lacks what it probes (no such symbol or tracepoint: execveat on
 * 3.10, the module syscalls without CONFIG_MODULES), failed otherwise.
 *
 * Syscall symbols differ between kernels (sys_execve; __x64_sys_execve for
 * the pt_regs wrappers of 4.17+), so each kretprobe tries both in turn.
 * Handlers read the call's arguments from the registers saved at syscall
 * entry (task_pt_regs), which is the same under either calling convention.
 *
 * Safe unloading (AgentSmith's SAFE_EXIT):
 *   - a reader's open file holds a module reference: no rmmod while open;
 *   - disarm unregisters every probe (the kprobe core waits for handlers
 *     running on other CPUs), then waits until the per-CPU count of running
 *     handlers (smith_running) is zero on every CPU;
 *   - kretprobe instances still pending at unregister (calls that entered
 *     and have not returned: a blocking connect, say) are counted
 *     (smith_pending) and logged. The kprobe core detaches them from the
 *     module's struct kretprobe at unregister and never calls the module's
 *     handler for them again, so their return after rmmod is harmless;
 *   - tracepoint probes are followed by tracepoint_synchronize_unregister();
 *   - the rings' irq_work and timers are synced last.
 */
#include <linux/kprobes.h>
#include <linux/tracepoint.h>
#include <linux/vmalloc.h>
#include <linux/delay.h>
#include <linux/string.h>
#include <linux/slab.h>
#include "smith.h"

DEFINE_PER_CPU(long, smith_running);
DEFINE_PER_CPU(long, smith_pending);

static struct smith_scratch *smith_scratch; /* one per possible CPU */

struct smith_scratch *smith_scratch_get(void)
{
	return &smith_scratch[smp_processor_id()];
}

struct smith_kret {
	const char *what;
	const char *symbols[3]; /* candidates, tried in order, NULL-terminated */
	kretprobe_handler_t entry;
	kretprobe_handler_t ret;
	const size_t *data_size;
	unsigned int hook;  /* the hook it serves */
	const char *symbol; /* the candidate that registered */
	bool registered;
	unsigned long missed_seen; /* nmissed already counted as drops */
	struct kretprobe rp;
};

struct smith_tp {
	const char *name;
	void *probe;
	u32 hooks;
	bool registered;
	struct tracepoint *tp;
};

#define HOOK(h) (1u << (h))

/* One kretprobe per syscall hook, on its syscall. */
static struct smith_kret smith_krets[] = {
#define SMITH_X(ID, syscall, record, nr_x86_64, nr_i386, reports)                                            \
	{#syscall,                                                                                           \
	 {"__x64_sys_" #syscall, "sys_" #syscall, NULL},                                                     \
	 smith_##syscall##_entry,                                                                            \
	 smith_##syscall##_ret,                                                                              \
	 &smith_##syscall##_data_size,                                                                       \
	 SMITH_HOOK_##ID},
	SMITH_SYSCALL_HOOKS(SMITH_X)
#undef SMITH_X
};

static struct smith_tp smith_tps[] = {
#define SMITH_X(tracepoint, hooks) {#tracepoint, smith_tp_##tracepoint, hooks},
	SMITH_LKM_TRACEPOINTS(SMITH_X)
#undef SMITH_X
};

static const char *const smith_hook_names[SMITH_HOOK_MAX] = {
#define SMITH_X(ID, syscall, record, nr_x86_64, nr_i386, reports) #syscall,
	SMITH_HOOKS(SMITH_X)
#undef SMITH_X
};

/*
 * maxactive bounds the calls a kretprobe follows at once; more are missed
 * (counted as drops). connect and execve can block for long, so they get
 * room; module loads are rare and short.
 */
static int kret__maxactive(const struct smith_kret *k)
{
	if (k->hook == SMITH_HOOK_INIT_MODULE || k->hook == SMITH_HOOK_FINIT_MODULE)
		return 16;
	return max_t(int, 64, 16 * num_possible_cpus());
}

/*
 * Counts kretprobe misses (no free instance, or a reentrant hit) as drops of
 * their hook, in the ring of the CPU that notices them. Called before each
 * record is written, for every hook: a hook that misses every call still
 * shows its losses as soon as any record is produced.
 */
void smith_missed_fold(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(smith_krets); i++) {
		struct smith_kret *k = &smith_krets[i];
		unsigned long missed, seen;

		if (!READ_ONCE(k->registered))
			continue;
#ifdef HAVE_KPROBE_FAULT_HANDLER
		/*
		 * Before 5.14 (ec6aba3d2be1) a page fault inside a probe's
		 * handler also counts in kp.nmissed, and the nofault reads of
		 * user and kernel memory make such faults: there only the
		 * instances the kretprobe had none left for (rp.nmissed) are
		 * misses. The other kind, a reentrant hit, cannot come from
		 * smith's handlers, which call no hooked syscall.
		 */
		missed = READ_ONCE(k->rp.nmissed);
#else
		missed = READ_ONCE(k->rp.nmissed) + READ_ONCE(k->rp.kp.nmissed);
#endif
		seen = READ_ONCE(k->missed_seen);
		if (missed != seen && cmpxchg(&k->missed_seen, seen, missed) == seen)
			smith_ring_count_drops(k->hook, missed - seen);
	}
}

/*
 * Registers the kretprobe on the first candidate symbol that takes it.
 * -ENOENT when the kernel has none of them; else the first other error.
 */
static int kret__register(struct smith_kret *k)
{
	int err = -ENOENT;
	int i;

	for (i = 0; k->symbols[i]; i++) {
		int r;

		memset(&k->rp, 0, sizeof(k->rp));
		k->rp.kp.symbol_name = k->symbols[i];
		k->rp.entry_handler = k->entry;
		k->rp.handler = k->ret;
		k->rp.data_size = *k->data_size;
		k->rp.maxactive = kret__maxactive(k);
		r = register_kretprobe(&k->rp);
		if (!r) {
			k->symbol = k->symbols[i];
			k->registered = true;
			k->missed_seen = 0;
			return 0;
		}
		if (err == -ENOENT)
			err = r;
	}
	if (err == -ENOENT)
		pr_info("hook %s: this kernel has no %s or %s\n", k->what, k->symbols[0], k->symbols[1]);
	else
		pr_warn("hook %s: cannot probe %s: %d\n", k->what, k->symbols[0], err);
	return err;
}

static void kret__unregister(struct smith_kret *k)
{
	if (!k->registered)
		return;
	unregister_kretprobe(&k->rp);
	k->registered = false;
	k->symbol = NULL;
}

#ifdef HAVE_TRACEPOINT_STRUCT
static void tp__find(struct tracepoint *tp, void *priv)
{
	struct smith_tp *t = priv;

	if (!t->tp && !strcmp(tp->name, t->name))
		t->tp = tp;
}
#endif

static int tp__register(struct smith_tp *t)
{
	int err;

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

static void tp__unregister(struct smith_tp *t)
{
	if (!t->registered)
		return;
#ifdef HAVE_TRACEPOINT_STRUCT
	tracepoint_probe_unregister(t->tp, t->probe, NULL);
#else
	tracepoint_probe_unregister(t->name, t->probe, NULL);
#endif
	t->registered = false;
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
	struct kretprobe *rps[ARRAY_SIZE(smith_krets)];
	bool any_tp = false;
	long pending;
	int i, n = 0, waited, cpu;

	/* One batch: the kprobe core waits for running handlers once for all of them. */
	for (i = 0; i < ARRAY_SIZE(smith_krets); i++)
		if (smith_krets[i].registered)
			rps[n++] = &smith_krets[i].rp;
	if (n)
		unregister_kretprobes(rps, n);
	for (i = 0; i < ARRAY_SIZE(smith_krets); i++) {
		smith_krets[i].registered = false;
		smith_krets[i].symbol = NULL;
	}
	for (i = 0; i < ARRAY_SIZE(smith_tps); i++) {
		any_tp |= smith_tps[i].registered;
		tp__unregister(&smith_tps[i]);
	}
	if (any_tp)
		tracepoint_synchronize_unregister();
	for (waited = 0; percpu_sum(&smith_running); waited++) {
		if (waited == 10000)
			pr_warn("still waiting for running handlers to finish\n");
		msleep(1);
	}
	pending = percpu_sum(&smith_pending);
	if (pending)
		pr_info("%ld hooked calls were in flight at disarm; their return probes are retired by the "
			"kernel without calling smith\n",
			pending);
	/* Those instances will not come back to us: start the next arm from zero. */
	for_each_possible_cpu(cpu) * per_cpu_ptr(&smith_pending, cpu) = 0;
	smith_rings_quiesce();
}

int smith_hooks_arm(void)
{
	u32 wanted = 0, failed = 0, disabled = 0, armed = 0, missing = 0;
	int err;
	unsigned int h;
	int i;

	smith_kmod_reset();
	for (h = 0; h < SMITH_HOOK_MAX; h++) {
		if (smith_hook_param(h))
			wanted |= HOOK(h);
		else
			disabled |= HOOK(h);
	}
	for (i = 0; i < ARRAY_SIZE(smith_tps); i++) {
		if (!(smith_tps[i].hooks & wanted))
			continue;
		err = tp__register(&smith_tps[i]);
		if (err == -ENOENT)
			missing |= smith_tps[i].hooks & wanted;
		else if (err)
			failed |= smith_tps[i].hooks & wanted;
	}
	for (i = 0; i < ARRAY_SIZE(smith_krets); i++) {
		if (!(HOOK(smith_krets[i].hook) & wanted))
			continue;
		err = kret__register(&smith_krets[i]);
		if (err == -ENOENT)
			missing |= HOOK(smith_krets[i].hook);
		else if (err)
			failed |= HOOK(smith_krets[i].hook);
	}
	failed &= ~missing;
	armed = wanted & ~failed & ~missing;

	/* A probe none of whose hooks is armed is not left behind. */
	for (i = 0; i < ARRAY_SIZE(smith_krets); i++)
		if (smith_krets[i].registered && !(HOOK(smith_krets[i].hook) & armed))
			kret__unregister(&smith_krets[i]);
	for (i = 0; i < ARRAY_SIZE(smith_tps); i++)
		if (smith_tps[i].registered && !(smith_tps[i].hooks & armed)) {
			tp__unregister(&smith_tps[i]);
			tracepoint_synchronize_unregister();
		}

	smith_info->hooks_armed = armed;
	smith_info->hooks_disabled = disabled;
	smith_info->hooks_failed = failed;
	smith_info->hooks_unavailable = missing;
	for (h = 0; h < SMITH_HOOK_MAX; h++) {
		const char *sym = NULL;

		for (i = 0; i < ARRAY_SIZE(smith_krets); i++)
			if (smith_krets[i].hook == h && smith_krets[i].registered)
				sym = smith_krets[i].symbol;
		pr_info("hook %s: %s%s%s\n", smith_hook_names[h],
			(armed & HOOK(h))      ? "armed"
			: (disabled & HOOK(h)) ? "disabled"
			: (missing & HOOK(h))  ? "unavailable (the kernel has no such syscall or tracepoint)"
					       : "failed",
			sym ? " on " : "", sym ? sym : "");
	}
	return 0;
}

void smith_hooks_disarm(void)
{
	hooks__remove_all();
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
