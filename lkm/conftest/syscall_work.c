/* thread_info.syscall_work holds the flag of syscall tracepoints (5.11, 524666cb5de7, the generic entry's
 * SYSCALL_WORK_SYSCALL_TRACEPOINT); before, it was the thread flag TIF_SYSCALL_TRACEPOINT. */
#include <linux/sched.h>
#include <linux/thread_info.h>
int smith_conftest(struct task_struct *t);
int smith_conftest(struct task_struct *t)
{
	return test_task_syscall_work(t, SYSCALL_TRACEPOINT);
}
