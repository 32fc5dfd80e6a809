/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * smith's event table: the one place that names each record type, each hook
 * and what implements it. The BPF programs (bpf/), the kernel module (lkm/)
 * and the daemon (src/) generate their enums, names, module parameters,
 * probe lists and dispatch from these X-macros, or check themselves against
 * them at compile time.
 *
 * Adding an event touches this table (a record type, its hook, the programs
 * and probes that serve it), its record in abi.h, one builder per backend
 * (bpf/smith.bpf.c, lkm/), the normalizer's field writer
 * (src/event/normalizer.cpp), and tests. Nothing else names it.
 *
 * Rules: values of record types and the order of hooks are stable (both are
 * part of the ABI, see abi.h). Rows may be appended; anything else bumps
 * SMITH_ABI_VERSION.
 *
 * Plain preprocessor only: readable by BPF C, kernel C (gnu89) and C++.
 */
#ifndef SMITH_EVENT_TABLE_H
#define SMITH_EVENT_TABLE_H

/*
 * Record types that become events: X(ID, value, name, data_type, record)
 *   ID         SMITH_REC_<ID>, the value of smith_rec_hdr.type
 *   value      stable, from 1, contiguous
 *   name       the event's "type" in schema v1, and its name in status
 *   data_type  the event's "data_type": the x86_64 syscall number (AgentSmith-HIDS, Elkeid);
 *              1000 + that number for what is about a syscall without being one
 *   record     the struct of abi.h that is the record's fixed part
 */
#define SMITH_RECORD_TYPES(X)                                                                                \
	X(EXECVE, 1, "execve", 59, smith_execve)                                                             \
	X(CONNECT, 2, "connect", 42, smith_connect)                                                          \
	X(INIT_MODULE, 3, "init_module", 175, smith_module)                                                  \
	X(FINIT_MODULE, 4, "finit_module", 313, smith_module)                                                \
	X(CONNECT_SUPPRESSED, 5, "connect_suppressed", 1042, smith_connect_suppressed)

/*
 * Record types that only tell the daemon about processes, and become no event:
 * X(ID, value, record), values after the event types'.
 *   FORK  a new process: it starts with its parent's image, cwd, tty and
 *         container, which the daemon copies to it, so that a process that
 *         never execs is known by what it runs
 */
#define SMITH_PROCESS_RECORD_TYPES(X) X(FORK, 6, smith_fork)

/*
 * Hooks: X(ID, name, record, nr_x86_64, nr_i386, reports)
 *   ID         SMITH_HOOK_<ID>: the index of per-hook counters (drops) and
 *              status rows, in this order
 *   name       the hook's name in status and logs, and the module's
 *              parameter hook_<name>; for a syscall hook, the syscall, which
 *              both producers recognise by its numbers at the sys_exit
 *              tracepoint
 *   record     the record type (ID above) the hook produces
 *   nr_x86_64  the syscall's number for 64-bit tasks (-1: not a syscall hook)
 *   nr_i386    its number for 32-bit tasks (int $0x80)
 *   reports    what the hook reports, for the module parameter's description
 *
 * SMITH_SYSCALL_HOOKS are the hooks on a syscall, SMITH_TASK_HOOKS those on
 * what happens to tasks (tracepoints only); SMITH_HOOKS is both, in index order.
 */
#define SMITH_SYSCALL_HOOKS(X)                                                                               \
	X(EXECVE, execve, EXECVE, 59, 11, "successful execs of both calls and failed execve calls")          \
	X(EXECVEAT, execveat, EXECVE, 322, 358, "failed execveat calls")                                     \
	X(CONNECT, connect, CONNECT, 42, 362, "connect calls")                                               \
	X(INIT_MODULE, init_module, INIT_MODULE, 175, 128, "init_module calls")                              \
	X(FINIT_MODULE, finit_module, FINIT_MODULE, 313, 350, "finit_module calls")
#define SMITH_TASK_HOOKS(X)                                                                                  \
	X(FORK, fork, FORK, -1, -1, "new processes (fork, vfork, clone without CLONE_THREAD)")
#define SMITH_HOOKS(X) SMITH_SYSCALL_HOOKS(X) SMITH_TASK_HOOKS(X)

/* The bit of hook ID in a mask of hooks. */
#define SMITH_HOOK_BIT(ID) (1u << SMITH_HOOK_##ID)

