// SPDX-License-Identifier: GPL-2.0-only
/*
 * smith.ko: the tracepoint fallback of the smith collector for kernels
 * without BTF or the BPF ring buffer (CentOS 7's 3.10 above all). It emits
 * the raw records of include/smith/abi.h, the same bytes as bpf/, into the
 * per-CPU rings of include/smith/lkm_ring.h, which smithd maps from
 * /dev/smith. See lkm/README.md.
 *
 * Setup is a table of init/exit pairs run in order; a failing step undoes
 * the steps before it in reverse order, and unloading undoes them all.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/stddef.h>
#include "smith.h"

unsigned int smith_ring_kb = 1024;
module_param_named(ring_kb, smith_ring_kb, uint, 0444);
MODULE_PARM_DESC(ring_kb, "ring size per CPU in KiB, a power of two from 64 to 1048576 (default 1024)");

unsigned int smith_wakeup_bytes = 65536;
module_param_named(wakeup_bytes, smith_wakeup_bytes, uint, 0644);
MODULE_PARM_DESC(wakeup_bytes, "wake the reader when a ring holds this many unread bytes (default 65536)");

unsigned int smith_wakeup_ms = 10;
module_param_named(wakeup_ms, smith_wakeup_ms, uint, 0444);
MODULE_PARM_DESC(wakeup_ms, "otherwise wake it this many ms after a record arrives, 1 to 60000 (default 10)");

/* hook_<syscall>: one switch per hook of the event table (include/smith/event_table.h). */
static bool smith_hook_param_on[SMITH_HOOK_MAX] = {[0 ... SMITH_HOOK_MAX - 1] = true};
#define SMITH_X(ID, syscall, record, nr_x86_64, nr_i386, reports)                                            \
	module_param_named(hook_##syscall, smith_hook_param_on[SMITH_HOOK_##ID], bool, 0644);                \
	MODULE_PARM_DESC(hook_##syscall, "report " reports " (default on; read at open)");
SMITH_HOOKS(SMITH_X)
#undef SMITH_X

bool smith_hook_param(unsigned int hook)
{
	return hook < SMITH_HOOK_MAX && READ_ONCE(smith_hook_param_on[hook]);
}

struct smith_step {
	const char *name;
	int (*init)(void);
	void (*exit)(void);
};

/* In order; the device comes last, so a reader can open it only once everything is ready. */
static const struct smith_step smith_steps[] = {
	{"rings", smith_rings_init, smith_rings_exit},
	{"scratch buffers", smith_hooks_init, smith_hooks_exit},
	{"connect budgets", smith_budget_init, smith_budget_exit},
	{"task context", smith_task_init, NULL},
	{"path walk check", smith_path_init, NULL},
	{"device", smith_dev_init, smith_dev_exit},
};

static void smith_unwind(int done)
{
	while (--done >= 0)
		if (smith_steps[done].exit)
			smith_steps[done].exit();
}

/* The layouts the reader and the BPF side rely on (include/smith/abi.h, lkm_ring.h). */
static void __init smith_check_layouts(void)
{
	BUILD_BUG_ON(offsetof(struct smith_lkm_ring_ctl, tail) != 128);
	BUILD_BUG_ON(sizeof(struct smith_lkm_info) > 4096);
	BUILD_BUG_ON(sizeof(struct smith_lkm_ring_ctl) > 4096); /* one page, the smallest there is */
	BUILD_BUG_ON(sizeof(struct smith_rec_hdr) % 8 || sizeof(struct smith_execve) % 8 ||
		     sizeof(struct smith_connect) % 8 || sizeof(struct smith_module) % 8 ||
		     sizeof(struct smith_connect_suppressed) % 8 || sizeof(struct smith_fork) % 8);
	BUILD_BUG_ON(sizeof(struct smith_execve) + SMITH_TAIL_LIMIT > SMITH_REC_MAX);
	BUILD_BUG_ON(sizeof(struct smith_module) + SMITH_TAIL_LIMIT > SMITH_REC_MAX);
	BUILD_BUG_ON(SMITH_REC_MAX > 64 * 1024); /* the smallest ring (ring_kb=64) holds any record */
}

static int __init smith_init(void)
{
	int i, err;

	smith_check_layouts();

	for (i = 0; i < ARRAY_SIZE(smith_steps); i++) {
		err = smith_steps[i].init();
		if (err) {
			pr_err("loading failed at step \"%s\": %d\n", smith_steps[i].name, err);
			smith_unwind(i);
			return err;
		}
	}
	pr_info("version %s loaded: %u rings of %u KiB, /dev/%s\n", SMITH_LKM_VERSION, smith_info->nr_rings,
		smith_ring_kb, SMITH_LKM_MODULE_NAME);
	return 0;
}

static void __exit smith_exit(void)
{
	smith_unwind(ARRAY_SIZE(smith_steps));
	pr_info("unloaded\n");
}

/*
 * Before 5.0, module_init() declares init_module as a bare alias of
 * smith_init, without the attributes __init gives it (__cold), and gcc 9 and
 * later warn about the difference. The alias is what the kernel has always
 * done; the warning says nothing about this module.
 */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-attributes"
#endif
module_init(smith_init);
module_exit(smith_exit);
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9
#pragma GCC diagnostic pop
#endif

MODULE_LICENSE("GPL v2");
MODULE_AUTHOR("smith maintainers");
MODULE_DESCRIPTION(
	"smith host security event collector: execve, connect and module-load records over /dev/smith");
MODULE_VERSION(SMITH_LKM_VERSION);
