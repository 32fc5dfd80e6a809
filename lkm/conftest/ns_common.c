/* Namespaces embed struct ns_common with .inum (3.19, 435d5f4bb2cc); before, proc_inum. */
#include <linux/pid_namespace.h>
#include <linux/utsname.h>
#include <net/net_namespace.h>
unsigned int smith_conftest(struct pid_namespace *p, struct net *n);
unsigned int smith_conftest(struct pid_namespace *p, struct net *n)
{
	return p->ns.inum + n->ns.inum;
}
