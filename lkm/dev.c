// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/smith: the reader's door (include/smith/lkm_ring.h).
 *
 * One reader at a time: open() claims the device (a second one gets EBUSY),
 * takes a module reference for as long as the file lives, so rmmod is
 * refused while a reader holds the device, and arms the hooks. The last
 * close (the file's release: after the last fd and the last mapping are
 * gone) disarms them, and only then drops the reference.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <linux/poll.h>
#include <linux/mutex.h>
#include "smith.h"

static atomic_t smith_open_count = ATOMIC_INIT(0);
static DEFINE_MUTEX(smith_arm_lock); /* orders arm (open) and disarm (release) */

static int smith_open(struct inode *inode, struct file *file)
{
	int err;

	if (atomic_cmpxchg(&smith_open_count, 0, 1) != 0)
		return -EBUSY;
	if (!try_module_get(THIS_MODULE)) {
		atomic_set(&smith_open_count, 0);
		return -ENODEV;
	}
	mutex_lock(&smith_arm_lock);
	err = smith_hooks_arm();
	mutex_unlock(&smith_arm_lock);
	if (err) {
		module_put(THIS_MODULE);
		atomic_set(&smith_open_count, 0);
		return err;
	}
	smith_rings_start();
	return 0;
}

static int smith_release(struct inode *inode, struct file *file)
{
	mutex_lock(&smith_arm_lock);
	smith_hooks_disarm();
	mutex_unlock(&smith_arm_lock);
	atomic_set(&smith_open_count, 0);
	/* The VFS still holds the fops owner's reference until we return. */
	module_put(THIS_MODULE);
	return 0;
}

static int smith_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long len = vma->vm_end - vma->vm_start;

	if (vma->vm_pgoff != 0 || len > PAGE_ALIGN(smith_area_bytes))
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	/* remap_vmalloc_range() marks the mapping VM_DONTEXPAND | VM_DONTDUMP. */
	return remap_vmalloc_range(vma, smith_area, 0);
}

static smith_poll_t smith_poll(struct file *file, poll_table *wait)
{
	poll_wait(file, &smith_wq, wait);
	return smith_rings_readable() ? SMITH_POLLIN : 0;
}

static const struct file_operations smith_fops = {
	.owner = THIS_MODULE,
	.open = smith_open,
	.release = smith_release,
	.mmap = smith_mmap,
	.poll = smith_poll,
	.llseek = noop_llseek,
};

static struct miscdevice smith_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = SMITH_LKM_MODULE_NAME,
	.fops = &smith_fops,
	.mode = 0600,
};

int smith_dev_init(void)
{
	int err = misc_register(&smith_misc);

	if (err)
		pr_err("cannot register /dev/%s: %d\n", smith_misc.name, err);
	return err;
}

void smith_dev_exit(void)
{
	misc_deregister(&smith_misc);
}
