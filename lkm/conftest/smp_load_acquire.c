/* smp_load_acquire()/smp_store_release() (3.14, 47933ad41a86). */
#include <linux/compiler.h>
#include <asm/barrier.h>
unsigned long smith_conftest(unsigned long *p);
unsigned long smith_conftest(unsigned long *p)
{
	smp_store_release(p, 1UL);
	return smp_load_acquire(p);
}
