/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The budget for connect events, per process: what keeps one process that
 * floods connects from pushing other processes' events out of the ring
 * (DESIGN.md, threat model). Both producers apply it, before they reserve
 * room in the ring, with the state below and these rules:
 *
 *   - A process may have `rate` connect events per second, and `burst` at
 *     once. A GCRA keeps this in one number: `tat`, the time at which the
 *     process's budget is whole again. A call is reported when tat - now is at
 *     most the tolerance ((burst - 1) intervals of 1 s / rate); it then moves
 *     tat on by one interval.
 *   - A call held back is counted (`suppressed`, with the time of the first
 *     and last). Nothing else about it is kept.
 *   - The count goes out as a connect_suppressed record (abi.h) in the
 *     process's own context: before its next connect event, once
 *     SMITH_BUDGET_REPORT_NS have passed since the first call it counts, and
 *     when the process exits. So every connect call is either a connect event
 *     or counted in exactly one connect_suppressed record.
 *   - execve, module and fork records are never budgeted.
 *
 * A rate of 0 turns the budget off. The defaults let a process make 5 000
 * connects a second, and 2 000 at once, before any is held back: far above
 * what a server's own connects reach, far below what the ring holds (an 8 MiB
 * BPF ring takes about 35 000 connect records): the bursts of several
 * flooding processes together still leave room for everything else.
 *
 * Plain C for BPF, kernel C (gnu89) and C++.
 */
#ifndef SMITH_BUDGET_H
#define SMITH_BUDGET_H

#if !defined(__bpf__) && !defined(SMITH_BPF)
#include <linux/types.h> /* BPF programs have these types from vmlinux.h */
#endif

#define SMITH_BUDGET_RATE_DEFAULT  5000		 /* connect events per second, per process */
#define SMITH_BUDGET_BURST_DEFAULT 2000		 /* connect events at once, per process */
#define SMITH_BUDGET_REPORT_NS	   1000000000ULL /* a flood is reported at least this often */
#define SMITH_BUDGET_PROCESSES	   16384	 /* processes with a budget kept at once */

/* One process's budget. The producers key it by pid and check start_time. */
struct smith_budget {
	__u64 start_time; /* the process's start (smith_task.start_time) */
	__u64 tat;	  /* when its budget is whole again, ns since boot */
	__u64 suppressed; /* calls held back since the last report */
	__u64 first_ts;	  /* the first of them, ns since boot */
	__u64 last_ts;	  /* the last of them */
};

/* The budget's GCRA constants, from rate and burst (rate > 0, burst > 0). */
#define SMITH_BUDGET_INTERVAL_NS(rate)	       (1000000000ULL / (rate))
#define SMITH_BUDGET_TOLERANCE_NS(rate, burst) (((burst)-1ULL) * SMITH_BUDGET_INTERVAL_NS(rate))

/* Whether a call at `now` may be reported; if so, it takes its interval. */
static inline int smith_budget_take(struct smith_budget *b, __u64 now, __u64 interval_ns, __u64 tolerance_ns)
{
	__u64 tat = b->tat > now ? b->tat : now;

	if (tat - now > tolerance_ns)
		return 0;
	b->tat = tat + interval_ns;
	return 1;
}

/* Whether the held-back count is due to go out at `now`, before this call's event when `reported`. */
static inline int smith_budget_report_due(const struct smith_budget *b, __u64 now, int reported)
{
	return b->suppressed && (reported || now - b->first_ts >= SMITH_BUDGET_REPORT_NS);
}

#endif /* SMITH_BUDGET_H */
