// SPDX-License-Identifier: GPL-2.0-only
/*
 * connect records, and the socket reads execve's fd descriptions share.
 *
 * connect(fd, addr, addrlen): the entry handler copies the address the
 * caller gave (at most a sockaddr_in6, as the BPF program reads it) and
 * keeps the call for AF_INET and AF_INET6; the return handler adds the
 * result, the socket's protocol (TCP and UDP only) and its source address
 * and port, bound by then.
 *
 * When the call worked (0) or is under way (-EINPROGRESS), the destination
 * reported is the one the socket holds: what the kernel connected, whatever
 * the caller's memory says (another thread may rewrite it during the call).
 * After a failure it is the address the caller gave, copied at entry. The
 * entry handler cannot fault user pages in: when the address sits in a page
 * the caller has not touched yet, its read fails, the call is kept anyway,
 * and the return handler reads again (the syscall has faulted the page in by
 * then). Should that fail too, the event still goes out, saying the
 * destination is not known: a call the kernel made is never lost because
 * user memory could not be read at that moment.
 */
#include <linux/kprobes.h>
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
#include "smith.h"

struct connect_args {
	const void __user *uaddr; /* the caller's address */
	int fd;
	u32 addrlen; /* bytes of it to read: at most a sockaddr_in6 */
	u32 have_sa; /* sa holds what the caller gave */
	u32 pad0;
	struct sockaddr_in6 sa; /* as given, zero past addrlen */
};

const size_t smith_connect_data_size = sizeof(struct connect_args);

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

int smith_connect_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct connect_args *a = (struct connect_args *)ri->data;
	struct pt_regs *u = smith_user_regs();
	int fd = (int)u->di;
	const void __user *uaddr = (const void __user *)u->si;
	u32 addrlen = (u32)u->dx;
	int keep = 1;

	smith_enter();
	if (addrlen < sizeof(a->sa.sin6_family) || fd < 0)
		goto out;
	if (addrlen > sizeof(a->sa))
		addrlen = sizeof(a->sa);
	a->uaddr = uaddr;
	a->fd = fd;
	a->addrlen = addrlen;
	a->have_sa = !smith_uread(&a->sa, uaddr, addrlen);
	if (a->have_sa && a->sa.sin6_family != AF_INET && a->sa.sin6_family != AF_INET6)
		goto out;
	keep = 0;
	smith_pending_inc();
out:
	smith_leave();
	return keep; /* non-zero: no return probe for this call */
}

int smith_connect_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct connect_args *a = (struct connect_args *)ri->data;
	long ret = regs_return_value(regs);
	bool from_socket = ret == 0 || ret == -EINPROGRESS;
	struct smith_connect *rec;
	struct file *file;
	struct sock *sk;
	u16 protocol, family;
	u32 flags = 0;

	smith_enter();
	smith_pending_dec();
	file = smith_fd_get(a->fd);
	if (!file)
		goto out;
	sk = smith_file_sock(file);
	if (!sk)
		goto put;
	protocol = sk->sk_protocol;
	family = sk->sk_family;
	if ((protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) || (family != AF_INET && family != AF_INET6))
		goto put;
	if (from_socket) {
		/* A UDP "connect" to AF_UNSPEC dissolves the association: no destination, no event. */
		if (!inet_sk(sk)->inet_dport)
			goto put;
		flags |= SMITH_CONNECT_DADDR_SOCKET;
	} else {
		if (!a->have_sa) /* not readable at entry; the syscall has faulted the page in since */
			a->have_sa = !smith_uread(&a->sa, a->uaddr, a->addrlen);
		if (a->have_sa && a->sa.sin6_family != AF_INET && a->sa.sin6_family != AF_INET6)
			goto put; /* not a connection it could have made */
		if (!a->have_sa)
			flags |= SMITH_CONNECT_DADDR_UNKNOWN;
	}

	preempt_disable();
	smith_missed_fold();
	rec = smith_ring_reserve(sizeof(*rec), SMITH_HOOK_CONNECT);
	if (rec) {
		smith_hdr_fill(&rec->hdr, SMITH_REC_CONNECT, sizeof(*rec), sizeof(*rec), ret);
		memset(&rec->inet, 0, sizeof(rec->inet));
		rec->inet.protocol = protocol;
		if (from_socket) {
			rec->inet.family = family;
			smith_sock_dest(sk, family, &rec->inet);
		} else if (a->have_sa) {
			rec->inet.family = a->sa.sin6_family;
			rec->inet.dport = ntohs(a->sa.sin6_port);
			if (a->sa.sin6_family == AF_INET)
				memcpy(rec->inet.daddr, &((const struct sockaddr_in *)&a->sa)->sin_addr, 4);
			else
				memcpy(rec->inet.daddr, &a->sa.sin6_addr, 16);
		} else {
			rec->inet.family = family;
		}
		smith_sock_source(sk, rec->inet.family, &rec->inet);
		rec->flags = flags;
		rec->via = SMITH_VIA_CONNECT;
		rec->pad0 = 0;
		smith_ring_commit(rec);
	}
	preempt_enable();
put:
	smith_fd_put(file);
out:
	smith_leave();
	return 0;
}
