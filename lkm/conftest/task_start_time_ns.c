/* task_struct.start_time is u64 nanoseconds (3.17, ccbf62d8a284); before, a struct timespec. */
#include <linux/sched.h>
u64 smith_conftest(struct task_struct *t);
u64 smith_conftest(struct task_struct *t)
{
	u64 *p = &t->start_time;

	return *p;
}
