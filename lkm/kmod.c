// SPDX-License-Identifier: GPL-2.0-only
/*
 * init_module and finit_module records. The syscall's exit (the sys_exit
 * probe, syscall.c) gives the result, the parameter string (read from the
 * caller's memory through the saved argument) and, for finit_module, the file
 * behind the fd. The module's name is known only once the kernel has parsed
 * the image: the module_load tracepoint (the one the BPF program uses) notes
 * it for the calling thread, and the syscall's exit takes it. A load that
 * fails before that point has no name.
 *
 * The notes live in a small fixed table keyed by thread id: no allocation
 * in atomic context, no lock (a slot is claimed with cmpxchg on its tid and
 * only its owner thread reads or frees it). Every exit of a module syscall
 * takes its thread's notes, reported or not, so none outlives its call.
 */
#include <linux/module.h>
#include <linux/file.h>
#include <linux/fs.h>
#include "smith.h"

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

	if (!(READ_ONCE(smith_hooks_on) & (SMITH_HOOK_BIT(INIT_MODULE) | SMITH_HOOK_BIT(FINIT_MODULE))))
		return;
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

/*
 * An init_module or finit_module call returned `ret` (sys_exit; preemption
 * disabled). `fd` is finit_module's (-1 for init_module), `uargs` the caller's
 * parameter string. The thread's note of the module's name is taken whether
 * or not the hook is armed.
 */
void smith_module_exit(unsigned int hook, long ret, int fd, unsigned long uargs, bool compat)
{
	struct smith_scratch *s;
	struct smith_module *m;
	u16 type = hook == SMITH_HOOK_INIT_MODULE ? SMITH_REC_INIT_MODULE : SMITH_REC_FINIT_MODULE;
	struct modname_slot *slot;
	struct file *file = NULL;
	u8 *tail;
	u32 off = 0;
	u64 size;

	if (!smith_hook_on(hook)) {
		modname__forget(current->pid);
		return;
	}
	s = smith_scratch_get();
	m = &s->module.rec;
	tail = s->module.tail;
	memset(m, 0, sizeof(*m));
	if (compat)
		m->flags |= SMITH_MODULE_COMPAT;
	slot = modname__find(current->pid);
	if (slot) {
		m->len[SMITH_MODULE_NAME] = smith_tail_kstr(tail, off, slot->name, SMITH_MODNAME_LEN);
		off += m->len[SMITH_MODULE_NAME];
		modname__forget(current->pid);
	}
	if (fd >= 0)
		file = smith_fd_get(fd);
	if (file) {
		s->walk.off = off;
		m->len[SMITH_MODULE_PATH] = smith_path_append(tail, &s->walk, &file->f_path);
		if (s->walk.truncated)
			m->flags |= SMITH_MODULE_PATH_TRUNCATED;
		off += m->len[SMITH_MODULE_PATH];
		smith_fd_put(file);
	}
	m->len[SMITH_MODULE_PARAMS] = smith_tail_ustr(tail, off, (const char __user *)uargs, SMITH_STR_MAX);
	if (m->len[SMITH_MODULE_PARAMS] == SMITH_STR_MAX - 1)
		m->flags |= SMITH_MODULE_PARAMS_TRUNCATED;
	off += m->len[SMITH_MODULE_PARAMS];

	size = sizeof(*m) + (u64)off;
	smith_hdr_fill(&m->hdr, type, sizeof(*m), size, ret);
	smith_pid_tree_fill(&m->pid_tree);
	if (size > sizeof(*m) + SMITH_TAIL_LIMIT) /* cannot happen: appends are bounded */
		return;
	smith_ring_output(m, size, hook);
}

/* Called at arm: notes of a previous session are void. */
void smith_kmod_reset(void)
{
	int i;

	for (i = 0; i < MODNAME_SLOTS; i++)
		atomic_set(&modname_slots[i].tid, 0);
}
