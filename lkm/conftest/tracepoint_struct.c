/*
 * tracepoint_probe_register() takes a struct tracepoint, found with
 * for_each_kernel_tracepoint() (3.15, de7b2973903c). Before, it took the
 * tracepoint's name.
 */
#include <linux/tracepoint.h>
void smith_conftest_probe(void *data);
void smith_conftest_probe(void *data) {}
void smith_conftest_fn(struct tracepoint *tp, void *priv);
void smith_conftest_fn(struct tracepoint *tp, void *priv)
{
	tracepoint_probe_register(tp, (void *)smith_conftest_probe, priv);
}
void smith_conftest(void);
void smith_conftest(void)
{
	for_each_kernel_tracepoint(smith_conftest_fn, NULL);
}
