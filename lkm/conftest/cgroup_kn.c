/* cgroups live in kernfs: cgroup.kn (3.15, 2bd59d48ebfb); before, cgroup.name (struct cgroup_name). */
#include <linux/cgroup.h>
#include <linux/kernfs.h>
const char *smith_conftest(struct cgroup *cg);
const char *smith_conftest(struct cgroup *cg)
{
	return cg->kn->name;
}
