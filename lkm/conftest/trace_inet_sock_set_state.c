/* The inet_sock_set_state tracepoint, on every TCP state change (4.16, 563e0bb0dc74; tcp_set_state
 * before). Without it, a kprobe on tcp_set_state() stands in. */
#include <linux/tracepoint.h>
#include <trace/events/sock.h>
int smith_conftest(void);
int smith_conftest(void)
{
	return sizeof(&register_trace_inet_sock_set_state);
}
