/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Record tails and paths. A record is built in a per-CPU scratch buffer: its
 * fixed part, then a tail of strings appended at a growing offset. Every write
 * is bounded twice: by the offset check (nothing is written past
 * SMITH_TAIL_LIMIT) and by masking (the verifier's proof), so the tail array
 * is SMITH_TAIL_LIMIT plus the largest single write.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "smith/abi.h"

#define SMITH_TAIL_LIMIT 32768
#define SMITH_TAIL_MASK	 (SMITH_TAIL_LIMIT - 1)
#define SMITH_TAIL_SIZE	 (SMITH_TAIL_LIMIT + SMITH_ARGV_MAX)

#define S_IFMT	    00170000
#define S_IFSOCK    0140000
#define S_IFIFO	    0010000
#define AF_INET	    2
#define AF_INET6    10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

/*
 * Where offset `off` of the tail is. The barrier keeps the mask: the compiler
 * would drop it after a bounds check, and the verifier needs it to prove the
 * access in bounds.
 */
static __always_inline __u8 *tail__at(__u8 *tail, __u32 off)
{
	barrier_var(off);
	return &tail[off & SMITH_TAIL_MASK];
}

/* Appends a NUL-terminated kernel string; returns its length without the NUL. */
static __always_inline __u32 tail__kstr(__u8 *tail, __u32 off, const void *src, __u32 max)
{
	long n;

	if (!src || off > SMITH_TAIL_LIMIT - max)
		return 0;
	n = bpf_probe_read_kernel_str(tail__at(tail, off), max, src);
	return n > 1 ? n - 1 : 0;
}

/* Appends a NUL-terminated user string; returns its length without the NUL. */
static __always_inline __u32 tail__ustr(__u8 *tail, __u32 off, const void *src, __u32 max)
{
	long n;

	if (!src || off > SMITH_TAIL_LIMIT - max)
		return 0;
	n = bpf_probe_read_user_str(tail__at(tail, off), max, src);
	return n > 1 ? n - 1 : 0;
}

/*
 * Loops keep their write offset in memory the verifier does not track (a
 * struct walk in the scratch map value): with the offset unknown at every
 * iteration's start, the verifier prunes equivalent states instead of walking
 * each possible offset. For the same reason a loop's function leaves through
 * one exit whose return value is loaded from that memory: every way out of the
 * loop then reaches the caller in the same state.
 */
struct walk {
	__u32 off;	 /* write offset in the tail */
	__u32 truncated; /* set when the last walk stopped early */
};

/* A read the compiler cannot replace with the value it last stored. */
#define walk__load(p) (*(volatile __u32 *)(p))

/*
 * Appends the path of `path` leaf first (see abi.h) at tail offset w->off,
 * walking dentries up and crossing mounts until the root of the task's mount
 * namespace. Returns the bytes written; sets w->truncated if the walk stopped
 * early; leaves w->off past the written bytes.
 */
static __noinline __u32 path__append(__u8 *tail, struct walk *w, const struct path *path)
{
	struct dentry *dentry = BPF_CORE_READ(path, dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(path, mnt);
	struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
	__u32 start = w->off;
	bool at_root = false;
	int i;

	w->truncated = 1;
	if (!dentry || !vfsmnt)
		goto out;
	for (i = 0; i < SMITH_PATH_DEPTH; i++) {
		struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		const unsigned char *name;
		__u32 off = walk__load(&w->off);
		long n;

		if (dentry == mnt_root) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

			if (mnt == mnt_parent) {
				at_root = true; /* the namespace's root */
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = __builtin_preserve_access_index(&mnt->mnt);
			continue;
		}
		if (dentry == parent) {
			at_root = true; /* root of an unmounted tree */
			break;
		}
		if (off > SMITH_TAIL_LIMIT - SMITH_NAME_MAX || off - start > SMITH_PATH_MAX - SMITH_NAME_MAX)
			break;
		name = BPF_CORE_READ(dentry, d_name.name);
		n = bpf_probe_read_kernel_str(tail__at(tail, off), SMITH_NAME_MAX, name);
		if (n <= 0)
			break;
		w->off = off + n;
		dentry = parent;
	}
	if (at_root) {
		w->truncated = 0;
		if (walk__load(&w->off) == start && start <= SMITH_TAIL_LIMIT - 1) {
			/* the path is "/" itself: one empty component */
			*tail__at(tail, start) = 0;
			w->off = start + 1;
		}
	}
out:
	return walk__load(&w->off) - start;
}
