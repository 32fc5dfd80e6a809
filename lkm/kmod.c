// SPDX-License-Identifier: GPL-2.0-only
/*
 * init_module and finit_module records. The syscall's kretprobe gives the
 * result, the parameter string (saved pointer, read at return) and, for
 * finit_module, the file behind the fd. The module's name is known only
 * once the kernel has parsed the image: the module_load tracepoint (the one
 * the BPF program uses) notes it for the calling thread, and the return
 * handler takes it. A load that fails before that point has no name.
 *
 * The notes live in a small fixed table keyed by thread id: no allocation
 * in atomic context, no lock (a slot is claimed with cmpxchg on its tid and
 * only its owner thread reads or frees it). Entry clears any note a previous
 * call of the same thread left behind.
 */
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/file.h>
#include <linux/fs.h>
#include "smith.h"

struct module_args {
	const char __user *uargs;
	int fd; /* finit_module's, -1 for init_module */
	u32 pad0;
};

const size_t smith_init_module_data_size = sizeof(struct module_args);
const size_t smith_finit_module_data_size = sizeof(struct module_args);

#define MODNAME_SLOTS 64

struct modname_slot {
	atomic_t tid; /* owner thread, 0 when free */
	char name[SMITH_MODNAME_LEN];
};

static struct modname_slot modname_slots[MODNAME_SLOTS];

static struct modname_slot *modname__find(pid_t tid)
{
	int i;

	for (i = 0; i < MODNAME_SLOTS; i++)
		if (atomic_read(&modname_slots[i].tid) == tid)
			return &modname_slots[i];
	return NULL;
}

static void modname__forget(pid_t tid)
{
	struct modname_slot *slot;

	while ((slot = modname__find(tid)))
		atomic_set(&slot->tid, 0);
}

void smith_tp_module_load(void *data, struct module *mod)
{
	pid_t tid = current->pid;
	int i;

	smith_enter();
	for (i = 0; i < MODNAME_SLOTS; i++) {
		struct modname_slot *slot = &modname_slots[i];

		if (atomic_cmpxchg(&slot->tid, 0, tid) == 0) {
			smith_kstr(slot->name, mod->name, sizeof(slot->name));
			break;
		}
	}
	smith_leave();
}

static int module__entry(struct kretprobe_instance *ri, bool finit)
{
	struct module_args *a = (struct module_args *)ri->data;
	struct pt_regs *u = smith_user_regs();

	smith_enter();
	modname__forget(current->pid);
	if (finit) { /* finit_module(fd, uargs, flags) */
		a->fd = (int)u->di;
		a->uargs = (const char __user *)u->si;
	} else { /* init_module(umod, len, uargs) */
		a->fd = -1;
		a->uargs = (const char __user *)u->dx;
	}
	smith_pending_inc();
	smith_leave();
	return 0;
}

int smith_init_module_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return module__entry(ri, false);
}

int smith_finit_module_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return module__entry(ri, true);
}

static void module__emit(u16 type, long ret, const struct module_args *a, unsigned int hook)
{
	struct smith_scratch *s = smith_scratch_get();
	struct smith_module *m = &s->module.rec;
	u8 *tail = s->module.tail;
	struct modname_slot *slot;
	struct file *file = NULL;
	u32 off = 0;
	u64 size;

	memset(m, 0, sizeof(*m));
	slot = modname__find(current->pid);
	if (slot) {
		m->len[SMITH_MODULE_NAME] = smith_tail_kstr(tail, off, slot->name, SMITH_MODNAME_LEN);
		off += m->len[SMITH_MODULE_NAME];
		modname__forget(current->pid);
	}
	if (a->fd >= 0)
		file = smith_fd_get(a->fd);
	if (file) {
		s->walk.off = off;
		m->len[SMITH_MODULE_PATH] = smith_path_append(tail, &s->walk, &file->f_path);
		if (s->walk.truncated)
			m->flags |= SMITH_MODULE_PATH_TRUNCATED;
		off += m->len[SMITH_MODULE_PATH];
		smith_fd_put(file);
	}
	m->len[SMITH_MODULE_PARAMS] = smith_tail_ustr(tail, off, a->uargs, SMITH_STR_MAX);
	if (m->len[SMITH_MODULE_PARAMS] == SMITH_STR_MAX - 1)
		m->flags |= SMITH_MODULE_PARAMS_TRUNCATED;
	off += m->len[SMITH_MODULE_PARAMS];

	size = sizeof(*m) + (u64)off;
	smith_hdr_fill(&m->hdr, type, sizeof(*m), size, ret);
	if (size > sizeof(*m) + SMITH_TAIL_LIMIT) /* cannot happen: appends are bounded */
		return;
	smith_missed_fold();
	smith_ring_output(m, size, hook);
}

static int module__ret(struct kretprobe_instance *ri, struct pt_regs *regs, u16 type, unsigned int hook)
{
	smith_enter();
	smith_pending_dec();
	preempt_disable();
	module__emit(type, regs_return_value(regs), (const struct module_args *)ri->data, hook);
	preempt_enable();
	smith_leave();
	return 0;
}

int smith_init_module_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return module__ret(ri, regs, SMITH_REC_INIT_MODULE, SMITH_HOOK_INIT_MODULE);
}

int smith_finit_module_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return module__ret(ri, regs, SMITH_REC_FINIT_MODULE, SMITH_HOOK_FINIT_MODULE);
}

/* Called at arm: notes of a previous session are void. */
void smith_kmod_reset(void)
{
	int i;

	for (i = 0; i < MODNAME_SLOTS; i++)
		atomic_set(&modname_slots[i].tid, 0);
}
