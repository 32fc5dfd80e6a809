/* kernfs_node.id is a u64, the cgroup id (5.5, 67c0496e87d1); before, union kernfs_node_id. */
#include <linux/kernfs.h>
u64 smith_conftest(struct kernfs_node *kn);
u64 smith_conftest(struct kernfs_node *kn)
{
	u64 *p = &kn->id;

	return *p;
}
