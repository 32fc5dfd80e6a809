/* READ_ONCE()/WRITE_ONCE() (3.19, 230fa253df63); before, ACCESS_ONCE(). */
#include <linux/compiler.h>
unsigned long smith_conftest(unsigned long *p);
unsigned long smith_conftest(unsigned long *p)
{
	WRITE_ONCE(*p, 1UL);
	return READ_ONCE(*p);
}
