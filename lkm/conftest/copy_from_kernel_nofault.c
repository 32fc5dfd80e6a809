/* copy_from_kernel_nofault() (5.8, renamed from probe_kernel_read). */
#include <linux/uaccess.h>
int smith_conftest(void *dst, const void *src);
int smith_conftest(void *dst, const void *src)
{
	return copy_from_kernel_nofault(dst, src, 8);
}
