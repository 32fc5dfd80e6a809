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
 *   - "classic": classic syscall tracepoints on connect and execve entry and exit,
 *     the cheapest a tracefs-based collector (bpftrace, Falco's legacy probe) can get.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "smith/abi.h"

char LICENSE[] SEC("license") = "GPL";

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
