// SPDX-License-Identifier: GPL-2.0-only
/*
 * The raw sys_exit tracepoint: the one probe behind every syscall hook, as the
 * BPF program sys_exit of bpf/smith.bpf.c is. Every syscall of every task
 * passes here while a reader is attached, so the probe looks at the syscall
 * number first and leaves at once unless it is one of the hooks', in either
 * numbering: x86_64, or i386 when the task is in a syscall made through the
 * 32-bit entry (TS_COMPAT: int $0x80 from any process, or any syscall of a
 * 32-bit one). At exit the saved user registers still hold the arguments
 * (di, si, dx, r10, r8, r9; bx, cx, dx, si, di, bp for i386, 32 bits each)
 * and the return value is known, so one probe sees the whole call:
 *   - failed execve/execveat attempts (a successful exec is reported by
 *     sched_process_exec, in the new image);
 *   - connect(2), i386 connect and socketcall(SYS_CONNECT);
 *   - init_module and finit_module.
 * Nothing is kept between a call's entry and its exit, so calls blocked in
 * the kernel cost the module nothing and cannot exhaust anything.
 *
 * Also here: what the current task is in the middle of, for the TCP
 * connections that start without connect() (net.c).
 */
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/errno.h>
#include <linux/hardirq.h>
#include <asm/unistd.h>
#ifdef CONFIG_IA32_EMULATION
#include <asm/unistd_32_ia32.h>
#endif
#include "smith.h"

/*
 * i386 connect and the other direct socket calls came with 4.3: before, the
 * number fails with ENOSYS, which is no connect, and only socketcall reaches
 * connect from a 32-bit caller.
 */
#ifdef __NR_ia32_connect
#define HAVE_NR32_CONNECT 1
#else
#define HAVE_NR32_CONNECT 0
#endif

/*
 * A syscall made through the 32-bit entry: i386 numbers and registers, arguments 32 bits wide.
 * Returns the hook whose work it did, SMITH_HOOK_MAX for none (sys_exit__64 alike).
 */
static unsigned int sys_exit__compat(struct pt_regs *regs, long id, long ret, u32 on)
{
	u32 bx = regs->bx, cx = regs->cx, dx = regs->dx, si = regs->si;

	switch (id) {
	case SMITH_NR32_CONNECT: /* connect(fd, addr, addrlen) */
		if (!HAVE_NR32_CONNECT || !(on & SMITH_HOOK_BIT(CONNECT)))
			break;
		smith_connect_exit((int)bx, cx, dx, ret, SMITH_CONNECT_COMPAT, SMITH_VIA_CONNECT);
		return SMITH_HOOK_CONNECT;
	case SMITH_NR32_SOCKETCALL: /* socketcall(call, args) */
		if (!(on & SMITH_HOOK_BIT(CONNECT)) || bx != SMITH_SOCKETCALL_CONNECT)
			break;
		smith_connect_socketcall_exit(cx, ret);
		return SMITH_HOOK_CONNECT;
	case SMITH_NR32_EXECVE:		  /* execve(filename, argv, envp) */
		smith_compat_exec_take(); /* a failed exec's mark (exec.c) */
		if (!(on & SMITH_HOOK_BIT(EXECVE)) || ret >= 0)
			break;
		smith_exec_failed(ret, bx, cx, dx, true, SMITH_HOOK_EXECVE);
		return SMITH_HOOK_EXECVE;
	case SMITH_NR32_EXECVEAT: /* execveat(dirfd, filename, argv, envp, flags) */
		smith_compat_exec_take();
		if (!(on & SMITH_HOOK_BIT(EXECVEAT)) || ret >= 0)
			break;
		smith_exec_failed(ret, cx, dx, si, true, SMITH_HOOK_EXECVEAT);
		return SMITH_HOOK_EXECVEAT;
	case SMITH_NR32_INIT_MODULE: /* init_module(umod, len, uargs) */
		smith_module_exit(SMITH_HOOK_INIT_MODULE, ret, -1, dx, true);
		return on & SMITH_HOOK_BIT(INIT_MODULE) ? SMITH_HOOK_INIT_MODULE : SMITH_HOOK_MAX;
	case SMITH_NR32_FINIT_MODULE: /* finit_module(fd, uargs, flags) */
		smith_module_exit(SMITH_HOOK_FINIT_MODULE, ret, (int)bx, cx, true);
		return on & SMITH_HOOK_BIT(FINIT_MODULE) ? SMITH_HOOK_FINIT_MODULE : SMITH_HOOK_MAX;
	}
	return SMITH_HOOK_MAX;
}

