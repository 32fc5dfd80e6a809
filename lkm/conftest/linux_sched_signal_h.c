/* <linux/sched/signal.h> split from <linux/sched.h> (4.11, c3edc4010e9d). */
#include <linux/sched/signal.h>
struct pid *smith_conftest(struct task_struct *t);
struct pid *smith_conftest(struct task_struct *t)
{
	return task_pgrp(t);
}
