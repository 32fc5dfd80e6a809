// SPDX-License-Identifier: GPL-2.0-only
/*
 * Each process's budget of connect events (include/smith/budget.h, the rules
 * both producers follow): what keeps one process that floods connects from
 * pushing other processes' events out of the ring.
 *
 * Every connect event (net.c) first asks smith_budget_connect(). A call the
 * budget holds back is counted; the count goes out as a connect_suppressed
 * record in the process's own context, before its next reported connect, once
 * SMITH_BUDGET_REPORT_NS have passed since the first call it counts, and when
 * one of its tasks exits (the sched_process_exit tracepoint: the last count of
 * a process goes out at the latest when its last task does). A record that finds
 * no room in the ring is a drop of the connect hook, and its count stays for
 * the next report, so every call is either an event or in exactly one record.
 *
 * The budgets live in a fixed table of SMITH_BUDGET_PROCESSES slots, allocated
 * at load: nothing is allocated on the hot path. A process's slot is found from
 * a hash of its pid among BUDGET_REACH neighbours and must match its start
 * time too (a pid can name another process later). A slot with no debt left
 * (tat <= now) and nothing counted carries no information, and any process may
 * take it. A process that finds every slot in reach informative is reported
 * without a budget: its events are never held back for want of a slot (only
 * sustained floods keep a slot informative, and the ring's drops still count
 * what does not fit). One spinlock guards the table, for a few loads and stores
 * per call; records are written outside it.
 */
#include <linux/moduleparam.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/ktime.h>
#include <linux/hrtimer.h>
#include <linux/sched.h>
#include "smith.h"
#include "smith/budget.h"

unsigned int smith_budget_rate = SMITH_BUDGET_RATE_DEFAULT;
module_param_named(connect_budget_rate, smith_budget_rate, uint, 0644);
MODULE_PARM_DESC(connect_budget_rate,
		 "connect events per second each process may have before the rest are counted; 0: no budget "
		 "(default 5000)");

unsigned int smith_budget_burst = SMITH_BUDGET_BURST_DEFAULT;
module_param_named(connect_budget_burst, smith_budget_burst, uint, 0644);
MODULE_PARM_DESC(connect_budget_burst, "connect events each process may have at once (default 10000)");

#define BUDGET_REACH 64 /* slots looked at from a pid's hash */

struct budget_slot {
	u32 pid; /* thread group id in the initial pid namespace; 0: never used */
	u32 pad0;
	struct smith_budget b;
};

static struct budget_slot *budget_table; /* SMITH_BUDGET_PROCESSES slots */
static DEFINE_SPINLOCK(budget_lock);

static u64 budget__now(void)
{
	return ktime_to_ns(ktime_get_boottime());
}

static bool budget__idle(const struct budget_slot *s, u64 now)
{
	return !s->pid || (s->b.tat <= now && !s->b.suppressed);
}

/*
 * The slot of process (pid, start), or with `claim` a slot it may take (reset
 * for it); NULL when there is none. Under budget_lock.
 */
static struct budget_slot *budget__slot(u32 pid, u64 start, u64 now, bool claim)
{
	u32 h = hash_32(pid, ilog2(SMITH_BUDGET_PROCESSES));
	struct budget_slot *free = NULL;
	int i;

	for (i = 0; i < BUDGET_REACH; i++) {
		struct budget_slot *s = &budget_table[(h + i) & (SMITH_BUDGET_PROCESSES - 1)];

		if (s->pid == pid && s->b.start_time == start)
			return s;
		if (!free && (budget__idle(s, now) || s->pid == pid))
			free = s; /* idle, or the pid's earlier process, gone */
	}
	if (!claim || !free)
		return NULL;
	if (free->pid && free->b.suppressed)
		smith_ring_count_drops(SMITH_HOOK_CONNECT, 1); /* a count whose process left unseen */
	memset(free, 0, sizeof(*free));
	free->pid = pid;
	free->b.start_time = start;
	return free;
}

/*
 * Whether some slot in reach may be pid's, read without the lock: a task exit
 * (every thread's, on every CPU) takes the lock only for a process that has a
 * budget. The last task of a process cannot race with its own claim.
 */
static bool budget__maybe(u32 pid)
{
	u32 h = hash_32(pid, ilog2(SMITH_BUDGET_PROCESSES));
	int i;

	for (i = 0; i < BUDGET_REACH; i++)
		if (READ_ONCE(budget_table[(h + i) & (SMITH_BUDGET_PROCESSES - 1)].pid) == pid)
			return true;
	return false;
}

/* Writes the connect_suppressed record of `b`; false when the ring had no room (a drop, counted). */
static bool budget__report(const struct smith_budget *b, u32 rate, u32 burst)
{
	struct smith_connect_suppressed *rec;

	rec = smith_ring_reserve(sizeof(*rec), SMITH_HOOK_CONNECT);
	if (!rec)
		return false;
	smith_hdr_fill(&rec->hdr, SMITH_REC_CONNECT_SUPPRESSED, sizeof(*rec), sizeof(*rec), 0);
	smith_pid_tree_fill(&rec->pid_tree);
	rec->suppressed = b->suppressed;
	rec->first_ts = b->first_ts;
	rec->last_ts = b->last_ts;
	rec->rate = rate;
	rec->burst = burst;
	smith_ring_commit(rec);
	return true;
}

