// SPDX-License-Identifier: GPL-2.0-only
/*
 * The shared area of include/smith/lkm_ring.h: page 0 is struct
 * smith_lkm_info, then one ring per possible CPU (a control page and
 * ring_bytes of data), all in one vmalloc_user() area that dev.c maps.
 *
 * Each ring has one producer: the handlers of its CPU, which run with
 * preemption disabled and never nest (kprobes do not reenter; the
 * tracepoints used fire in process context only). So the hot path takes no
 * lock and touches only its own CPU's ring: reserve, write, commit.
 *
 * The producer keeps head in kernel memory (struct smith_ring) and only
 * publishes it to the control page: the reader can write anywhere in its
 * mapping, so nothing it writes is trusted. A tail further than ring_bytes
 * behind head, or ahead of it, reads as a full ring and drops records; every
 * write is masked into the data area whatever tail says.
 *
 * Wakeups are batched and never taken on the hot path: a commit that makes
 * the unread bytes cross wakeup_bytes (at most half the ring), or the first commit since the last
 * timer, queues this CPU's irq_work (lock-free). The irq_work wakes the
 * reader when wakeup_bytes are waiting, and arms a timer that wakes it
 * wakeup_ms later otherwise.
 */
#include <linux/vmalloc.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/irq_work.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/string.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#ifdef HAVE_LINUX_SCHED_SIGNAL_H
#include <linux/sched/clock.h> /* local_clock(); in linux/sched.h before 4.11 */
#endif
#include "smith.h"

void *smith_area;
unsigned long smith_area_bytes;
struct smith_lkm_info *smith_info;
DECLARE_WAIT_QUEUE_HEAD(smith_wq);

struct smith_ring {
	struct smith_lkm_ring_ctl *ctl; /* the control page, in the shared area */
	u8 *data;			/* ring_bytes of data, in the shared area */
	u64 head;			/* bytes produced: the truth; ctl->head is its published copy */
	u64 rsv_head;			/* head of the record being written (reserve to commit) */
	u32 rsv_bytes;			/* its aligned size */
	u64 rsv_tail;			/* tail seen by that reserve */
	atomic_t timer_set;		/* 1: a timer wakeup is scheduled */
	struct irq_work work;		/* wakes the reader or arms the timer, out of the hot path */
	struct timer_list timer;	/* wakeup_ms after the first waiting record */
};

static struct smith_ring *smith_rings;
static unsigned int smith_nr_rings;
static u64 smith_ring_bytes;

/* wakeup_bytes, but at most half a ring, so that a small ring wakes its reader before it fills. */
static u64 ring__wake_at(void)
{
	return min_t(u64, READ_ONCE(smith_wakeup_bytes), smith_ring_bytes / 2);
}

static u64 ring__unread(struct smith_ring *r)
{
	return READ_ONCE(r->head) - READ_ONCE(r->ctl->tail);
}

static void ring__work(struct irq_work *work)
{
	struct smith_ring *r = container_of(work, struct smith_ring, work);
	u64 unread = ring__unread(r);

	if (unread >= ring__wake_at())
		wake_up_interruptible(&smith_wq);
	if (atomic_read(&r->timer_set) && !timer_pending(&r->timer))
		mod_timer(&r->timer, jiffies + msecs_to_jiffies(smith_wakeup_ms));
}

static void ring__timer_fire(struct smith_ring *r)
{
	atomic_set(&r->timer_set, 0);
	smp_mb(); /* a commit racing with us either sees it clear or is seen here */
	if (ring__unread(r))
		wake_up_interruptible(&smith_wq);
}

#ifdef HAVE_TIMER_SETUP
static void ring__timer(struct timer_list *t)
{
	ring__timer_fire(container_of(t, struct smith_ring, timer));
}
#else
static void ring__timer(unsigned long arg)
{
	ring__timer_fire((struct smith_ring *)arg);
}
#endif

