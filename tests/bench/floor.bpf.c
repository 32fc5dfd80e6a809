/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The floor of hook_overhead.sh: programs that do nothing, attached where a
 * collector attaches. Whatever a collector adds beyond these is the cost of
 * its own work. smith_bench_floor loads one of these sets:
 *   - "smith": the hooks smithd uses, in the mode smithd picks on the kernel
 *     (event_table.h, SMITH_BPF_PROGRAMS): the tp_btf programs on what tasks do
 *     (sched_process_exec, module_load, sched_process_fork, sched_process_exit,
 *     inet_sock_set_state) and, for the syscalls, fexit on each syscall entry
 *     function where the kernel allows trampolines, else the raw sys_exit
 *     tracepoint; so smithd's added cost can be read against its own floor;
 *   - "smith-sys_exit": the same with sys_exit forced (smithd --bpf-attach=sys_exit);
 *   - "smith-emit": as "smith", but connect's program (sys_exit or fexit) does
 *     the least an event costs: it reserves a record of smithd's connect size in
 *     a ring buffer of smithd's default size, writes it (zeros and the time) and
 *     submits it, waking the reader as smithd does (ring.bpf.h); the reader
 *     throws it away. What smithd adds beyond this is the cost of what its
 *     records say;
 *   - "classic": classic syscall tracepoints on connect and execve entry and exit,
 *     the cheapest a tracefs-based collector (bpftrace, Falco's legacy probe) can get.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "smith/abi.h"
#include "smith/event_table.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 23); /* smithd's default ring size; the loader may change it */
} events SEC(".maps");

/* As smithd sets it: a sixty-fourth of the ring. */
const volatile __u64 wakeup_bytes = 0;
#include "ring.bpf.h"

/* Records the "smith-emit" set could not reserve: a full ring, which would make its floor too low. */
__u64 emit_drops = 0;

SEC("tp_btf/sched_process_exec")
int BPF_PROG(floor_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
	return 0;
}

/* smithd's FEXIT programs, empty: one per syscall entry function of the event table. */
#define FLOOR_FEXIT(function, hook, compat, nr, unused)                                                      \
	SEC("fexit/" #function)                                                                              \
	int BPF_PROG(floor_fexit_##function, struct pt_regs *regs, long ret)                                 \
	{                                                                                                    \
		return 0;                                                                                    \
	}
SMITH_SYSCALL_FEXITS(FLOOR_FEXIT, 0)
#undef FLOOR_FEXIT

SEC("tp_btf/module_load")
int BPF_PROG(floor_module_load, struct module *mod)
{
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(floor_fork, struct task_struct *parent, struct task_struct *child)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_exit, struct task_struct *p)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_sock_state, struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

/* The "smith-emit" set's connect: a record of smithd's size, zeros and a time stamp. */
static __always_inline int emit__connect(void)
{
	struct smith_connect *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);

	if (!rec) {
		__sync_fetch_and_add(&emit_drops, 1);
		return 0;
	}
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->hdr.ts = bpf_ktime_get_boot_ns();
	bpf_ringbuf_submit(rec, ring__submit_flags(&events, sizeof(*rec)));
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(emit_sys_exit, struct pt_regs *regs, long ret)
{
	if (regs->orig_ax == SMITH_NR_CONNECT)
		return emit__connect();
	return 0;
}

SEC("fexit/__x64_sys_connect")
int BPF_PROG(emit_fexit_connect, struct pt_regs *regs, long ret)
{
	return emit__connect();
}

SEC("tracepoint/syscalls/sys_enter_connect")
int classic_enter_connect(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int classic_exit_connect(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int classic_enter_execve(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int classic_exit_execve(void *ctx)
{
	return 0;
}