/* Puts a count that could not be reported back into the process's slot (it reports next time). */
static void budget__restore(u32 pid, u64 start, const struct smith_budget *b)
{
	struct budget_slot *s;
	unsigned long flags;

	spin_lock_irqsave(&budget_lock, flags);
	s = budget__slot(pid, start, budget__now(), false);
	if (s) {
		if (!s->b.suppressed || b->first_ts < s->b.first_ts)
			s->b.first_ts = b->first_ts;
		if (b->last_ts > s->b.last_ts)
			s->b.last_ts = b->last_ts;
		s->b.suppressed += b->suppressed;
	}
	spin_unlock_irqrestore(&budget_lock, flags);
}

/* The budget's parameters as they apply: a rate of at most one event per ns, a burst of at least one. */
static void budget__params(u32 *rate, u32 *burst)
{
	*rate = min_t(u32, READ_ONCE(smith_budget_rate), NSEC_PER_SEC);
	*burst = max_t(u32, READ_ONCE(smith_budget_burst), 1);
}

/*
 * Whether the current process may have a connect event now (preemption
 * disabled; before its record is reserved). A call held back is counted, and
 * a count that is due goes out first.
 */
bool smith_budget_connect(void)
{
	u32 pid = current->tgid, rate, burst;
	u64 start, now, interval, tolerance;
	struct smith_budget due = {};
	struct budget_slot *s;
	unsigned long flags;
	int taken = 1;

	budget__params(&rate, &burst);
	if (!rate)
		return true;
	interval = SMITH_BUDGET_INTERVAL_NS(rate);
	tolerance = SMITH_BUDGET_TOLERANCE_NS(rate, burst);
	start = smith_task_start(current->group_leader);
	now = budget__now();

	spin_lock_irqsave(&budget_lock, flags);
	s = budget__slot(pid, start, now, true);
	if (s) {
		taken = smith_budget_take(&s->b, now, interval, tolerance);
		/* What is due goes out without this call, which starts the next count if held back. */
		if (smith_budget_report_due(&s->b, now, taken)) {
			due = s->b;
			s->b.suppressed = 0;
			s->b.first_ts = s->b.last_ts = 0;
		}
		if (!taken) {
			if (!s->b.suppressed)
				s->b.first_ts = now;
			s->b.suppressed++;
			s->b.last_ts = now;
		}
	}
	spin_unlock_irqrestore(&budget_lock, flags);

	if (due.suppressed && !budget__report(&due, rate, burst))
		budget__restore(pid, start, &due);
	return taken;
}

/*
 * A task exits: its SYN_SENT slot (net.c) is let go; a count its process
 * still holds goes out now, in its context; with the last task of the process
 * (signal->live has dropped to 0 by the time the kernel calls this tracepoint)
 * its slot is freed.
 */
void smith_tp_sched_process_exit(void *data, struct task_struct *p)
{
	struct smith_budget due = {};
	struct budget_slot *s;
	unsigned long flags;
	bool last;
	u32 rate, burst;
	u64 start;

	if (p != current)
		return;
	smith_connecting_forget();
	if (!smith_hook_on(SMITH_HOOK_CONNECT) || !budget__maybe(p->tgid))
		return;
	smith_enter();
	preempt_disable();
	last = !atomic_read(&p->signal->live);
	start = smith_task_start(p->group_leader);
	spin_lock_irqsave(&budget_lock, flags);
	s = budget__slot(p->tgid, start, budget__now(), false);
	if (s) {
		due = s->b;
		if (last) {
			memset(s, 0, sizeof(*s));
		} else {
			s->b.suppressed = 0;
			s->b.first_ts = s->b.last_ts = 0;
		}
	}
	spin_unlock_irqrestore(&budget_lock, flags);
	budget__params(&rate, &burst);
	if (due.suppressed && !budget__report(&due, rate, burst) && !last)
		budget__restore(p->tgid, start, &due);
	preempt_enable();
	smith_leave();
}

/* At arm, while no probe is registered: budgets of a previous session are void. */
void smith_budget_reset(void)
{
	memset(budget_table, 0, (size_t)SMITH_BUDGET_PROCESSES * sizeof(*budget_table));
}

int smith_budget_init(void)
{
	BUILD_BUG_ON(!is_power_of_2(SMITH_BUDGET_PROCESSES));
	BUILD_BUG_ON(BUDGET_REACH > SMITH_BUDGET_PROCESSES);
	budget_table = vzalloc((size_t)SMITH_BUDGET_PROCESSES * sizeof(*budget_table));
	return budget_table ? 0 : -ENOMEM;
}

void smith_budget_exit(void)
{
	vfree(budget_table);
	budget_table = NULL;
}
