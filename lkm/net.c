// SPDX-License-Identifier: GPL-2.0-only
/*
 * connect records, and the socket reads execve's fd descriptions share. Every
 * connect event first asks the process's budget (budget.c).
 *
 * connect(2), i386 connect and socketcall(SYS_CONNECT) are reported when the
 * call returns (the sys_exit probe, syscall.c), as bpf/smith.bpf.c's
 * connect__emit() reports them: for an AF_INET/AF_INET6 socket, TCP or UDP,
 * the result and the socket's source address and port, bound by then. When the
 * call worked (0) or is under way (-EINPROGRESS), the destination reported is
 * the one the socket holds: what the kernel connected, whatever the caller's
 * memory says (another thread may rewrite it during the call). After a failure
 * it is read from the caller's memory, and when that cannot be read the event
 * still goes out, saying the destination is not known.
 *
 * A TCP connection can also start without connect(): io_uring's
 * IORING_OP_CONNECT, sendto/sendmsg with MSG_FASTOPEN, or the kernel's own
 * sockets. Every TCP connection goes through SYN_SENT, so that transition is
 * reported too (inet_sock_set_state; a kprobe on tcp_set_state() before 4.16),
 * unless the task is inside one of the connect calls above, whose exit reports
 * it, on that socket. The kernel picks the source port just after entering SYN_SENT, so the
 * socket may not hold one yet: the record says what the socket holds then.
 */
#include <linux/kprobes.h>
#include <linux/ptrace.h>
#include <linux/hardirq.h>
#include <net/tcp_states.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/net.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#if IS_ENABLED(CONFIG_IPV6)
#include <linux/ipv6.h>
#endif
#include <linux/hash.h>
#include <linux/spinlock.h>
#include "smith.h"

/*
 * The socket that entered SYN_SENT inside a thread's connect call, kept for
 * the call's return, as bpf/smith.bpf.c's `connecting` map: the socket the
 * kernel is connecting, even when another thread has meanwhile pointed the fd
 * at another socket (dup2) or unmapped socketcall's argument block. A fixed
 * table, nothing allocated in a probe: a thread's slot is one of
 * CONNECTING_PROBE from its task pointer's hash. When those are all taken
 * (as many threads blocked in connect at once) the call finds its socket by
 * the fd, as a UDP connect always does. A kept socket is held (sock_hold)
 * until the call returns or the hooks are disarmed.
 */
#define CONNECTING_BITS	 12
#define CONNECTING_SLOTS (1u << CONNECTING_BITS)
#define CONNECTING_PROBE 16
struct smith_connecting {
	struct task_struct *task; /* NULL: free */
	struct sock *sk;
};
static struct smith_connecting connecting[CONNECTING_SLOTS];
static DEFINE_SPINLOCK(connecting_lock);
static atomic_t connecting_count = ATOMIC_INIT(0); /* slots taken: a connect's return skips the lock at 0 */

static void connecting__remember(struct sock *sk)
{
	unsigned long h = hash_ptr(current, CONNECTING_BITS);
	struct smith_connecting *slot = NULL;
	struct sock *old = NULL;
	unsigned int i;

	spin_lock(&connecting_lock);
	for (i = 0; i < CONNECTING_PROBE; i++) {
		struct smith_connecting *c = &connecting[(h + i) & (CONNECTING_SLOTS - 1)];

		if (c->task == current) {
			slot = c;
			old = c->sk;
			break;
		}
		if (!c->task && !slot)
			slot = c;
	}
	if (slot) {
		sock_hold(sk);
		if (!slot->task)
			atomic_inc(&connecting_count);
		slot->task = current;
		slot->sk = sk;
	}
	spin_unlock(&connecting_lock);
	if (old)
		sock_put(old);
}

/* The socket the current thread's connect call put in SYN_SENT, held, or NULL; forgotten either way. */
static struct sock *connecting__take(void)
{
	unsigned long h;
	struct sock *sk = NULL;
	unsigned int i;

	if (!atomic_read(&connecting_count))
		return NULL;
	h = hash_ptr(current, CONNECTING_BITS);
	spin_lock(&connecting_lock);
	for (i = 0; i < CONNECTING_PROBE; i++) {
		struct smith_connecting *c = &connecting[(h + i) & (CONNECTING_SLOTS - 1)];

		if (c->task == current) {
			sk = c->sk;
			c->task = NULL;
			c->sk = NULL;
			atomic_dec(&connecting_count);
			break;
		}
	}
	spin_unlock(&connecting_lock);
	return sk;
}

