/* access_ok(addr, size) without the type argument (5.0, 96d4f267e40f). */
#include <linux/uaccess.h>
int smith_conftest(const void __user *p);
int smith_conftest(const void __user *p)
{
	return access_ok(p, 8);
}