int smith_rings_init(void)
{
	unsigned long ring_bytes, stride, bytes;
	unsigned int i;

	if (!smith_ring_kb || !is_power_of_2(smith_ring_kb) || smith_ring_kb < 64 ||
	    smith_ring_kb > 1024 * 1024) {
		pr_err("ring_kb=%u is invalid: it must be a power of two from 64 to 1048576 (KiB per CPU)\n",
		       smith_ring_kb);
		return -EINVAL;
	}
	if (!smith_wakeup_ms || smith_wakeup_ms > 60000) {
		pr_err("wakeup_ms=%u is invalid: it must be from 1 to 60000\n", smith_wakeup_ms);
		return -EINVAL;
	}
	ring_bytes = (unsigned long)smith_ring_kb * 1024;
	if (ring_bytes < PAGE_SIZE) {
		pr_err("ring_kb=%u is smaller than a page\n", smith_ring_kb);
		return -EINVAL;
	}
	smith_nr_rings = nr_cpu_ids;
	stride = PAGE_SIZE + ring_bytes;
	if (stride > (ULONG_MAX - PAGE_SIZE) / smith_nr_rings) {
		pr_err("ring_kb=%u is too large for %u CPUs\n", smith_ring_kb, smith_nr_rings);
		return -EINVAL;
	}
	bytes = PAGE_SIZE + stride * smith_nr_rings;

	smith_rings = kcalloc(smith_nr_rings, sizeof(*smith_rings), GFP_KERNEL);
	if (!smith_rings)
		return -ENOMEM;
	smith_area = vmalloc_user(bytes);
	if (!smith_area) {
		pr_err("cannot allocate %lu KiB for %u rings of ring_kb=%u\n", bytes >> 10, smith_nr_rings,
		       smith_ring_kb);
		kfree(smith_rings);
		smith_rings = NULL;
		return -ENOMEM;
	}
	smith_area_bytes = bytes;
	smith_ring_bytes = ring_bytes;

	smith_info = smith_area;
	smith_info->magic = SMITH_LKM_MAGIC;
	smith_info->transport_version = SMITH_LKM_TRANSPORT_VERSION;
	smith_info->record_abi = SMITH_ABI_VERSION;
	smith_info->nr_rings = smith_nr_rings;
	smith_info->page_size = PAGE_SIZE;
	smith_info->ring_bytes = ring_bytes;
	smith_info->ring_offset = PAGE_SIZE;
	smith_info->ring_stride = stride;
	smith_info->map_bytes = bytes;
	snprintf(smith_info->version, sizeof(smith_info->version), "%s", SMITH_LKM_VERSION);

	for (i = 0; i < smith_nr_rings; i++) {
		struct smith_ring *r = &smith_rings[i];

		r->ctl = smith_area + PAGE_SIZE + (unsigned long)i * stride;
		r->data = (u8 *)r->ctl + PAGE_SIZE;
		r->ctl->cpu = i;
		init_irq_work(&r->work, ring__work);
#ifdef HAVE_TIMER_SETUP
		timer_setup(&r->timer, ring__timer, 0);
#else
		setup_timer(&r->timer, ring__timer, (unsigned long)r);
#endif
	}
	return 0;
}

void smith_rings_exit(void)
{
	smith_rings_quiesce();
	vfree(smith_area);
	smith_area = NULL;
	smith_info = NULL;
	kfree(smith_rings);
	smith_rings = NULL;
}

/* Stops wakeups: called once no handler can run any more. */
void smith_rings_quiesce(void)
{
	unsigned int i;

	for (i = 0; i < smith_nr_rings; i++) {
		struct smith_ring *r = &smith_rings[i];

		irq_work_sync(&r->work);
		smith_timer_delete_sync(&r->timer);
		atomic_set(&r->timer_set, 0);
	}
}

/* A new reader: wake it at once if records were left from before. */
void smith_rings_start(void)
{
	if (smith_rings_readable())
		wake_up_interruptible(&smith_wq);
}

bool smith_rings_readable(void)
{
	unsigned int i;

	for (i = 0; i < smith_nr_rings; i++)
		if (ring__unread(&smith_rings[i]))
			return true;
	return false;
}