/*
 * A thread that ends (sched_process_exit) leaves no slot behind. Its connect
 * call has returned by then, unless the kernel killed it inside the call: the
 * slot would otherwise wait for the next task to get the same task_struct.
 */
void smith_connecting_forget(void)
{
	struct sock *sk = connecting__take();

	if (sk)
		sock_put(sk);
}

/* Lets go of every kept socket; no probe runs (disarm). */
void smith_connecting_release(void)
{
	unsigned int i;

	spin_lock(&connecting_lock);
	for (i = 0; i < CONNECTING_SLOTS; i++) {
		if (connecting[i].task)
			sock_put(connecting[i].sk);
		connecting[i].task = NULL;
		connecting[i].sk = NULL;
	}
	atomic_set(&connecting_count, 0);
	spin_unlock(&connecting_lock);
}

/*
 * The socket behind a file, or NULL. A socket inode's file on sockfs (an
 * internal mount) is a socket file whose private_data is the struct socket;
 * an O_PATH file of a socket has none.
 */
struct sock *smith_file_sock(struct file *file)
{
	struct socket *sock;

	if (!S_ISSOCK(file_inode(file)->i_mode) || !(file->f_path.mnt->mnt_flags & MNT_INTERNAL))
		return NULL;
	sock = file->private_data;
	return sock ? sock->sk : NULL;
}

/* Source address and port of a socket, as bound after connect. */
void smith_sock_source(struct sock *sk, u16 family, struct smith_inet *inet)
{
	inet->sport = inet_sk(sk)->inet_num;
	if (family == AF_INET) {
		memcpy(inet->saddr, &inet_sk(sk)->inet_rcv_saddr, 4);
		return;
	}
#if IS_ENABLED(CONFIG_IPV6)
#ifdef HAVE_SK_V6_RCV_SADDR
	memcpy(inet->saddr, &sk->sk_v6_rcv_saddr, 16);
#else
	if (inet6_sk(sk))
		memcpy(inet->saddr, &inet6_sk(sk)->rcv_saddr, 16);
#endif
#endif
}

/* Peer address and port of a connected socket. */
void smith_sock_dest(struct sock *sk, u16 family, struct smith_inet *inet)
{
	inet->dport = ntohs(inet_sk(sk)->inet_dport);
	if (family == AF_INET) {
		memcpy(inet->daddr, &inet_sk(sk)->inet_daddr, 4);
		return;
	}
#if IS_ENABLED(CONFIG_IPV6)
#ifdef HAVE_SK_V6_RCV_SADDR
	memcpy(inet->daddr, &sk->sk_v6_daddr, 16);
#else
	if (inet6_sk(sk))
		memcpy(inet->daddr, &inet6_sk(sk)->daddr, 16);
#endif
#endif
}

