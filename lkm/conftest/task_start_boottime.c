/* task_struct.start_boottime, the boot-based start in ns (5.5, cf0cb7bba0d2); before, real_start_time (u64 ns
 * since 3.17, a struct timespec before). */
#include <linux/sched.h>
u64 smith_conftest(struct task_struct *t);
u64 smith_conftest(struct task_struct *t)
{
	u64 *p = &t->start_boottime;

	return *p;
}