bool smith_hook_timing;
module_param_named(hook_timing, smith_hook_timing, bool, 0644);
MODULE_PARM_DESC(hook_timing,
		 "time each hook's work into the rings' control pages (default off; smithd's hook_timing)");

/* The clock hook timings are read from: 0 while timing is off, so that smith_timing_add() does nothing. */
u64 smith_timing_start(void)
{
	return READ_ONCE(smith_hook_timing) ? local_clock() : 0;
}

/* Counts one run of `hook` that began at `start` (smith_timing_start()) in this CPU's ring. */
void smith_timing_add(unsigned int hook, u64 start)
{
	struct smith_timing *t;
	u64 ns;

	if (!start || hook >= SMITH_HOOK_MAX)
		return;
	ns = local_clock() - start;
	t = &smith_rings[smp_processor_id()].ctl->timing[hook];
	WRITE_ONCE(t->calls, t->calls + 1);
	WRITE_ONCE(t->sum_ns, t->sum_ns + ns);
	WRITE_ONCE(t->buckets[smith_timing_bucket(ns)], t->buckets[smith_timing_bucket(ns)] + 1);
}

void smith_ring_count_drops(unsigned int hook, u64 n)
{
	struct smith_lkm_ring_ctl *ctl = smith_rings[smp_processor_id()].ctl;

	WRITE_ONCE(ctl->drops[hook], ctl->drops[hook] + n);
}

/*
 * Space for a record of `size` bytes in this CPU's ring, or NULL (the drop
 * is counted for `hook`). Preemption must stay disabled until commit.
 */
void *smith_ring_reserve(u32 size, unsigned int hook)
{
	struct smith_ring *r = &smith_rings[smp_processor_id()];
	u64 mask = smith_ring_bytes - 1;
	u32 need = SMITH_LKM_ALIGN(size);
	u64 head = r->head;
	u64 tail = smp_load_acquire(&r->ctl->tail); /* the reader is done with what lies before tail */
	u64 used = head - tail;
	u64 pos = head & mask;
	u64 pad = 0;

	if (used > smith_ring_bytes || need > smith_ring_bytes)
		goto drop;
	if (pos + need > smith_ring_bytes)
		pad = smith_ring_bytes - pos;
	if (pad + need > smith_ring_bytes - used)
		goto drop;
	if (pad) {
		struct smith_rec_hdr *p = (struct smith_rec_hdr *)(r->data + pos);

		p->type = SMITH_LKM_REC_PAD;
		p->abi = SMITH_ABI_VERSION;
		p->size = pad;
		head += pad;
		pos = 0;
	}
	r->rsv_head = head;
	r->rsv_bytes = need;
	r->rsv_tail = tail;
	return r->data + pos;
drop:
	smith_ring_count_drops(hook, 1);
	return NULL;
}

/* Publishes the record smith_ring_reserve() returned; wakes the reader in batches. */
void smith_ring_commit(void *rec)
{
	struct smith_ring *r = &smith_rings[smp_processor_id()];
	u64 head = r->rsv_head + r->rsv_bytes;
	u64 unread = head - r->rsv_tail;
	u64 wake_at = ring__wake_at();
	bool crossed = unread >= wake_at && unread - r->rsv_bytes < wake_at;

	r->head = head;
	WRITE_ONCE(r->ctl->records, r->ctl->records + 1);
	smp_store_release(&r->ctl->head, head);
	/* An atomic exchange, not test_and_set_bit(): 3.10's makes binutils 2.40 warn (a bts without suffix).
	 */
	if (crossed || !atomic_xchg(&r->timer_set, 1))
		irq_work_queue(&r->work);
}

int smith_ring_output(const void *rec, u32 size, unsigned int hook)
{
	void *dst = smith_ring_reserve(size, hook);

	if (!dst)
		return -ENOSPC;
	memcpy(dst, rec, size);
	smith_ring_commit(dst);
	return 0;
}
