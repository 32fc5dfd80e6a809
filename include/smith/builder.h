/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Record building shared by the two producers, the BPF programs (bpf/) and
 * smith.ko (lkm/): the per-CPU scratch area a variable record is built in,
 * and the steps whose result depends on what they read and where they stop:
 * argv and LD_PRELOAD from the caller's memory, and the leaf-first path walk
 * (abi.h). Written once, so that both backends cut, truncate and flag a
 * record alike; each side keeps only how it reads memory.
 *
 * The code keeps the shape the BPF verifier needs (bounded loops, offsets
 * masked where they index the tail, loop offsets reloaded from memory, one
 * exit per loop function); in the module that shape costs nothing.
 *
 * The includer defines, before including this header:
 *   SMITH_NOINLINE                 a function the verifier checks once, as a subprogram
 *   build__uread(dst, n, src)      n bytes of user memory; 0, or < 0 with dst zeroed
 *   build__ustr(dst, max, src)     a user string, with bpf_probe_read_user_str()'s contract
 *   build__kstr(dst, max, src)     the same for kernel memory
 *   build__kcopy(dst, n, src)      n bytes of kernel memory that is known to be there
 *   build__tail_at(tail, off)      &tail[off] for an off the caller has bounded
 *   build__kval(p, field)          p->field, read so that a stale pointer reads 0
 *   build__mount                   the type of the kernel's struct mount (or a view of
 *                                  its first members, with mnt_parent, mnt_mountpoint, mnt)
 *   build__real_mount(vfsmnt)      the build__mount that embeds `vfsmnt`
 *   build__mount_vfs(m)            &m->mnt
 *   __user                         (empty where there is no such annotation)
 */
#ifndef SMITH_BUILDER_H
#define SMITH_BUILDER_H

#include "abi.h"

/* Loops keep their write offset here (see build__load). */
struct smith_walk {
	__u32 off;	 /* write offset in the tail */
	__u32 truncated; /* set when the last walk stopped early */
};

/* Where a variable record is built, one per CPU. */
struct smith_scratch {
	union {
		struct {
			struct smith_execve rec;
			__u8 tail[SMITH_TAIL_SIZE];
		} exec;
		struct {
			struct smith_module rec;
			__u8 tail[SMITH_TAIL_SIZE];
		} module;
	};
	char env[SMITH_STR_MAX]; /* one environment entry under test */
	struct smith_walk walk;
};

/*
 * Loops keep their write offset in memory the verifier does not track (the
 * scratch area's walk): with the offset unknown at every iteration's start,
 * the verifier prunes equivalent states instead of walking each possible
 * offset. For the same reason a loop's function leaves through one exit
 * whose return value is loaded from that memory: every way out of the loop
 * then reaches the caller in the same state. The volatile read keeps the
 * compiler from replacing the load with the value it last stored.
 */
#define build__load(p) (*(volatile __u32 *)(p))

#define SMITH_BUILD static SMITH_NOINLINE __attribute__((unused))

static __inline__ __attribute__((unused)) int build__is_ld_preload(const char *s)
{
	return s[0] == 'L' && s[1] == 'D' && s[2] == '_' && s[3] == 'P' && s[4] == 'R' && s[5] == 'E' &&
	       s[6] == 'L' && s[7] == 'O' && s[8] == 'A' && s[9] == 'D' && s[10] == '=';
}

/* Copies the value of the entry in s->env (n bytes with its NUL) into the exec tail at off. */
static __inline__ __attribute__((unused)) __u32 build__take_ld_preload(struct smith_scratch *s, __u32 off,
								       long n)
{
	__u32 len = n - 1 - SMITH_LD_PRELOAD_PREFIX;

	if (len == 0 || len >= SMITH_STR_MAX - SMITH_LD_PRELOAD_PREFIX ||
	    off > SMITH_TAIL_LIMIT - SMITH_STR_MAX)
		return 0;
	build__kcopy(build__tail_at(s->exec.tail, off), len & (SMITH_STR_MAX - 1),
		     &s->env[SMITH_LD_PRELOAD_PREFIX]);
	return len & (SMITH_STR_MAX - 1);
}

/*
 * LD_PRELOAD from a contiguous environment block [start, end) (the new
 * image's), appended at off. At most SMITH_ENVC_MAX entries are looked at,
 * and an entry longer than SMITH_STR_MAX ends the scan: either sets
 * SMITH_EXEC_ENV_TRUNCATED in *flags. Returns the bytes appended.
 */
SMITH_BUILD __u32 env__ld_preload_block(struct smith_scratch *s, __u32 off, __u64 start, __u64 end,
					__u32 *flags)
{
	int i;

	for (i = 0; i < SMITH_ENVC_MAX; i++) {
		long n;

		if (start >= end)
			return 0;
		n = build__ustr(s->env, sizeof(s->env), (const void __user *)(unsigned long)start);
		if (n <= 0)
			return 0;
		if (n == sizeof(s->env)) {
			/* an entry longer than the buffer: its end is unknown, stop here */
			*flags |= SMITH_EXEC_ENV_TRUNCATED;
			return 0;
		}
		if (n > SMITH_LD_PRELOAD_PREFIX && build__is_ld_preload(s->env))
			return build__take_ld_preload(s, off, n);
		start += n;
	}
	*flags |= SMITH_EXEC_ENV_TRUNCATED;
	return 0;
}

