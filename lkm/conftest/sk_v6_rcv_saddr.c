/* IPv6 socket addresses in sock_common: sk_v6_rcv_saddr, sk_v6_daddr (3.13, efe4208f47f9); before, in
 * ipv6_pinfo. */
#include <net/sock.h>
const void *smith_conftest(struct sock *sk);
const void *smith_conftest(struct sock *sk)
{
	return &sk->sk_v6_rcv_saddr;
}
