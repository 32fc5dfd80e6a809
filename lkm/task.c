// SPDX-License-Identifier: GPL-2.0-only
/*
 * struct smith_task and the record header, with the meaning bpf/task.bpf.h
 * gives each field: ids as seen from the initial pid namespace, the
 * credentials of real_cred, the thread group leader's boot-based start, the
 * namespaces' inode numbers, the audit session id, the cgroup v2 id.
 * Always filled for `current`, the task making the hooked call.
 */
#include <linux/sched.h>
#include <linux/cred.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/nsproxy.h>
#include <linux/utsname.h>
#include <linux/audit.h>
#include <linux/cgroup.h>
#ifdef HAVE_CGROUP_KN
#include <linux/kernfs.h>
#endif
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/ktime.h>
#include <linux/hrtimer.h>
#include <linux/time.h>
#include <linux/ptrace.h>
#include <asm/processor.h>
#include <net/net_namespace.h>
#include "smith.h"

/*
 * struct mnt_namespace is private to fs/ (fs/mount.h), and its layout moved
 * twice (ns_common in 3.19, ns_common first in 5.11). The offset of its
 * inode number is found once at load instead: the inode of /proc/self/ns/mnt
 * is that number, and it is looked for among the structure's first words.
 * -1: not found; mntns is then reported as 0.
 */
static int smith_mntns_inum_offset = -1;
#define SMITH_MNTNS_SCAN_WORDS 16

static void task__find_mntns_offset(void)
{
	struct path path;
	unsigned long ino;
	u32 words[SMITH_MNTNS_SCAN_WORDS];
	void *mnt_ns;
	int i;

	if (kern_path("/proc/self/ns/mnt", LOOKUP_FOLLOW, &path)) {
		pr_warn("cannot resolve /proc/self/ns/mnt: mntns will be reported as 0\n");
		return;
	}
	ino = path.dentry->d_inode->i_ino;
	path_put(&path);
	mnt_ns = current->nsproxy ? (void *)current->nsproxy->mnt_ns : NULL;
	if (!mnt_ns || smith_kread(words, mnt_ns, sizeof(words)))
		return;
	for (i = 0; i < SMITH_MNTNS_SCAN_WORDS; i++) {
		if (words[i] == (u32)ino) {
			smith_mntns_inum_offset = i * sizeof(u32);
			return;
		}
	}
	pr_warn("mount namespace inode %lu not found in struct mnt_namespace: mntns will be reported as 0\n",
		ino);
}

int smith_task_init(void)
{
	task__find_mntns_offset();
	return 0;
}

/* A task's start, ns since boot (CLOCK_BOOTTIME): what /proc/PID/stat's starttime counts. */
u64 smith_task_start(struct task_struct *task)
{
#if defined(HAVE_TASK_START_BOOTTIME)
	return task->start_boottime;
#elif defined(HAVE_TASK_START_TIME_NS)
	return task->real_start_time;
#else
	return timespec_to_ns(&task->real_start_time);
#endif
}

/* The cgroup v2 id, as bpf_get_current_cgroup_id() gives it. Under rcu_read_lock(). */
static u64 task__cgroup_id(struct task_struct *task)
{
#ifdef HAVE_CSS_SET_DFL_CGRP
	struct css_set *cset = rcu_dereference(task->cgroups);
	struct cgroup *cg = cset ? cset->dfl_cgrp : NULL;

	if (!cg || !cg->kn)
		return 0;
#ifdef HAVE_KERNFS_ID_U64
	return cg->kn->id;
#else
	return cg->kn->id.id;
#endif
#else
	return 0; /* no cgroup v2 */
#endif
}

static u32 task__mntns(struct nsproxy *ns)
{
	u32 inum;

	if (smith_mntns_inum_offset < 0 || !ns || !ns->mnt_ns)
		return 0;
	if (smith_kread(&inum, (u8 *)ns->mnt_ns + smith_mntns_inum_offset, sizeof(inum)))
		return 0;
	return inum;
}

/*
 * Copies a string the current task keeps alive (its comm, its UTS name):
 * plain loads, cut at size - 1 bytes, zero-padded, as bpf_get_current_comm()
 * and bpf_probe_read_kernel_str() into a zeroed record leave them.
 */
static void task__copy_str(char *dst, const char *src, size_t size)
{
	size_t i;

	for (i = 0; i < size - 1; i++) {
		char c = READ_ONCE(src[i]);

		if (!c)
			break;
		dst[i] = c;
	}
	/* the rest of dst is zero already (its callers clear the struct) */
}

