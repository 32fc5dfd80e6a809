// SPDX-License-Identifier: GPL-2.0-only
/*
 * execve and execveat records, built as bpf/smith.bpf.c builds them, with the
 * same argv, environment and path steps (include/smith/builder.h):
 *   - a successful exec (either call) is reported by the sched_process_exec
 *     tracepoint, in the new image: filename is bprm->filename, argv the new
 *     mm's arg_start..arg_end, exe the new image's file, LD_PRELOAD from the
 *     new environment block;
 *   - a failed attempt is reported when the syscall returns an error (the
 *     sys_exit probe, syscall.c): filename, argv and envp read from the
 *     caller's memory through the saved argument registers (arrays of 32-bit
 *     pointers for a call made through the 32-bit entry, flagged compat),
 *     exe the caller's; a failed exec leaves that memory as it was.
 * Records are built in this CPU's scratch buffer, then copied into the ring
 * with their exact size.
 */
#include <linux/binfmts.h>
#include <linux/elf.h>
#include <linux/hash.h>
#include <linux/kprobes.h>
#include <linux/sched.h>
#include <linux/mm_types.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/mount.h>
#include <linux/tty.h>
#include <linux/net.h>
#include <linux/rcupdate.h>
#include <net/sock.h>
#include "smith.h"

/* Describes what `fd` of the current task refers to; a path goes to the tail. Returns bytes appended. */
static u32 fd__describe(unsigned int fd, struct smith_fd *out, u8 *tail, struct smith_walk *w)
{
	struct file *file = smith_fd_get(fd);
	struct inode *inode;
	struct sock *sk;
	u32 len = 0;

	if (!file)
		return 0;
	inode = file_inode(file);
	out->ino = inode->i_ino;
	if (!(file->f_path.mnt->mnt_flags & MNT_INTERNAL)) {
		out->kind = SMITH_FD_PATH;
		len = smith_path_append(tail, w, &file->f_path);
		goto out;
	}
	if (S_ISFIFO(inode->i_mode)) {
		out->kind = SMITH_FD_PIPE;
		goto out;
	}
	sk = smith_file_sock(file);
	if (sk) {
		u16 family = sk->sk_family;
		u16 protocol = sk->sk_protocol;

		if ((family == AF_INET || family == AF_INET6) &&
		    (protocol == IPPROTO_TCP || protocol == IPPROTO_UDP)) {
			out->kind = SMITH_FD_INET;
			out->inet.family = family;
			out->inet.protocol = protocol;
			smith_sock_source(sk, family, &out->inet);
			smith_sock_dest(sk, family, &out->inet);
			goto out;
		}
		out->kind = SMITH_FD_SOCKET;
		goto out;
	}
	out->kind = SMITH_FD_OTHER;
out:
	smith_fd_put(file);
	return len;
}

/* Appends the strings every execve record ends with, from exe on (exe, cwd, tty). */
static u32 exec__append_context(struct smith_scratch *s, const struct path *exe, u32 off)
{
	struct smith_execve *e = &s->exec.rec;
	u8 *tail = s->exec.tail;
	struct tty_struct *tty;
	struct fs_struct *fs;

	s->walk.off = off;
	e->len[SMITH_EXEC_EXE] = smith_path_append(tail, &s->walk, exe);
	if (s->walk.truncated)
		e->flags |= SMITH_EXEC_PATH_TRUNCATED;
	off += e->len[SMITH_EXEC_EXE];

	fs = current->fs;
	s->walk.off = off;
	if (fs) {
		struct path pwd;

		smith_kread(&pwd, &fs->pwd, sizeof(pwd));
		e->len[SMITH_EXEC_CWD] = smith_path_append(tail, &s->walk, &pwd);
		if (s->walk.truncated)
			e->flags |= SMITH_EXEC_PATH_TRUNCATED;
	}
	off += e->len[SMITH_EXEC_CWD];

	tty = smith_kval(&current->signal->tty);
	if (tty) {
		e->len[SMITH_EXEC_TTY] = smith_tail_kstr(tail, off, tty->name, SMITH_TTY_LEN);
		off += e->len[SMITH_EXEC_TTY];
	}
	return off;
}

static u32 exec__append_cgroup_and_fds(struct smith_scratch *s, u32 off)
{
	struct smith_execve *e = &s->exec.rec;
	u8 *tail = s->exec.tail;
	const char *cgname;

	rcu_read_lock();
	cgname = smith_cgroup_leaf_name();
	if (cgname) {
		e->len[SMITH_EXEC_CGROUP] = smith_tail_kstr(tail, off, cgname, SMITH_CGROUP_LEN);
		off += e->len[SMITH_EXEC_CGROUP];
	}
	rcu_read_unlock();
	s->walk.off = off;
	e->len[SMITH_EXEC_STDIN_PATH] = fd__describe(0, &e->stdin_fd, tail, &s->walk);
	off += e->len[SMITH_EXEC_STDIN_PATH];
	s->walk.off = off;
	e->len[SMITH_EXEC_STDOUT_PATH] = fd__describe(1, &e->stdout_fd, tail, &s->walk);
	off += e->len[SMITH_EXEC_STDOUT_PATH];
	return off;
}