static unsigned int sys_exit__64(struct pt_regs *regs, long id, long ret, u32 on)
{
	switch (id) {
	case SMITH_NR_CONNECT: /* connect(fd, addr, addrlen) */
		if (!(on & SMITH_HOOK_BIT(CONNECT)))
			break;
		smith_connect_exit((int)regs->di, regs->si, (u32)regs->dx, ret, 0, SMITH_VIA_CONNECT);
		return SMITH_HOOK_CONNECT;
	case SMITH_NR_EXECVE: /* execve(filename, argv, envp) */
		if (!(on & SMITH_HOOK_BIT(EXECVE)) || ret >= 0)
			break;
		smith_exec_failed(ret, regs->di, regs->si, regs->dx, false, SMITH_HOOK_EXECVE);
		return SMITH_HOOK_EXECVE;
	case SMITH_NR_EXECVEAT: /* execveat(dirfd, filename, argv, envp, flags) */
		if (!(on & SMITH_HOOK_BIT(EXECVEAT)) || ret >= 0)
			break;
		smith_exec_failed(ret, regs->si, regs->dx, regs->r10, false, SMITH_HOOK_EXECVEAT);
		return SMITH_HOOK_EXECVEAT;
	case SMITH_NR_INIT_MODULE: /* init_module(umod, len, uargs) */
		smith_module_exit(SMITH_HOOK_INIT_MODULE, ret, -1, regs->dx, false);
		return on & SMITH_HOOK_BIT(INIT_MODULE) ? SMITH_HOOK_INIT_MODULE : SMITH_HOOK_MAX;
	case SMITH_NR_FINIT_MODULE: /* finit_module(fd, uargs, flags) */
		smith_module_exit(SMITH_HOOK_FINIT_MODULE, ret, (int)regs->di, regs->si, false);
		return on & SMITH_HOOK_BIT(FINIT_MODULE) ? SMITH_HOOK_FINIT_MODULE : SMITH_HOOK_MAX;
	}
	return SMITH_HOOK_MAX;
}

void smith_tp_sys_exit(void *data, struct pt_regs *regs, long ret)
{
	long id = regs->orig_ax;
	unsigned int hook;
	u64 start;
	u32 on;

	/* Every syscall in the system passes here: leave at once unless it is ours, in either numbering. */
	switch (id) {
		SMITH_HOOKED_NR_CASES break;
	default: return;
	}
	on = READ_ONCE(smith_hooks_on);
	if (!on)
		return;
	smith_enter();
	/* Tracepoint probes run with preemption disabled on these kernels; the scratch buffers need it. */
	preempt_disable();
	start = smith_timing_start();
	if (smith_in_compat_syscall())
		hook = sys_exit__compat(regs, id, ret, on);
	else
		hook = sys_exit__64(regs, id, ret, on);
	smith_timing_add(hook, start);
	preempt_enable();
	smith_leave();
}

/*
 * How the current task came to start a TCP connection (enum smith_connect_via),
 * from the syscall it is in: *in_connect is set when that is connect(2), i386
 * connect or socketcall(SYS_CONNECT), which sys_exit reports. An io_uring
 * worker (PF_IO_WORKER, 5.12+) or io_uring_enter is io_uring; sendto, sendmsg
 * and sendmmsg (MSG_FASTOPEN), in either numbering or through socketcall, are
 * SENDTO; a kernel thread, or any other syscall, is OTHER. The
 * registers are the ones saved at syscall entry: the kernel keeps orig_ax
 * on every path, and bx (socketcall's call) on the slow path that the sys_exit
 * probe puts every task on (a 3.10 fast path leaves bx unsaved).
 */