/*
 * The BPF programs of bpf/smith.bpf.c: X(program, hooks, mode)
 *   program  the program's function name (the skeleton's progs.<program>)
 *   hooks    the mask of hooks that need it; a program is loaded and
 *            attached when one of them is available on the kernel
 *   mode     when it is loaded (SMITH_BPF_MODE_<mode>):
 *            ALWAYS   in both modes (BTF tracepoints on what happens to tasks)
 *            SYS_EXIT only where the kernel refuses BPF trampolines: the raw
 *                     sys_exit tracepoint, which runs on every syscall's return
 *                     and puts every task on the slow syscall exit path
 *            FEXIT    only where trampolines work: fexit on the function behind
 *                     one syscall (its x86_64 or i386 entry), so nothing else
 *                     pays; a program whose function the kernel lacks (no
 *                     32-bit entry without IA32_EMULATION) is left out, and a
 *                     hook needs one of its FEXIT programs
 * An FEXIT program is named after its function: fexit_<function>.
 */
#define SMITH_BPF_MODE_ALWAYS	0
#define SMITH_BPF_MODE_SYS_EXIT 1
#define SMITH_BPF_MODE_FEXIT	2
#define SMITH_BPF_PROGRAMS(X)                                                                                \
	X(exec_success, SMITH_HOOK_BIT(EXECVE) | SMITH_HOOK_BIT(EXECVEAT), ALWAYS)                           \
	X(process_fork, SMITH_HOOK_BIT(FORK), ALWAYS)                                                        \
	X(tcp_syn_sent, SMITH_HOOK_BIT(CONNECT), ALWAYS)                                                     \
	X(process_exit, SMITH_HOOK_BIT(CONNECT), ALWAYS)                                                     \
	X(module_load, SMITH_HOOK_BIT(INIT_MODULE) | SMITH_HOOK_BIT(FINIT_MODULE), ALWAYS)                   \
	X(sys_exit,                                                                                          \
	  SMITH_HOOK_BIT(EXECVE) | SMITH_HOOK_BIT(EXECVEAT) | SMITH_HOOK_BIT(CONNECT) |                      \
		  SMITH_HOOK_BIT(INIT_MODULE) | SMITH_HOOK_BIT(FINIT_MODULE),                                \
	  SYS_EXIT)                                                                                          \
	SMITH_SYSCALL_FEXITS(SMITH_BPF_FEXIT_PROGRAM, X)

/*
 * The functions behind each syscall hook's entries, for the FEXIT mode:
 * X(function, hook, compat, nr, ARG)
 *   function  the kernel function (a syscall's x86_64 or i386 entry; each
 *             takes the caller's saved registers and returns the syscall's
 *             result)
 *   hook      the hook it serves
 *   compat    1 for an entry of the 32-bit syscall table (int $0x80, a 32-bit
 *             process): the arguments are in the i386 registers
 *   nr        the syscall's number in that table (abi.h), as the sys_exit
 *             program sees it, so that both modes share one handler
 * ARG is passed through (SMITH_BPF_PROGRAMS passes its X).
 */
#define SMITH_SYSCALL_FEXITS(X, ARG)                                                                         \
	X(__x64_sys_execve, EXECVE, 0, SMITH_NR_EXECVE, ARG)                                                 \
	X(__ia32_compat_sys_execve, EXECVE, 1, SMITH_NR32_EXECVE, ARG)                                       \
	X(__x64_sys_execveat, EXECVEAT, 0, SMITH_NR_EXECVEAT, ARG)                                           \
	X(__ia32_compat_sys_execveat, EXECVEAT, 1, SMITH_NR32_EXECVEAT, ARG)                                 \
	X(__x64_sys_connect, CONNECT, 0, SMITH_NR_CONNECT, ARG)                                              \
	X(__ia32_sys_connect, CONNECT, 1, SMITH_NR32_CONNECT, ARG)                                           \
	X(__ia32_compat_sys_socketcall, CONNECT, 1, SMITH_NR32_SOCKETCALL, ARG)                              \
	X(__x64_sys_init_module, INIT_MODULE, 0, SMITH_NR_INIT_MODULE, ARG)                                  \
	X(__ia32_sys_init_module, INIT_MODULE, 1, SMITH_NR32_INIT_MODULE, ARG)                               \
	X(__x64_sys_finit_module, FINIT_MODULE, 0, SMITH_NR_FINIT_MODULE, ARG)                               \
	X(__ia32_sys_finit_module, FINIT_MODULE, 1, SMITH_NR32_FINIT_MODULE, ARG)
