// SPDX-License-Identifier: GPL-2.0-only
/*
 * smith_test_mod: a module that only loads and unloads. The VM tests load it with
 * init_module and finit_module and check the events smithd reports for each call:
 * the name, the path (finit_module), the parameters and the return value.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static char *greeting = "none";
module_param(greeting, charp, 0444);
MODULE_PARM_DESC(greeting, "a word printed at load, so that a parameter reaches the module");

static int __init smith_test_mod_init(void)
{
	pr_info("smith_test_mod: loaded, greeting=%s\n", greeting);
	return 0;
}

static void __exit smith_test_mod_exit(void)
{
	pr_info("smith_test_mod: unloaded\n");
}

module_init(smith_test_mod_init);
module_exit(smith_test_mod_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("smith VM tests: a module that does nothing but load");