static void exec__submit(struct smith_scratch *s, s64 retval, u32 off, unsigned int hook)
{
	u64 size = sizeof(struct smith_execve) + (u64)off;

	smith_hdr_fill(&s->exec.rec.hdr, SMITH_REC_EXECVE, sizeof(struct smith_execve), size, retval);
	smith_pid_tree_fill(&s->exec.rec.pid_tree);
	if (size > sizeof(struct smith_execve) + SMITH_TAIL_LIMIT) /* cannot happen: appends are bounded */
		return;
	smith_ring_output(&s->exec.rec, size, hook);
}

/*
 * Execs made through the 32-bit entry. A successful one erases the entry's
 * marks in the task before sched_process_exec (6.x: orig_ax and TS_COMPAT), so
 * a kprobe on the 32-bit execve and execveat functions marks the thread on its
 * way in, and sched_process_exec takes the mark; the call's return (sys_exit)
 * drops a mark a failed exec leaves. A fixed table of thread pointers, no
 * lock: a thread's slot is one of COMPAT_EXEC_PROBE from its pointer's hash.
 * When those are all taken (as many threads inside a 32-bit exec at once),
 * the exec goes unmarked, and compat says only whether the new program is a
 * 32-bit one. The kprobes are armed with the execve hook; a kernel without
 * them (no IA32 emulation) has no such exec to mark.
 */
#define COMPAT_EXEC_BITS  8
#define COMPAT_EXEC_SLOTS (1u << COMPAT_EXEC_BITS)
#define COMPAT_EXEC_PROBE 8
static struct task_struct *compat_exec[COMPAT_EXEC_SLOTS];
static atomic_t compat_exec_count = ATOMIC_INIT(0); /* slots taken: an exec skips the table at 0 */

static int compat_exec__mark(struct kprobe *kp, struct pt_regs *regs)
{
	unsigned long h = hash_ptr(current, COMPAT_EXEC_BITS);
	unsigned int i;

	for (i = 0; i < COMPAT_EXEC_PROBE; i++) {
		struct task_struct **slot = &compat_exec[(h + i) & (COMPAT_EXEC_SLOTS - 1)];

		if (READ_ONCE(*slot) == current)
			return 0;
		if (!cmpxchg(slot, NULL, current)) {
			atomic_inc(&compat_exec_count);
			return 0;
		}
	}
	return 0;
}

/* Whether the current thread is inside an exec made through the 32-bit entry; the mark goes. */
bool smith_compat_exec_take(void)
{
	unsigned long h;
	unsigned int i;

	if (!atomic_read(&compat_exec_count))
		return false;
	h = hash_ptr(current, COMPAT_EXEC_BITS);
	for (i = 0; i < COMPAT_EXEC_PROBE; i++) {
		struct task_struct **slot = &compat_exec[(h + i) & (COMPAT_EXEC_SLOTS - 1)];

		if (READ_ONCE(*slot) == current && cmpxchg(slot, current, NULL) == current) {
			atomic_dec(&compat_exec_count);
			return true;
		}
	}
	return false;
}

/* The 32-bit exec functions, by the names kernels give them (4.17+ first, then older). */
static const char *const compat_exec_symbols[][2] = {
	{"__ia32_compat_sys_execve", "compat_sys_execve"},
	{"__ia32_compat_sys_execveat", "compat_sys_execveat"},
};
static struct kprobe compat_exec_kps[ARRAY_SIZE(compat_exec_symbols)];
static bool compat_exec_armed[ARRAY_SIZE(compat_exec_symbols)];

/* Registers the kprobes this kernel has (sleeps); returns how many. */
int smith_compat_exec_arm(void)
{
	int i, j, n = 0;

	for (i = 0; i < ARRAY_SIZE(compat_exec_symbols); i++) {
		for (j = 0; j < 2 && !compat_exec_armed[i]; j++) {
			memset(&compat_exec_kps[i], 0, sizeof(compat_exec_kps[i]));
			compat_exec_kps[i].symbol_name = compat_exec_symbols[i][j];
			compat_exec_kps[i].pre_handler = compat_exec__mark;
			compat_exec_armed[i] = !register_kprobe(&compat_exec_kps[i]);
		}
		n += compat_exec_armed[i];
	}
	return n;
}