u16 smith_connect_via_current(bool *in_connect)
{
	struct pt_regs *regs = smith_user_regs();
	long id = regs->orig_ax;

	*in_connect = false;
	if (current->flags & PF_KTHREAD)
		return SMITH_VIA_OTHER;
#ifdef PF_IO_WORKER
	if (current->flags & PF_IO_WORKER)
		return SMITH_VIA_IO_URING;
#endif
	if (id == SMITH_NR_IO_URING_ENTER)
		return SMITH_VIA_IO_URING;
	if (smith_in_compat_syscall()) {
		u32 call = regs->bx;

		switch (id) {
		case SMITH_NR32_CONNECT: *in_connect = HAVE_NR32_CONNECT; break;
		case SMITH_NR32_SENDTO:
		case SMITH_NR32_SENDMSG:
		case SMITH_NR32_SENDMMSG: return SMITH_VIA_SENDTO;
		case SMITH_NR32_SOCKETCALL:
			if (call == SMITH_SOCKETCALL_CONNECT)
				*in_connect = true;
			else if (call == SMITH_SOCKETCALL_SENDTO || call == SMITH_SOCKETCALL_SENDMSG ||
				 call == SMITH_SOCKETCALL_SENDMMSG)
				return SMITH_VIA_SENDTO;
			break;
		}
		return *in_connect ? SMITH_VIA_CONNECT : SMITH_VIA_OTHER;
	}
	switch (id) {
	case SMITH_NR_CONNECT: *in_connect = true; return SMITH_VIA_CONNECT;
	case SMITH_NR_SENDTO:
	case SMITH_NR_SENDMSG:
	case SMITH_NR_SENDMMSG: return SMITH_VIA_SENDTO;
	}
	return SMITH_VIA_OTHER;
}

/* The event table's numbers are this kernel's (x86_64 always; i386 where its header is there). */
static void __maybe_unused syscall__check_numbers(void)
{
	BUILD_BUG_ON(SMITH_NR_EXECVE != __NR_execve);
	BUILD_BUG_ON(SMITH_NR_CONNECT != __NR_connect);
	BUILD_BUG_ON(SMITH_NR_INIT_MODULE != __NR_init_module);
	BUILD_BUG_ON(SMITH_NR_FINIT_MODULE != __NR_finit_module);
	BUILD_BUG_ON(SMITH_NR_SENDTO != __NR_sendto || SMITH_NR_SENDMSG != __NR_sendmsg ||
		     SMITH_NR_SENDMMSG != __NR_sendmmsg);
#ifdef __NR_execveat
	BUILD_BUG_ON(SMITH_NR_EXECVEAT != __NR_execveat);
#endif
#ifdef __NR_io_uring_enter
	BUILD_BUG_ON(SMITH_NR_IO_URING_ENTER != __NR_io_uring_enter);
#endif
#ifdef CONFIG_IA32_EMULATION
	BUILD_BUG_ON(SMITH_NR32_EXECVE != __NR_ia32_execve);
	BUILD_BUG_ON(SMITH_NR32_SOCKETCALL != __NR_ia32_socketcall);
	BUILD_BUG_ON(SMITH_NR32_INIT_MODULE != __NR_ia32_init_module);
	BUILD_BUG_ON(SMITH_NR32_FINIT_MODULE != __NR_ia32_finit_module);
	BUILD_BUG_ON(SMITH_NR32_SENDMMSG != __NR_ia32_sendmmsg);
#ifdef __NR_ia32_connect
	BUILD_BUG_ON(SMITH_NR32_CONNECT != __NR_ia32_connect);
	BUILD_BUG_ON(SMITH_NR32_SENDTO != __NR_ia32_sendto || SMITH_NR32_SENDMSG != __NR_ia32_sendmsg);
#endif
#ifdef __NR_ia32_execveat
	BUILD_BUG_ON(SMITH_NR32_EXECVEAT != __NR_ia32_execveat);
#endif
#ifdef __NR_ia32_io_uring_enter
	BUILD_BUG_ON(SMITH_NR_IO_URING_ENTER != __NR_ia32_io_uring_enter);
#endif
#endif
}
