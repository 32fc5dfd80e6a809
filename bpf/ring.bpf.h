/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * How a program tells a ring buffer whether a record wakes the reader. Include
 * after defining `wakeup_bytes` (a const volatile __u64 the loader sets).
 *
 * Wakeups come in batches. A record wakes the reader only when it brings the
 * unread bytes in its ring up to wakeup_bytes; below that, the reader finds
 * the records when its periodic poll timeout expires, and above it the reader
 * is already awake. A wakeup per record (the ring buffer's default whenever the
 * reader has caught up) is an interrupt and a cross-CPU reschedule inside the
 * hooked syscall, several times the cost of the rest of the hook.
 * wakeup_bytes 0 restores the default.
 */
#pragma once

/* Flags for bpf_ringbuf_output() of `size` bytes (the query runs before the record is in). */
static __always_inline __u64 ring__output_flags(void *ring, __u64 size)
{
	__u64 avail;

	if (!wakeup_bytes)
		return 0;
	avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
	return avail < wakeup_bytes && avail + size + 8 >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									: BPF_RB_NO_WAKEUP;
}

/* Flags for bpf_ringbuf_submit() of a reserved record of `size` bytes (already counted). */
static __always_inline __u64 ring__submit_flags(void *ring, __u64 size)
{
	__u64 avail;

	if (!wakeup_bytes)
		return 0;
	avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
	return avail >= wakeup_bytes && avail < wakeup_bytes + size + 8 ? BPF_RB_FORCE_WAKEUP
									: BPF_RB_NO_WAKEUP;
}
