/* timer_setup() and from_timer() (4.15, 686fef928bba); before, setup_timer() with an unsigned long. */
#include <linux/timer.h>
void smith_conftest_fn(struct timer_list *t);
void smith_conftest_fn(struct timer_list *t) {}
void smith_conftest(struct timer_list *t);
void smith_conftest(struct timer_list *t)
{
	timer_setup(t, smith_conftest_fn, 0);
}
