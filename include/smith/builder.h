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
 *   build__loop(n, fn, ctx)        calls fn(i, ctx) for i = 0, 1, ... until it returns non-zero
 *                                  or n calls were made; the number of calls (bpf_loop's contract)
 *   __user                         (empty where there is no such annotation)
 */
#ifndef SMITH_BUILDER_H
#define SMITH_BUILDER_H

#include "abi.h"

/* Loops keep their write offset here (see build__load), and a path walk its place. */
struct smith_walk {
	__u32 off;	 /* write offset in the tail */
	__u32 truncated; /* set when the last walk stopped early */
	/* path__append's steps: */
	__u64 dentry;  /* the dentry whose name comes next */
	__u64 vfsmnt;  /* its mount */
	__u64 mnt;     /* the build__mount around vfsmnt */
	__u32 start;   /* where the path began in the tail */
	__u32 at_root; /* the walk reached the root of the mount tree */
};

/* What a step of path__append() gets: the tail it writes, and its walk. */
struct smith_path_ctx {
	__u8 *tail;
	struct smith_walk *w;
};

/*
 * The environment is searched for LD_PRELOAD entry by entry, to its end: a
 * user who pads it (thousands of variables, or one of megabytes) must not push
 * LD_PRELOAD out of sight. With several LD_PRELOAD entries the last one counts,
 * as it does for the dynamic loader (glibc's rtld takes every match in turn):
 * a harmless first entry must not hide the one that is loaded. An environment larger than ARG_MAX allows
 * cannot be passed to execve, so SMITH_ENV_STEPS_MAX steps (each an entry, or 4 KiB of a longer one) cover
 * any real one; past it, SMITH_EXEC_ENV_TRUNCATED says so.
 */
#define SMITH_ENV_STEPS_MAX (1u << 18)

/*
 * What a loop step (a callback of build__loop) gets: the scratch area, through
 * the caller's stack (bpf_loop takes nothing else as its context).
 */
struct smith_loop_ctx {
	struct smith_scratch *s;
};

/* State of one environment scan, for the steps (callbacks of build__loop). */
struct smith_env_scan {
	__u64 pos;	/* block: address of the next byte; array: index of the next entry */
	__u64 end;	/* block: its end; array: the array's address */
	__u32 off;	/* tail offset the value goes to */
	__u32 len;	/* length of the value, once found */
	__u32 found;	/* LD_PRELOAD was found */
	__u32 cut;	/* the last LD_PRELOAD found was longer than the buffer */
	__u32 done;	/* the whole environment was read */
	__u32 in_entry; /* block: the next byte is inside an entry longer than the buffer */
	__u32 compat;	/* array: 32-bit pointers */
};

/* Where a variable record is built, one per CPU. */
#define SMITH_EXEC_STACK_DEPTH 32 /* kernel return addresses a successful exec searches (event_table.h) */

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
	char env[SMITH_STR_MAX];	     /* one environment entry under test */
	__u64 stack[SMITH_EXEC_STACK_DEPTH]; /* a successful exec's kernel stack (BPF) */
	struct smith_walk walk;
	struct smith_env_scan scan;
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

/* One entry pointer of a user pointer array: 8 bytes, or 4 for a 32-bit (compat) caller. 0 or < 0. */
static __inline__ __attribute__((unused)) int build__uptr(__u64 *p, __u64 array, __u64 i, __u32 compat)
{
	__u32 p32 = 0;
	int err;

	*p = 0;
	if (!compat)
		return build__uread(p, sizeof(*p), (const void __user *)(unsigned long)(array + i * 8));
	err = build__uread(&p32, sizeof(p32), (const void __user *)(unsigned long)(array + i * 4));
	*p = p32;
	return err;
}

/* A step of env__ld_preload_block(): one entry, or the next 4 KiB of a long one. */
static __attribute__((unused)) long env__block_step(__u32 i, void *ctx)
{
	struct smith_scratch *s = ((struct smith_loop_ctx *)ctx)->s;
	struct smith_env_scan *sc = &s->scan;
	long n;

	if (sc->pos >= sc->end) {
		sc->done = 1;
		return 1;
	}
	n = build__ustr(s->env, sizeof(s->env), (const void __user *)(unsigned long)sc->pos);
	if (n <= 0)
		return 1; /* unreadable: the rest is not known */
	if (!sc->in_entry && n > SMITH_LD_PRELOAD_PREFIX && build__is_ld_preload(s->env)) {
		sc->len = build__take_ld_preload(s, sc->off, n);
		sc->found = 1;
		sc->cut = n == sizeof(s->env); /* a value longer than the buffer was cut */
	}
	/* An entry longer than the buffer goes on from its last byte read. */
	sc->in_entry = n == sizeof(s->env);
	sc->pos += sc->in_entry ? n - 1 : n;
	return 0;
}

/*
 * LD_PRELOAD from a contiguous environment block [start, end) (the new
 * image's), appended at off; every entry is looked at. Sets
 * SMITH_EXEC_ENV_TRUNCATED in *flags when the scan could not reach the end.
 * Returns the bytes appended.
 */
SMITH_BUILD __u32 env__ld_preload_block(struct smith_scratch *s, __u32 off, __u64 start, __u64 end,
					__u32 *flags)
{
	struct smith_env_scan *sc = &s->scan;
	struct smith_loop_ctx loop = {s};

	sc->pos = start;
	sc->end = end;
	sc->off = off;
	sc->len = 0;
	sc->found = 0;
	sc->cut = 0;
	sc->done = 0;
	sc->in_entry = 0;
	build__loop(SMITH_ENV_STEPS_MAX, env__block_step, &loop);
	if (!build__load(&sc->done) || build__load(&sc->cut))
		*flags |= SMITH_EXEC_ENV_TRUNCATED;
	return build__load(&sc->len);
}

/* A step of env__ld_preload_array(): one entry of the envp array. */
static __attribute__((unused)) long env__array_step(__u32 i, void *ctx)
{
	struct smith_scratch *s = ((struct smith_loop_ctx *)ctx)->s;
	struct smith_env_scan *sc = &s->scan;
	__u64 p;
	long n;

	if (build__uptr(&p, sc->end, sc->pos, sc->compat) || !p) {
		sc->done = 1; /* the end of the array, or an array that stops being readable */
		return 1;
	}
	sc->pos++;
	/* The first bytes tell; only an entry that starts so is read whole. */
	n = build__ustr(s->env, SMITH_LD_PRELOAD_PREFIX + 1, (const void __user *)(unsigned long)p);
	if (n != SMITH_LD_PRELOAD_PREFIX + 1 || !build__is_ld_preload(s->env))
		return 0;
	n = build__ustr(s->env, sizeof(s->env), (const void __user *)(unsigned long)p);
	if (n > SMITH_LD_PRELOAD_PREFIX) {
		sc->len = build__take_ld_preload(s, sc->off, n);
		sc->found = 1;
		sc->cut = n == sizeof(s->env);
	}
	return 0;
}

/* LD_PRELOAD from a user envp array (a failed exec's argument), as env__ld_preload_block. */
SMITH_BUILD __u32 env__ld_preload_array(struct smith_scratch *s, __u32 off, __u64 envp, __u32 compat,
					__u32 *flags)
{
	struct smith_env_scan *sc = &s->scan;
	struct smith_loop_ctx loop = {s};

	if (!envp)
		return 0;
	sc->pos = 0;
	sc->end = envp;
	sc->off = off;
	sc->len = 0;
	sc->found = 0;
	sc->cut = 0;
	sc->done = 0;
	sc->compat = compat;
	build__loop(SMITH_ENV_STEPS_MAX, env__array_step, &loop);
	if (!build__load(&sc->done) || build__load(&sc->cut))
		*flags |= SMITH_EXEC_ENV_TRUNCATED;
	return build__load(&sc->len);
}

/*
 * argv from a user pointer array (of 32-bit pointers for a compat caller),
 * appended at s->walk.off: each argument followed by its NUL, at most
 * SMITH_ARGC_MAX arguments, SMITH_NAME_MAX bytes each, SMITH_ARGV_MAX in all.
 * Counts the arguments in rec.argc, sets SMITH_EXEC_ARGV_TRUNCATED when it
 * cut, and returns the bytes appended.
 */
SMITH_BUILD __u32 argv__append_array(struct smith_scratch *s, __u64 argv, __u32 compat)
{
	struct smith_execve *e = &s->exec.rec;
	__u32 start = s->walk.off;
	int i;

	if (!argv)
		goto out;
	for (i = 0; i < SMITH_ARGC_MAX; i++) {
		__u64 p = 0;
		__u32 off = build__load(&s->walk.off);
		long n;

		if (build__uptr(&p, argv, i, compat) || !p)
			goto out;
		if (off - start > SMITH_ARGV_MAX - SMITH_NAME_MAX || off > SMITH_TAIL_LIMIT - SMITH_NAME_MAX)
			break;
		n = build__ustr((char *)build__tail_at(s->exec.tail, off), SMITH_NAME_MAX,
				(const void __user *)(unsigned long)p);
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
 * A step of path__append(): the next component, or a crossing to the parent
 * mount. Non-zero ends the walk.
 */
static __attribute__((unused)) long path__step(__u32 i, void *ctx)
{
	struct smith_path_ctx *c = (struct smith_path_ctx *)ctx;
	struct smith_walk *w = c->w;
	struct dentry *dentry = (struct dentry *)(unsigned long)w->dentry;
	struct vfsmount *vfsmnt = (struct vfsmount *)(unsigned long)w->vfsmnt;
	build__mount *mnt = (build__mount *)(unsigned long)w->mnt;
	struct dentry *mnt_root = build__kval(vfsmnt, mnt_root);
	struct dentry *parent = build__kval(dentry, d_parent);
	const unsigned char *name;
	__u32 off = build__load(&w->off);
	long n;

	(void)i;
	if (dentry == mnt_root) {
		build__mount *mnt_parent = build__kval(mnt, mnt_parent);

		if (mnt == mnt_parent) {
			w->at_root = 1; /* the namespace's root */
			return 1;
		}
		w->dentry = (unsigned long)build__kval(mnt, mnt_mountpoint);
		w->mnt = (unsigned long)mnt_parent;
		w->vfsmnt = (unsigned long)build__mount_vfs(mnt_parent);
		return 0;
	}
	if (dentry == parent) {
		w->at_root = 1; /* root of an unmounted tree */
		return 1;
	}
	if (off > SMITH_TAIL_LIMIT - SMITH_NAME_MAX ||
	    off - build__load(&w->start) > SMITH_PATH_MAX - SMITH_NAME_MAX)
		return 1;
	name = build__kval(dentry, d_name.name);
	n = build__kstr((char *)build__tail_at(c->tail, off), SMITH_NAME_MAX, name);
	if (n <= 0)
		return 1;
	w->off = off + n;
	w->dentry = (unsigned long)parent;
	return 0;
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
 *
 * The steps are build__loop callbacks with their place kept in `w`: the
 * verifier checks one step, not SMITH_PATH_DEPTH of them at every path of
 * every record, which was most of the time the programs took to load.
 */
SMITH_BUILD __u32 path__append(__u8 *tail, struct smith_walk *w, const struct path *path)
{
	struct dentry *dentry = build__kval(path, dentry);
	struct vfsmount *vfsmnt = build__kval(path, mnt);
	struct smith_path_ctx c = {tail, w};
	__u32 start = w->off;

	w->truncated = 1;
	w->at_root = 0;
	w->start = start;
	if (!dentry || !vfsmnt)
		goto out;
	w->dentry = (unsigned long)dentry;
	w->vfsmnt = (unsigned long)vfsmnt;
	w->mnt = (unsigned long)build__real_mount(vfsmnt);
	build__loop(SMITH_PATH_DEPTH, path__step, &c);
	if (build__load(&w->at_root)) {
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
