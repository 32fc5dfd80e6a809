/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * How the BPF programs read memory for the shared record builders
 * (include/smith/builder.h), and their tail appends. A record is built in a
 * per-CPU scratch buffer: its fixed part, then a tail of strings appended at
 * a growing offset. Every write is bounded twice: by the offset check
 * (nothing is written past SMITH_TAIL_LIMIT) and by masking (the verifier's
 * proof), so the tail array is SMITH_TAIL_LIMIT plus the largest single
 * write (SMITH_TAIL_SIZE).
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "smith/abi.h"

#define SMITH_TAIL_MASK (SMITH_TAIL_LIMIT - 1)

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

/* The primitives include/smith/builder.h is written against. */
#define __user
#define SMITH_NOINLINE		   __noinline
#define build__uread(dst, n, src)  bpf_probe_read_user(dst, n, src)
#define build__ustr(dst, max, src) bpf_probe_read_user_str(dst, max, src)
#define build__kstr(dst, max, src) bpf_probe_read_kernel_str(dst, max, src)
#define build__kcopy(dst, n, src)  bpf_probe_read_kernel(dst, n, src)
#define build__tail_at(tail, off)  tail__at(tail, off)
#define build__kval(p, field)	   BPF_CORE_READ(p, field)
#define build__mount		   struct mount
#define build__real_mount(vfsmnt)  container_of(vfsmnt, struct mount, mnt)
#define build__mount_vfs(m)	   __builtin_preserve_access_index(&(m)->mnt)
#define build__loop(n, fn, ctx)	   bpf_loop(n, fn, ctx, 0)

#include "smith/builder.h"