/* LD_PRELOAD from a user envp array (a failed exec's argument), as env__ld_preload_block. */
SMITH_BUILD __u32 env__ld_preload_array(struct smith_scratch *s, __u32 off,
					const char __user *const __user *envp, __u32 *flags)
{
	int i;

	if (!envp)
		return 0;
	for (i = 0; i < SMITH_ENVC_MAX; i++) {
		const char __user *p = 0;
		long n;

		if (build__uread(&p, sizeof(p), &envp[i]) || !p)
			return 0;
		n = build__ustr(s->env, sizeof(s->env), p);
		if (n > SMITH_LD_PRELOAD_PREFIX && build__is_ld_preload(s->env))
			return build__take_ld_preload(s, off, n);
	}
	*flags |= SMITH_EXEC_ENV_TRUNCATED;
	return 0;
}

/*
 * argv from a user pointer array, appended at s->walk.off: each argument
 * followed by its NUL, at most SMITH_ARGC_MAX arguments, SMITH_NAME_MAX bytes
 * each, SMITH_ARGV_MAX in all. Counts the arguments in rec.argc, sets
 * SMITH_EXEC_ARGV_TRUNCATED when it cut, and returns the bytes appended.
 */
SMITH_BUILD __u32 argv__append_array(struct smith_scratch *s, const char __user *const __user *argv)
{
	struct smith_execve *e = &s->exec.rec;
	__u32 start = s->walk.off;
	int i;

	if (!argv)
		goto out;
	for (i = 0; i < SMITH_ARGC_MAX; i++) {
		const char __user *p = 0;
		__u32 off = build__load(&s->walk.off);
		long n;

		if (build__uread(&p, sizeof(p), &argv[i]) || !p)
			goto out;
		if (off - start > SMITH_ARGV_MAX - SMITH_NAME_MAX || off > SMITH_TAIL_LIMIT - SMITH_NAME_MAX)
			break;
		n = build__ustr((char *)build__tail_at(s->exec.tail, off), SMITH_NAME_MAX, p);
		if (n <= 0)
			goto out;
		if (n == SMITH_NAME_MAX)
			e->flags |= SMITH_EXEC_ARGV_TRUNCATED; /* this argument was cut */
		s->walk.off = off + n;
		e->argc++;
	}
	e->flags |= SMITH_EXEC_ARGV_TRUNCATED;
out:
	return build__load(&s->walk.off) - start;
}

/*
 * Appends the path of `path` leaf first (abi.h) at tail offset
 * w->off, walking dentries up and crossing mounts until the root of the
 * mount tree (the namespace's root mount, not the task's chroot), at most
 * SMITH_PATH_DEPTH steps (a mount crossing counts as one), with no
 * " (deleted)" suffix. Takes no lock and no reference: a rename or an
 * unmount racing with the walk gives an odd path, never a fault. Returns the
 * bytes written; sets w->truncated if the walk stopped early; leaves w->off
 * past the written bytes.
 */
SMITH_BUILD __u32 path__append(__u8 *tail, struct smith_walk *w, const struct path *path)
{
	struct dentry *dentry = build__kval(path, dentry);
	struct vfsmount *vfsmnt = build__kval(path, mnt);
	build__mount *mnt = build__real_mount(vfsmnt);
	__u32 start = w->off;
	int at_root = 0;
	int i;

	w->truncated = 1;
	if (!dentry || !vfsmnt)
		goto out;
	for (i = 0; i < SMITH_PATH_DEPTH; i++) {
		struct dentry *mnt_root = build__kval(vfsmnt, mnt_root);
		struct dentry *parent = build__kval(dentry, d_parent);
		const unsigned char *name;
		__u32 off = build__load(&w->off);
		long n;

		if (dentry == mnt_root) {
			build__mount *mnt_parent = build__kval(mnt, mnt_parent);

			if (mnt == mnt_parent) {
				at_root = 1; /* the namespace's root */
				break;
			}
			dentry = build__kval(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = build__mount_vfs(mnt);
			continue;
		}
		if (dentry == parent) {
			at_root = 1; /* root of an unmounted tree */
			break;
		}
		if (off > SMITH_TAIL_LIMIT - SMITH_NAME_MAX || off - start > SMITH_PATH_MAX - SMITH_NAME_MAX)
			break;
		name = build__kval(dentry, d_name.name);
		n = build__kstr((char *)build__tail_at(tail, off), SMITH_NAME_MAX, name);
		if (n <= 0)
			break;
		w->off = off + n;
		dentry = parent;
	}
	if (at_root) {
		w->truncated = 0;
		if (build__load(&w->off) == start && start <= SMITH_TAIL_LIMIT - 1) {
			/* the path is "/" itself: one empty component */
			*build__tail_at(tail, start) = 0;
			w->off = start + 1;
		}
	}
out:
	return build__load(&w->off) - start;
}

#endif /* SMITH_BUILDER_H */
