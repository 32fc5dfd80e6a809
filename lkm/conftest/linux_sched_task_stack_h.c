/* <linux/sched/task_stack.h> (task_stack_page, behind task_pt_regs) split from <linux/sched.h> (4.11,
 * f3ac60671954). */
#include <linux/sched/task_stack.h>
void *smith_conftest(struct task_struct *t);
void *smith_conftest(struct task_struct *t)
{
	return task_stack_page(t);
}
