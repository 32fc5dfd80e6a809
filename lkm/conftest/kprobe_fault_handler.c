/* struct kprobe.fault_handler (removed in 5.14, ec6aba3d2be1). While it existed, a page fault inside a
 * probe's handler also counted in kprobe.nmissed. */
#include <linux/kprobes.h>
void smith_conftest(struct kprobe *kp);
void smith_conftest(struct kprobe *kp)
{
	kp->fault_handler = NULL;
}
