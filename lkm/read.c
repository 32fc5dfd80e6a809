// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reads for atomic context. Handlers run with preemption disabled, inside
 * syscalls of arbitrary tasks: they must neither sleep nor fault. Each read
 * here either copies the bytes or fails (and then zeroes its destination, as
 * bpf_probe_read_*() does), so a stale pointer met while walking kernel
 * structures yields an empty field, never an oops.
 *
 * The string reads keep bpf_probe_read_{kernel,user}_str()'s contract, which
 * the BPF programs use for the same fields: the result is NUL-terminated, the
 * return value counts the NUL, a string longer than max - 1 bytes is cut to
 * max - 1 bytes and the return value is max, a fault is a negative errno.
 */
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include "smith.h"

int smith_kread(void *dst, const void *src, size_t n)
{
	long ret;

#ifdef HAVE_COPY_FROM_KERNEL_NOFAULT
	ret = copy_from_kernel_nofault(dst, src, n);
#else
	ret = probe_kernel_read(dst, (void *)src, n);
#endif
	if (ret) {
		memset(dst, 0, n);
		return -EFAULT;
	}
	return 0;
}

long smith_kstr(char *dst, const void *src, u32 max)
{
	const char *s = src;
	u32 done = 0;

	if (!max)
		return 0;
	/* Chunks that never cross a page: a string ending before an unmapped page reads fine. */
	while (done < max - 1) {
		unsigned long addr = (unsigned long)s + done;
		u32 chunk = min_t(u32, max - 1 - done, PAGE_SIZE - (addr & ~PAGE_MASK));
		char *nul;

		chunk = min_t(u32, chunk, 64);
		if (smith_kread(dst + done, s + done, chunk)) {
			dst[0] = 0;
			return -EFAULT;
		}
		nul = memchr(dst + done, 0, chunk);
		if (nul)
			return nul - dst + 1;
		done += chunk;
	}
	dst[max - 1] = 0;
	return max;
}

int smith_uread(void *dst, const void __user *src, size_t n)
{
	long ret;

#ifdef HAVE_COPY_FROM_USER_NOFAULT
	ret = copy_from_user_nofault(dst, src, n);
#else
	if (!smith_access_ok(src, n)) {
		ret = -EFAULT;
	} else {
		pagefault_disable();
		ret = __copy_from_user_inatomic(dst, src, n);
		pagefault_enable();
	}
#endif
	if (ret) {
		memset(dst, 0, n);
		return -EFAULT;
	}
	return 0;
}

long smith_ustr(char *dst, const void __user *src, u32 max)
{
	long n;

	if (!max)
		return 0;
	/*
	 * strncpy_from_user() with page faults disabled cannot sleep: a fault
	 * ends the copy with -EFAULT. This is strncpy_from_user_nofault(),
	 * which modules cannot call (it is not exported).
	 */
	if (!smith_access_ok(src, 1)) {
		dst[0] = 0;
		return -EFAULT;
	}
	pagefault_disable();
	n = strncpy_from_user(dst, src, max);
	pagefault_enable();
	if (n < 0) {
		dst[0] = 0;
		return n;
	}
	if (n >= max) {
		dst[max - 1] = 0;
		return max;
	}
	dst[n] = 0;
	return n + 1;
}

/* Appends a NUL-terminated kernel string to a record's tail; returns its length without the NUL. */
u32 smith_tail_kstr(u8 *tail, u32 off, const void *src, u32 max)
{
	long n;

	if (!src || off > SMITH_TAIL_LIMIT - max)
		return 0;
	n = smith_kstr((char *)tail + off, src, max);
	return n > 1 ? n - 1 : 0;
}

/* Appends a NUL-terminated user string to a record's tail; returns its length without the NUL. */
u32 smith_tail_ustr(u8 *tail, u32 off, const void __user *src, u32 max)
{
	long n;

	if (!src || off > SMITH_TAIL_LIMIT - max)
		return 0;
	n = smith_ustr((char *)tail + off, src, max);
	return n > 1 ? n - 1 : 0;
}
