/* css_set.dfl_cgrp, the task's cgroup on the v2 hierarchy (4.4, 3e48930cc9a8 era). */
#include <linux/cgroup.h>
struct cgroup *smith_conftest(struct css_set *cset);
struct cgroup *smith_conftest(struct css_set *cset)
{
	return cset->dfl_cgrp;
}
