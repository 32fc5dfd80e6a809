// SPDX-License-Identifier: GPL-2.0-only
/*
 * Paths, encoded leaf first (include/smith/abi.h), by the walk the BPF
 * programs use (path__append of include/smith/builder.h): dentry to parent,
 * crossing mount points up to the root of the mount tree, no lock, no
 * reference, every pointer read with a read that cannot fault (read.c). The
 * same walk gives the same bytes on both backends; d_path() would not
 * (chroot, " (deleted)", pseudo files).
 *
 * Crossing a mount needs struct mount, private to fs/: smith.h describes the
 * part of it the walk reads, and smith_path_init() checks that description
 * against the running kernel before the module accepts a reader.
 */
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/dcache.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/slab.h>
#include <linux/sched.h>
#include <linux/string.h>
#include "smith.h"

static struct smith_mount *real_mount_of(struct vfsmount *vfsmnt)
{
	return container_of(vfsmnt, struct smith_mount, mnt);
}

u32 smith_path_append(u8 *tail, struct smith_walk *w, const struct path *path)
{
	return path__append(tail, w, path);
}

/*
 * Layout check of struct smith_mount on the running kernel: for the mounts
 * above `path`, each mount point must be a dentry of the parent mount's
 * filesystem, and the chain must end at a mount that is its own parent.
 */
static int path__check_chain(const struct path *path)
{
	struct smith_mount *mnt = real_mount_of(path->mnt);
	int i;

	for (i = 0; i < 64; i++) {
		struct smith_mount *parent = smith_kval(&mnt->mnt_parent);
		struct dentry *mp;

		if (!parent)
			return -EINVAL;
		if (parent == mnt)
			return 0;
		mp = smith_kval(&mnt->mnt_mountpoint);
		if (!mp || smith_kval(&mp->d_sb) != smith_kval(&parent->mnt.mnt_sb))
			return -EINVAL;
		mnt = parent;
	}
	return -EINVAL;
}

/* Joins a leaf-first encoding into "/a/b/c", as the daemon does. */
static void path__join(const u8 *enc, u32 len, char *out, size_t size)
{
	const char *comp[SMITH_PATH_DEPTH];
	int n = 0, i;
	u32 off = 0;
	size_t o = 0;

	while (off < len && n < SMITH_PATH_DEPTH) {
		comp[n++] = (const char *)enc + off;
		off += strnlen((const char *)enc + off, len - off) + 1;
	}
	out[0] = 0;
	if (n == 1 && !comp[0][0]) {
		snprintf(out, size, "/");
		return;
	}
	for (i = n - 1; i >= 0 && o < size; i--)
		o += snprintf(out + o, size - o, "/%s", comp[i]);
}

/* Compares the walk with d_path() for one existing directory of the caller. */
static int path__check_against_d_path(const char *name, u8 *buf, char *joined, char *dbuf)
{
	struct smith_walk w = {0, 0};
	struct path path;
	char *dp;
	int err;
	u32 len;

	if (kern_path(name, LOOKUP_FOLLOW, &path))
		return 0; /* not there: nothing to compare */
	err = path__check_chain(&path);
	if (err) {
		pr_err("struct mount layout check failed on %s\n", name);
		goto out;
	}
	len = smith_path_append(buf, &w, &path);
	path__join(buf, len, joined, PATH_MAX);
	dp = d_path(&path, dbuf, PATH_MAX);
	if (!IS_ERR(dp) && strcmp(dp, joined)) {
		pr_err("path walk gives \"%s\" for %s, d_path gives \"%s\"\n", joined, name, dp);
		err = -EINVAL;
	}
out:
	path_put(&path);
	return err;
}

int smith_path_init(void)
{
	static const char *const dirs[] = {"/proc", "/dev", "/sys"};
	struct smith_walk w = {0, 0};
	struct path root;
	u8 *buf;
	char *joined, *dbuf;
	int err, i;
	u32 len;

	buf = kmalloc(SMITH_PATH_MAX, GFP_KERNEL);
	joined = kmalloc(PATH_MAX, GFP_KERNEL);
	dbuf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!buf || !joined || !dbuf) {
		err = -ENOMEM;
		goto out;
	}
	get_fs_root(current->fs, &root);
	err = path__check_chain(&root);
	if (!err) {
		len = smith_path_append(buf, &w, &root);
		path__join(buf, len, joined, PATH_MAX);
	}
	path_put(&root);
	if (err) {
		pr_err("struct mount layout check failed on the root directory\n");
		goto out;
	}
	/*
	 * Under a chroot, d_path() stops at the chroot and the walk does not:
	 * compare them only when the caller's root is the namespace's.
	 */
	if (strcmp(joined, "/"))
		goto out;
	for (i = 0; i < ARRAY_SIZE(dirs) && !err; i++)
		err = path__check_against_d_path(dirs[i], buf, joined, dbuf);
out:
	kfree(buf);
	kfree(joined);
	kfree(dbuf);
	return err;
}
