/* copy_from_user_nofault() (5.8); before it, __copy_from_user_inatomic() under pagefault_disable(). */
#include <linux/uaccess.h>
int smith_conftest(void *dst, const void __user *src);
int smith_conftest(void *dst, const void __user *src)
{
	return copy_from_user_nofault(dst, src, 8);
}
