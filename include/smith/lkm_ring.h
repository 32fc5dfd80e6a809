/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * smith.ko transport: the per-CPU rings the kernel module fills and the daemon
 * reads by mapping the character device /dev/smith. Records in the rings are the
 * raw records of abi.h, byte for byte what the BPF programs produce, so the
 * daemon has one decoder for both backends.
 *
 * Opening and mapping:
 *   - /dev/smith has at most one reader: a second open() fails with EBUSY.
 *     Opening it arms the hooks; the last close disarms them. With no reader the
 *     module has no probe registered and costs nothing.
 *   - mmap(fd, offset 0, info.map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED).
 *     Page 0 is struct smith_lkm_info. Ring i (0 <= i < nr_rings) starts at
 *     ring_offset + i * ring_stride: one control page (struct smith_lkm_ring_ctl)
 *     then ring_bytes of data. The reader writes only smith_lkm_ring_ctl.tail.
 *   - poll()/select() report POLLIN when some ring holds unread records. The
 *     module wakes the reader in batches: when a ring's unread bytes reach the
 *     wakeup_bytes parameter, and otherwise every wakeup_ms milliseconds while
 *     records wait.
 *
 * Ring protocol (single producer per CPU, single consumer):
 *   - head and tail count bytes since the ring was created; a position's byte is
 *     at data[pos & (ring_bytes - 1)]. ring_bytes is a power of two.
 *   - The producer never overwrites: a record that does not fit in
 *     ring_bytes - (head - tail) is dropped and counted in drops[hook]. It never
 *     blocks either.
 *   - Records start 8-byte aligned and never wrap: each occupies
 *     SMITH_LKM_ALIGN(hdr.size) bytes. When a record does not fit before the end
 *     of the data area, the producer fills the rest with a pad record (type
 *     SMITH_LKM_REC_PAD, size = the bytes to the end) and starts the record at
 *     offset 0.
 *   - The producer writes the record, then publishes head with release order.
 *     The reader loads head with acquire order, consumes up to it, then stores
 *     tail with release order.
 */
#ifndef SMITH_LKM_RING_H
#define SMITH_LKM_RING_H

#include "abi.h"

#define SMITH_LKM_DEVICE	    "/dev/smith"
#define SMITH_LKM_MODULE_NAME	    "smith"
#define SMITH_LKM_MAGIC		    0x314d4b48544d53ULL /* "SMTHKM1" little-endian */
#define SMITH_LKM_TRANSPORT_VERSION 1
#define SMITH_LKM_REC_PAD	    0xffff /* type of a pad record; skip hdr.size bytes */
#define SMITH_LKM_ALIGN(n)	    (((n) + 7u) & ~7u)

/* Page 0 of the mapping. Written by the module before the first open returns. */
struct smith_lkm_info {
	__u64 magic;		 /* SMITH_LKM_MAGIC */
	__u32 transport_version; /* SMITH_LKM_TRANSPORT_VERSION */
	__u32 record_abi;	 /* SMITH_ABI_VERSION of the records */
	__u32 nr_rings;		 /* one per possible CPU */
	__u32 page_size;
	__u64 ring_bytes;	 /* data bytes per ring, a power of two (module parameter ring_kb) */
	__u64 ring_offset;	 /* offset of ring 0's control page in the mapping */
	__u64 ring_stride;	 /* bytes from one ring's control page to the next: page_size + ring_bytes */
	__u64 map_bytes;	 /* length to map: ring_offset + nr_rings * ring_stride */
	__u32 hooks_armed;	 /* bit (1 << enum smith_hook) set for each hook with a probe registered */
	__u32 hooks_disabled;	 /* bit set for each hook switched off by its module parameter */
	__u32 hooks_failed;	 /* bit set for each hook whose probe failed to register */
	__u32 hooks_unavailable; /* bit set for each hook whose syscall or tracepoint this kernel lacks */
	char version[32];	 /* the module's version string, NUL-terminated */
};

/* A ring's control page. The producer's and the reader's fields sit on separate cache lines. */
struct smith_lkm_ring_ctl {
	/* written by the module */
	__u64 head;		     /* bytes produced, published with release order */
	__u64 records;		     /* records produced */
	__u64 drops[SMITH_HOOK_MAX]; /* records dropped for lack of space, per hook */
	__u32 cpu;		     /* the CPU this ring belongs to */
	__u32 pad0;
	__u8 pad1[64 - 8 - 8 - 8 * SMITH_HOOK_MAX - 8 + 64];
	/* written by the reader, at offset 128 */
	__u64 tail; /* bytes consumed, stored with release order */
	/* written by the module while its parameter hook_timing is set: this CPU's hook timings (abi.h) */
	struct smith_timing timing[SMITH_HOOK_MAX];
};

#endif /* SMITH_LKM_RING_H */
