/* READ_ONCE()/WRITE_ONCE() (3.19, 230fa253df63); before, ACCESS_ONCE(). Some kernels' READ_ONCE
 * uses smp_read_barrier_depends() (asm/barrier.h), which linux/compiler.h alone does not declare. */
#include <linux/compiler.h>
#include <asm/barrier.h>
unsigned long smith_conftest(unsigned long *p);
unsigned long smith_conftest(unsigned long *p)
{
	WRITE_ONCE(*p, 1UL);
	return READ_ONCE(*p);
}