/* The budget's word, then the record: the destination from the socket or the caller's sockaddr. */
static void connect__emit(struct sock *sk, u16 family, u16 protocol, const struct sockaddr_in6 *sa, long ret,
			  u32 flags, u16 via)
{
	struct smith_connect *rec;

	if (!smith_budget_connect())
		return;
	rec = smith_ring_reserve(sizeof(*rec), SMITH_HOOK_CONNECT);
	if (!rec)
		return;
	smith_hdr_fill(&rec->hdr, SMITH_REC_CONNECT, sizeof(*rec), sizeof(*rec), ret);
	smith_pid_tree_fill(&rec->pid_tree);
	memset(&rec->inet, 0, sizeof(rec->inet));
	rec->inet.protocol = protocol;
	if (flags & SMITH_CONNECT_DADDR_SOCKET) {
		rec->inet.family = family;
		smith_sock_dest(sk, family, &rec->inet);
	} else if (!(flags & SMITH_CONNECT_DADDR_UNKNOWN)) {
		rec->inet.family = sa->sin6_family;
		rec->inet.dport = ntohs(sa->sin6_port);
		if (sa->sin6_family == AF_INET)
			memcpy(rec->inet.daddr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		else
			memcpy(rec->inet.daddr, &sa->sin6_addr, 16);
	} else {
		rec->inet.family = family;
	}
	smith_sock_source(sk, rec->inet.family, &rec->inet);
	rec->flags = flags;
	rec->via = via;
	rec->pad0 = 0;
	smith_ring_commit(rec);
}

/*
 * A connect on `fd` that returned `ret` (sys_exit; preemption disabled): on
 * the socket the call put in SYN_SENT (TCP), else on the one the fd names now.
 * `uaddr` and `addrlen` are the caller's arguments, read only after a failure.
 */
void smith_connect_exit(int fd, unsigned long uaddr, u32 addrlen, long ret, u32 flags, u16 via)
{
	struct sockaddr_in6 sa;
	bool from_socket = ret == 0 || ret == -EINPROGRESS;
	struct sock *held = connecting__take();
	struct file *file = NULL;
	struct sock *sk = held;
	u16 protocol, family;

	if (!sk) {
		if (fd < 0)
			return;
		file = smith_fd_get(fd);
		if (!file)
			return;
		sk = smith_file_sock(file);
		if (!sk)
			goto put;
	}
	protocol = sk->sk_protocol;
	family = sk->sk_family;
	if ((protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) || (family != AF_INET && family != AF_INET6))
		goto put;
	memset(&sa, 0, sizeof(sa));
	if (from_socket) {
		/* A UDP "connect" to AF_UNSPEC dissolves the association: no destination, no event. */
		if (!inet_sk(sk)->inet_dport)
			goto put;
		flags |= SMITH_CONNECT_DADDR_SOCKET;
	} else {
		flags |= SMITH_CONNECT_DADDR_UNKNOWN;
		if (addrlen > sizeof(sa))
			addrlen = sizeof(sa);
		if (addrlen >= sizeof(sa.sin6_family) &&
		    !smith_uread(&sa, (const void __user *)uaddr, addrlen)) {
			if (sa.sin6_family != AF_INET && sa.sin6_family != AF_INET6)
				goto put; /* not a connection it could have made */
			flags &= ~SMITH_CONNECT_DADDR_UNKNOWN;
		}
	}
	connect__emit(sk, family, protocol, &sa, ret, flags, via);
put:
	if (file)
		smith_fd_put(file);
	if (held)
		sock_put(held);
}

/*
 * socketcall(SYS_CONNECT, args) of a 32-bit caller: connect's arguments are
 * three 32-bit words in the caller's memory (fd, address, length), read after
 * the call, as the BPF program reads them. A block unmapped by then leaves no
 * fd, but a TCP socket the call put in SYN_SENT is still known.
 */
void smith_connect_socketcall_exit(unsigned long args, long ret)
{
	u32 a[3];

	if (smith_uread(a, (const void __user *)args, sizeof(a))) {
		a[0] = (u32)-1;
		a[1] = a[2] = 0;
	}
	smith_connect_exit((int)a[0], a[1], a[2], ret, SMITH_CONNECT_COMPAT, SMITH_VIA_SOCKETCALL);
}

/*
 * A TCP socket enters SYN_SENT in the current task (preemption disabled):
 * reported unless the task is inside a connect call, whose sys_exit reports
 * it. Everything comes from the socket: the kernel holds it locked and has
 * set the destination and the source address; the source port may still be 0.
 */
void smith_connect_syn_sent(const struct sock *csk)
{
	struct sock *sk = (struct sock *)csk;
	bool in_connect;
	u16 family, via;
	u32 flags = SMITH_CONNECT_DADDR_SOCKET;
	u64 start;

	if (!smith_hook_on(SMITH_HOOK_CONNECT) || in_interrupt() || !sk)
		return;
	family = sk->sk_family;
	if (sk->sk_protocol != IPPROTO_TCP || (family != AF_INET && family != AF_INET6))
		return;
	via = smith_connect_via_current(&in_connect);
	if (in_connect) {
		connecting__remember(sk); /* for the connect call's return, which reports it */
		return;
	}
	start = smith_timing_start();
	if (smith_in_compat_syscall())
		flags |= SMITH_CONNECT_COMPAT;
	connect__emit(sk, family, IPPROTO_TCP, NULL, 0, flags, via);
	smith_timing_add(SMITH_HOOK_CONNECT, start);
}

/* Every TCP state change (4.16+): the new state is SYN_SENT when a connection starts. */
void smith_tp_inet_sock_set_state(void *data, const struct sock *sk, const int oldstate, const int newstate)
{
	if (newstate != TCP_SYN_SENT)
		return;
	smith_enter();
	preempt_disable();
	smith_connect_syn_sent(sk);
	preempt_enable();
	smith_leave();
}

#ifndef HAVE_TRACE_INET_SOCK_SET_STATE
/* tcp_set_state(sk, state), before 4.16: the kprobe that stands in for inet_sock_set_state (hooks.c). */
int smith_kp_tcp_set_state_pre(struct kprobe *p, struct pt_regs *regs)
{
	if ((int)regs->si != TCP_SYN_SENT)
		return 0;
	smith_enter();
	smith_connect_syn_sent((const struct sock *)regs->di);
	smith_leave();
	return 0;
}
#endif
