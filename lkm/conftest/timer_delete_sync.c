/* timer_delete_sync() (6.2, bb663f0f3c39; del_timer_sync() went away in 6.15). */
#include <linux/timer.h>
int smith_conftest(struct timer_list *t);
int smith_conftest(struct timer_list *t)
{
	return timer_delete_sync(t);
}
