#!/bin/sh
# /init of the VM tests' initramfs (busybox sh). Sets up a minimal system, runs what the kernel
# command line asks for, reports on the serial console between marker lines, and powers off.
#
# Kernel command line:
#   smith.mode=checks          run the behaviour suite, smith_e2e_tests (the default), without its
#                              [sink] tests
#   smith.backends=ebpf,lkm    the backends it checks (SMITH_TEST_BACKENDS of tests/e2e/backends.h)
#   smith.mode=bench           run the overhead benchmark (tests/vm/guest-bench.sh)
#   smith.mode=scale           run the events-per-CPU benchmark (tests/vm/guest-scale.sh)
#   smith.args=A+B+...         extra arguments for that program, "+" for spaces
#
# Markers (each alone on a line, read by run-vm.sh):
#   SMITH-VM: BOOTED <kernel release>
#   SMITH-VM: BEGIN <mode> / SMITH-VM: END <mode> rc=<exit code>
#   SMITH-VM: DMESG BEGIN / SMITH-VM: DMESG END   (the whole kernel log)
#   SMITH-VM: POWEROFF
export PATH=/bin:/sbin:/opt/smith/bin
export HOME=/root
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null || true
mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
ip link set lo up
hostname "$(cat /etc/hostname)"
# Kernel messages of every level but debug reach the console, so that an oops or a warning is in the log.
echo 7 >/proc/sys/kernel/printk

mode=checks
args=""
backends=ebpf,lkm
for word in $(cat /proc/cmdline); do
	case "$word" in
	smith.mode=*) mode=${word#smith.mode=} ;;
	smith.args=*) args=$(echo "${word#smith.args=}" | tr '+' ' ') ;;
	smith.backends=*) backends=${word#smith.backends=} ;;
	esac
done

# Multi-threaded TCG now and then misses the write that takes a live-patched int3 back out of
# kernel text: a vCPU keeps executing an int3 that guest memory no longer holds. Seen three
# times, each at a jump label or static call that the kernel rewrote while the other vCPU ran
# through it: 6.12's early boot (sched_clock_cpu); 6.12's syscall exit ("Oops: int3" at
# syscall_exit_to_user_mode_prepare+0xe1, during smith.ko's load/unload checks); el7's syscall
# exit (both vCPUs in a soft lockup at syscall_trace_leave+0xf0, where memory holds the jump
# `e9 0b 00 00 00`: 3.10's int3 handler finds no int3 there and sends the vCPU back to the
# stale one). The syscall exit path runs constantly, and smith.ko (and smithd with
# --bpf-attach=sys_exit) registers and unregisters its sys_exit probe dozens of times in the
# checks. Two probes of the kernel's own stay on that tracepoint for the whole run (the
# raw_syscalls event and one syscalls event, with tracing off), so that adding or removing
# another changes no instruction: its static key stays on and, on 6.x, its static call stays
# on the iterator. Single-threaded TCG would also avoid it, but serialises the vCPUs and breaks
# the checks that need two CPUs at once (the Phantom attack's flipping thread).
# The same befell el7's do_exit (both vCPUs in a soft lockup at the sched_process_exit jump, just
# after smith.ko armed its hooks): the task tracepoints smith uses are pinned by their trace
# events too, where the kernel has them. One probe keeps a static key on, but on 5.10 and later a
# tracepoint's static call goes straight to its only probe, and is rewritten to the iterator when a
# second one comes: 6.12 once took "Oops: int3" at bprm_execve's sched_process_exec call just as
# smith.ko registered its probes. smith_tp_pin (tests/vm/tp_pin.c) adds a disabled perf event to each
# task tracepoint, a second probe, so that smith's own probes change no instruction there either.
pin_sys_exit() {
	t=/sys/kernel/tracing
	[ -d $t/events ] || mount -t tracefs nodev $t 2>/dev/null || true
	[ -d $t/events ] || t=/sys/kernel/debug/tracing
	if echo 0 >$t/tracing_on && echo 1 >$t/events/raw_syscalls/sys_exit/enable &&
		echo 1 >$t/events/syscalls/sys_exit_getppid/enable; then
		echo "SMITH-VM: note: sys_exit tracepoint pinned by two trace events ($t), tracing off"
	else
		echo "SMITH-VM: note: could not pin the sys_exit tracepoint ($t)"
	fi
	pinned=""
	tracepoints=""
	for ev in sched/sched_process_exit sched/sched_process_fork sched/sched_process_exec \
		module/module_load sock/inet_sock_set_state; do
		[ -e "$t/events/$ev/enable" ] || continue
		tracepoints="$tracepoints $ev"
		echo 1 >"$t/events/$ev/enable" 2>/dev/null && pinned="$pinned ${ev#*/}"
	done
	echo "SMITH-VM: note: task tracepoints pinned by their trace events:${pinned:- none}"
	# shellcheck disable=SC2086 # one word per tracepoint
	if out=$(smith_tp_pin $t $tracepoints 2>&1); then
		echo "$out" | sed 's/^/SMITH-VM: note: /'
	else
		echo "SMITH-VM: note: no perf probe on the task tracepoints ($out): their static calls change with smith's probes"
	fi
}

echo "SMITH-VM: BOOTED $(uname -r)"
[ -e /sys/kernel/btf/vmlinux ] || echo "SMITH-VM: note: /sys/kernel/btf/vmlinux is missing"
echo "SMITH-VM: BEGIN $mode"
cd /root
rc=0
case "$mode" in
checks)
	# An emulated CPU: events take longer, and loading the BPF programs takes minutes.
	export SMITH_TEST_BACKENDS=$backends SMITH_TEST_EVENT_TIMEOUT=120 SMITH_TEST_START_TIMEOUT=900
	export SMITH_TEST_MODULE_DIR=/opt/smith/modules
	# smithd on an emulated CPU writes a few thousand events a second, not the hundreds of thousands
	# it does on a real one: the flood test's daemons get a connect budget that fits.
	export SMITH_TEST_FLOOD_BUDGET=200:400
	# One program runs every test: a test that cannot run here fails instead of ending the program.
	export SMITH_TEST_NO_SKIPS=1
	pin_sys_exit
	# The eBPF backend's own tests ([ebpf]) run where it is checked (not on el7, which has no BTF).
	only_ebpf=""
	case ",$backends," in *,ebpf,*) ;; *) only_ebpf="~[ebpf]" ;; esac
	# Each test's duration is printed: the guest has a time limit, and this says where it went.
	# shellcheck disable=SC2086 # args are words on purpose
	smith_e2e_tests --order decl --use-colour no --durations yes --warn NoTests "~[sink]" $only_ebpf $args || rc=$?
	;;
bench)
	# shellcheck disable=SC2086
	sh /opt/smith/guest-bench.sh $args || rc=$?
	;;
scale)
	# shellcheck disable=SC2086
	sh /opt/smith/guest-scale.sh $args || rc=$?
	;;
*)
	echo "unknown smith.mode '$mode'"
	rc=2
	;;
esac
echo "SMITH-VM: END $mode rc=$rc"
echo "SMITH-VM: DMESG BEGIN"
dmesg
echo "SMITH-VM: DMESG END"
echo "SMITH-VM: POWEROFF"
sync
poweroff -f
# Not reached unless poweroff failed; panic=-1 and -no-reboot then end QEMU.
echo o >/proc/sysrq-trigger