#define SMITH_BPF_FEXIT_PROGRAM(function, hook, compat, nr, X)                                               \
	X(fexit_##function, SMITH_HOOK_BIT(hook), FEXIT)

/*
 * The kernel functions through which a syscall made through the 32-bit entry
 * (int $0x80, sysenter, a 32-bit process's syscall) passes on its way in:
 * X(function). Once an exec has worked, set_personality_64bit() has erased
 * the entry's marks (orig_ax, TS_COMPAT), so the BPF program finds the entry
 * on the kernel stack of sched_process_exec instead, as return addresses
 * inside one of these (smithd reads their extents from /proc/kallsyms). A
 * kernel has some of them: do_int80_syscall_32 before 6.7, do_int80_emulation
 * from 6.7.
 */
#define SMITH_COMPAT_ENTRY_FUNCTIONS(X)                                                                      \
	X(do_int80_syscall_32)                                                                               \
	X(do_int80_emulation)                                                                                \
	X(do_fast_syscall_32)                                                                                \
	X(do_SYSENTER_32)
#define SMITH_COMPAT_ENTRIES 4

/*
 * The tracepoints smith.ko probes: X(tracepoint, hooks)
 *   tracepoint  the kernel tracepoint; its probe is smith_tp_<tracepoint>
 *   hooks       the mask of hooks that need it; probes are registered in this
 *               order when one of them is wanted
 *
 * sys_exit serves every syscall hook (the raw syscall tracepoint, as the BPF
 * program sys_exit); sched_process_fork also flags the new tasks the kernel
 * leaves out of it (3.10: children of kernel threads), so every syscall hook
 * needs it; sched_process_exit sends a process's last budget count;
 * inet_sock_set_state sees the TCP connections started without connect()
 * (before 4.16, a kprobe on tcp_set_state stands in).
 */
#define SMITH_LKM_TRACEPOINTS(X)                                                                             \
	X(sched_process_exec, SMITH_HOOK_BIT(EXECVE))                                                        \
	X(sched_process_fork, SMITH_HOOK_BIT(FORK) | SMITH_HOOK_BIT(EXECVE) | SMITH_HOOK_BIT(EXECVEAT) |     \
				      SMITH_HOOK_BIT(CONNECT) | SMITH_HOOK_BIT(INIT_MODULE) |                \
				      SMITH_HOOK_BIT(FINIT_MODULE))                                          \
	X(module_load, SMITH_HOOK_BIT(INIT_MODULE) | SMITH_HOOK_BIT(FINIT_MODULE))                           \
	X(sys_exit, SMITH_HOOK_BIT(EXECVE) | SMITH_HOOK_BIT(EXECVEAT) | SMITH_HOOK_BIT(CONNECT) |            \
			    SMITH_HOOK_BIT(INIT_MODULE) | SMITH_HOOK_BIT(FINIT_MODULE))                      \
	X(sched_process_exit, SMITH_HOOK_BIT(CONNECT))                                                       \
	X(inet_sock_set_state, SMITH_HOOK_BIT(CONNECT))

/*
 * Tail strings of an execve record, in tail order: X(ID, what)
 * (SMITH_EXEC_<ID>, the index of its length in smith_execve.len[])
 */
#define SMITH_EXEC_STRINGS(X)                                                                                \
	X(FILENAME, "the path given to execve")                                                              \
	X(ARGV, "the arguments, each followed by a NUL byte")                                                \
	X(EXE, "path: the executable (new image on success, the caller's on failure)")                       \
	X(CWD, "path: working directory")                                                                    \
	X(TTY, "tty_struct.name, e.g. pts0; empty without a controlling tty")                                \
	X(LD_PRELOAD, "value of LD_PRELOAD in the new environment")                                          \
	X(CGROUP, "leaf name of the task's cgroup (memory controller, else v2)")                             \
	X(STDIN_PATH, "path, when stdin_fd.kind is SMITH_FD_PATH")                                           \
	X(STDOUT_PATH, "path, when stdout_fd.kind is SMITH_FD_PATH")

/*
 * Tail strings of a module record, in tail order: X(ID, what)
 * (SMITH_MODULE_<ID>, the index of its length in smith_module.len[])
 */
#define SMITH_MODULE_STRINGS(X)                                                                              \
	X(NAME, "the module's name; empty if the load failed before it was known")                           \
	X(PATH, "path: the file behind finit_module's fd; empty for init_module")                            \
	X(PARAMS, "the parameter string")

/* Counting helpers: SMITH_RECORD_TYPES(SMITH_COUNT_ONE) is 0 + 1 + 1 ... */
#define SMITH_COUNT_ONE(...) +1

#endif /* SMITH_EVENT_TABLE_H */