/* Unregisters them (waiting for running handlers) and forgets every mark. Sleeps. */
void smith_compat_exec_disarm(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(compat_exec_symbols); i++) {
		if (compat_exec_armed[i])
			unregister_kprobe(&compat_exec_kps[i]);
		compat_exec_armed[i] = false;
	}
	for (i = 0; i < COMPAT_EXEC_SLOTS; i++)
		WRITE_ONCE(compat_exec[i], NULL);
	atomic_set(&compat_exec_count, 0);
}

/*
 * The sched_process_exec tracepoint: a successful exec, seen from the new
 * image. Flagged compat when it came through the 32-bit entry (the mark
 * above), or when the new program is a 32-bit one, as the BPF program flags
 * it: bprm->buf holds the first bytes of the image it loaded (the
 * interpreter's, for a script), whose ELF class says.
 */
void smith_tp_sched_process_exec(void *data, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct smith_scratch *s;
	struct smith_execve *e;
	struct mm_struct *mm;
	struct path exe = {};
	unsigned long arg_start, arg_len;
	u8 *tail;
	u32 off = 0;
	u64 start;

	if (!smith_hook_on(SMITH_HOOK_EXECVE))
		return;
	smith_enter();
	preempt_disable();
	start = smith_timing_start();
	s = smith_scratch_get();
	e = &s->exec.rec;
	tail = s->exec.tail;
	memset(e, 0, sizeof(*e));
	if (smith_compat_exec_take() || bprm->buf[EI_CLASS] == ELFCLASS32)
		e->flags |= SMITH_EXEC_COMPAT;

	e->len[SMITH_EXEC_FILENAME] = smith_tail_kstr(tail, off, bprm->filename, SMITH_STR_MAX);
	off += e->len[SMITH_EXEC_FILENAME];

	mm = current->mm;
	if (mm) {
		arg_start = mm->arg_start;
		arg_len = mm->arg_end - arg_start;
		if (arg_len > SMITH_ARGV_MAX) {
			arg_len = SMITH_ARGV_MAX;
			e->flags |= SMITH_EXEC_ARGV_TRUNCATED;
		}
		if (off <= SMITH_TAIL_LIMIT - SMITH_ARGV_MAX &&
		    !smith_uread(tail + off, (const void __user *)arg_start, arg_len)) {
			e->len[SMITH_EXEC_ARGV] = arg_len;
			off += arg_len;
		}
	}
	e->argc = bprm->argc;

	if (bprm->file)
		exe = bprm->file->f_path;
	off = exec__append_context(s, &exe, off);
	if (mm) {
		e->len[SMITH_EXEC_LD_PRELOAD] =
			env__ld_preload_block(s, off, mm->env_start, mm->env_end, &e->flags);
		off += e->len[SMITH_EXEC_LD_PRELOAD];
	}
	off = exec__append_cgroup_and_fds(s, off);
	exec__submit(s, 0, off, SMITH_HOOK_EXECVE);
	smith_timing_add(SMITH_HOOK_EXECVE, start);
	preempt_enable();
	smith_leave();
}

/*
 * A failed execve/execveat (sys_exit, ret < 0): the caller's image, arguments
 * read from its memory (arrays of 32-bit pointers for a compat call).
 * Preemption is disabled.
 */
void smith_exec_failed(long ret, unsigned long filename, unsigned long argv, unsigned long envp, bool compat,
		       unsigned int hook)
{
	struct smith_scratch *s = smith_scratch_get();
	struct smith_execve *e = &s->exec.rec;
	u8 *tail = s->exec.tail;
	struct path exe = {};
	struct mm_struct *mm;
	struct file *exe_file;
	u32 off = 0;

	memset(e, 0, sizeof(*e));
	if (compat)
		e->flags |= SMITH_EXEC_COMPAT;
	e->len[SMITH_EXEC_FILENAME] =
		smith_tail_ustr(tail, off, (const char __user *)filename, SMITH_STR_MAX);
	off += e->len[SMITH_EXEC_FILENAME];
	s->walk.off = off;
	e->len[SMITH_EXEC_ARGV] = argv__append_array(s, argv, compat);
	off += e->len[SMITH_EXEC_ARGV];

	mm = current->mm;
	exe_file = mm ? smith_kval(&mm->exe_file) : NULL;
	if (exe_file)
		smith_kread(&exe, &exe_file->f_path, sizeof(exe));
	off = exec__append_context(s, &exe, off);
	e->len[SMITH_EXEC_LD_PRELOAD] = env__ld_preload_array(s, off, envp, compat, &e->flags);
	off += e->len[SMITH_EXEC_LD_PRELOAD];
	off = exec__append_cgroup_and_fds(s, off);
	exec__submit(s, ret, off, hook);
}
