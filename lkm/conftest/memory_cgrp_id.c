/* The memory controller's subsystem id is memory_cgrp_id (3.15, 073219e995b4); before, mem_cgroup_subsys_id.
 */
#include <linux/cgroup.h>
int smith_conftest(void);
int smith_conftest(void)
{
	return memory_cgrp_id;
}