static void task__fill(struct smith_task *t)
{
	struct task_struct *task = current;
	struct pid_namespace *pidns;
	const struct cred *cred;
	struct nsproxy *ns;

	memset(t, 0, sizeof(*t));
	rcu_read_lock();
	t->start_time = smith_task_start(task->group_leader);
	t->cgroup_id = task__cgroup_id(task);
	t->pid = task->tgid;
	t->tid = task->pid;
	t->ppid = rcu_dereference(task->real_parent)->tgid;
	t->pgid = pid_nr(task_pgrp(task));
	t->sid = pid_nr(task_session(task));
	cred = rcu_dereference(task->real_cred);
	t->uid = __kuid_val(cred->uid);
	t->gid = __kgid_val(cred->gid);
	t->euid = __kuid_val(cred->euid);
	t->egid = __kgid_val(cred->egid);
	t->sessionid = audit_get_sessionid(task);
	pidns = task_active_pid_ns(task);
	t->pidns = pidns ? smith_ns_inum(pidns) : 0;
	ns = task->nsproxy;
	if (ns) {
		t->mntns = task__mntns(ns);
		t->netns = ns->net_ns ? smith_ns_inum(ns->net_ns) : 0;
		if (ns->uts_ns)
			task__copy_str(t->nodename, ns->uts_ns->name.nodename,
				       min(sizeof(t->nodename), sizeof(ns->uts_ns->name.nodename)));
	}
	rcu_read_unlock();
	task__copy_str(t->comm, task->comm, sizeof(t->comm));
}

/*
 * The current process and its real parents, each by its thread group leader
 * (abi.h, struct smith_pid_tree; bpf/task.bpf.h walks them alike). Tasks
 * reached through real_parent under rcu_read_lock() stay readable until it
 * ends, whether or not they exit meanwhile.
 */
void smith_pid_tree_fill(struct smith_pid_tree *t)
{
	struct task_struct *p, *parent;
	unsigned int i;

	memset(t, 0, sizeof(*t));
	t->flags = SMITH_PID_TREE_TRUNCATED;
	rcu_read_lock();
	p = current->group_leader;
	for (i = 0; i < SMITH_PID_TREE_MAX; i++) {
		t->pid[i] = p->tgid;
		task__copy_str(t->comm[i], p->comm, sizeof(t->comm[i]));
		t->depth = i + 1;
		if (p->tgid ==
		    1) { /* the host's init: past a pid namespace's init too, which anyone can make */
			t->flags = 0;
			break;
		}
		parent = rcu_dereference(p->real_parent);
		if (!parent || !parent->tgid) { /* kthreadd's parent is the idle task, pid 0 */
			t->flags = 0;
			break;
		}
		p = READ_ONCE(parent->group_leader);
	}
	rcu_read_unlock();
}

void smith_hdr_fill(struct smith_rec_hdr *h, u16 type, u16 fixed, u32 size, s64 retval)
{
	h->type = type;
	h->abi = SMITH_ABI_VERSION;
	h->size = size;
	h->fixed = fixed;
	memset(h->pad0, 0, sizeof(h->pad0));
	h->ts = ktime_to_ns(ktime_get_boottime());
	h->retval = retval;
	task__fill(&h->task);
}

/* A reference to the file behind `fd` of the current task (O_PATH files included), or NULL. */
struct file *smith_fd_get(unsigned int fd)
{
	return fget_raw(fd);
}

void smith_fd_put(struct file *file)
{
	fput(file);
}

/* The registers saved at syscall entry: the call's arguments, whatever the syscall wrapper. */
struct pt_regs *smith_user_regs(void)
{
	return task_pt_regs(current);
}

/*
 * Leaf name of the cgroup that carries a container's id: the memory
 * controller's on v1/hybrid hosts (where runtimes place tasks), else the
 * default (v2) hierarchy's, as bpf/core_fixes.bpf.h picks it. Under
 * rcu_read_lock(); NULL when there is none.
 */
const char *smith_cgroup_leaf_name(void)
{
	struct css_set *cset = rcu_dereference(current->cgroups);
	struct cgroup *cg = NULL;

	if (!cset)
		return NULL;
#ifdef CONFIG_MEMCG
	if (cset->subsys[SMITH_MEMCG_ID])
		cg = cset->subsys[SMITH_MEMCG_ID]->cgroup;
#endif
#ifdef HAVE_CSS_SET_DFL_CGRP
	if (!cg)
		cg = cset->dfl_cgrp;
#endif
	if (!cg)
		return NULL;
#ifdef HAVE_CGROUP_KN
	return cg->kn ? cg->kn->name : NULL;
#else
	{
		struct cgroup_name *name = rcu_dereference(cg->name);

		return name ? name->name : NULL;
	}
#endif
}
