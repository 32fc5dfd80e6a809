/* __poll_t and EPOLLIN for file_operations.poll (4.16, e6c8adca20ba). */
#include <linux/poll.h>
__poll_t smith_conftest(void);
__poll_t smith_conftest(void)
{
	return EPOLLIN | EPOLLRDNORM;
}
