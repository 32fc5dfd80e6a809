#!/usr/bin/env bash
# run-vm.sh: boots a kernel under QEMU (TCG) and runs smith's checks, or its overhead benchmark,
# inside it, against the eBPF backend and the kernel module: Debian's 6.1 and 6.12, and CentOS
# 7.9's 3.10.0-1160.el7 (from ../shared/kernels/el7), which has no BTF: the module alone there.
#
#   tests/vm/run-vm.sh --kernel 6.1|6.12|el7 [--build-dir DIR] [--keep] [--timeout S] [--filter SPEC]
#                      [--smith-bin-dir DIR] [--smith-ko FILE]
#   tests/vm/run-vm.sh --kernel 6.1|6.12|el7 --bench [--rounds R] [--out DIR] [--bench-configs bare,lkm,ebpf]
#   tests/vm/run-vm.sh --kernel 6.1|6.12|el7 --scale [--seconds T] [--rounds R] [--samples FILE]
#                      [--bench-configs bare,lkm,ebpf]
#   any of them with --cpus N: the guest's vCPUs (default 2), multi-threaded TCG
#
# Steps: fetch-kernel.sh (image cached under /var/cache/smith/vm, headers installed),
# build-initramfs.sh (busybox, smithd, smithctl, smith_e2e_tests, smith_hook_load, smith_tp_pin and their
# libraries, smith_test_mod.ko and smith.ko built for that kernel), then one boot of
#   qemu-system-x86_64 -accel tcg -smp 2 -m 1536 -nographic -no-reboot -kernel ... -initrd ...
# under a hard timeout. The guest reports on its serial console (tests/vm/guest-init.sh, markers
# "SMITH-VM: ..."); the whole console is kept in BUILD_DIR/vm/<release>/console.log.
#
# --filter passes a Catch2 test spec to smith_e2e_tests, the behaviour suite (no spaces:
# "[lkm],exec*"); the guest always leaves out [sink], the tests about the output side alone.
# --scale runs tests/vm/guest-scale.sh: a UDP connect load process per vCPU for T seconds (default
# 5), bare and under each backend, R rounds (default 2); the guest's JSON lines go to FILE (default
# BUILD_DIR/vm/<release>/scale-samples.jsonl) for tests/bench/scale_cpus.sh, which boots once per
# --cpus and writes the report. It needs smith_paced_load in the build directory.
# --smith-bin-dir and --smith-ko put a package's smithd, smithctl and DKMS-built smith.ko in the
# guest instead of the build directory's (tests/package/vm.sh).
# Fails when the guest's program fails, when the guest does not finish in time, and when the guest
# kernel logs an oops, a BUG, a WARNING or a call trace. Prints the guest's log on failure.
# Skipped (tests/skip.sh) when this host cannot run the guest: not root, no QEMU, or, for el7, no
# ../shared/kernels/el7 beside the checkout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMMAND_LINE="$0${*:+ $*}"
REPO=$(cd "$HERE/../.." && pwd)

usage() { sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; }
die() {
	echo "run-vm: error: $*" >&2
	exit 1
}
log() { echo "run-vm: $*" >&2; }
# shellcheck source=../skip.sh
. "$HERE/../skip.sh"


KERNEL=""
BUILD_DIR="$REPO/build"
KEEP=0
BENCH=0
SCALE=0
ROUNDS=""
CPUS=""
SCALE_SECONDS=5
SAMPLES=""
BENCH_CONFIGS=""
OUT="$REPO/tests/bench/results"
TIMEOUT=""
FILTER=""
SMITH_BIN_DIR=""
SMITH_KO=""
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) KERNEL=${2:?--kernel needs 6.1, 6.12 or el7}; shift 2 ;;
	--kernel=*) KERNEL=${1#*=}; shift ;;
	--build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift 2 ;;
	--build-dir=*) BUILD_DIR=${1#*=}; shift ;;
	--keep) KEEP=1; shift ;;
	--bench) BENCH=1; shift ;;
	--scale) SCALE=1; shift ;;
	--cpus) CPUS=${2:?--cpus needs a number}; shift 2 ;;
	--cpus=*) CPUS=${1#*=}; shift ;;
	--seconds) SCALE_SECONDS=${2:?--seconds needs a number}; shift 2 ;;
	--seconds=*) SCALE_SECONDS=${1#*=}; shift ;;
	--samples) SAMPLES=${2:?--samples needs a file}; shift 2 ;;
	--samples=*) SAMPLES=${1#*=}; shift ;;
	--rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
	--rounds=*) ROUNDS=${1#*=}; shift ;;
	--bench-configs) BENCH_CONFIGS=${2:?--bench-configs needs a list}; shift 2 ;;
	--out) OUT=${2:?--out needs a directory}; shift 2 ;;
	--out=*) OUT=${1#*=}; shift ;;
	--filter) FILTER=${2:?--filter needs a Catch2 test spec}; shift 2 ;;
	--filter=*) FILTER=${1#*=}; shift ;;
	--smith-bin-dir) SMITH_BIN_DIR=${2:?--smith-bin-dir needs a directory}; shift 2 ;;
	--smith-ko) SMITH_KO=${2:?--smith-ko needs a file}; shift 2 ;;
	--timeout) TIMEOUT=${2:?--timeout needs seconds}; shift 2 ;;
	--timeout=*) TIMEOUT=${1#*=}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
done
case "$KERNEL" in
6.1 | 6.12 | el7) ;;
"") usage >&2; die "--kernel 6.1|6.12|el7 is required" ;;
*) die "unknown kernel '$KERNEL' (expected 6.1, 6.12 or el7)" ;;
esac
[ "$BENCH" = 0 ] || [ "$SCALE" = 0 ] || die "--bench and --scale are two different runs: choose one"
if [ -z "$ROUNDS" ]; then
	[ "$SCALE" = 1 ] && ROUNDS=2 || ROUNDS=3
fi
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
[ -z "$CPUS" ] || [[ "$CPUS" =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive integer"
[[ "$SCALE_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive integer"
if [ -z "$TIMEOUT" ]; then
	[ "$BENCH" = 1 ] || [ "$SCALE" = 1 ] && TIMEOUT=3600 || TIMEOUT=900
fi
[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds"

[ "$(id -u)" -eq 0 ] || skip "the VM tests need root (to install kernel headers and cache kernels); euid is $(id -u)"
QEMU=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
command -v busybox >/dev/null || skip "busybox not found (apt-get install busybox-static)"

BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || die "build directory '$BUILD_DIR' not found"
for bin in tests/smith_e2e_tests tests/bench/smith_hook_load tests/vm/smith_tp_pin; do
	[ -x "$BUILD_DIR/$bin" ] || die "$BUILD_DIR/$bin not found (build: cmake --build $BUILD_DIR)"
done
for bin in smithd smithctl; do
	[ -x "${SMITH_BIN_DIR:-$BUILD_DIR}/$bin" ] || die "${SMITH_BIN_DIR:-$BUILD_DIR}/$bin not found"
done
[ "$BENCH" = 0 ] || [ -x "$BUILD_DIR/tests/bench/smith_bench_floor" ] ||
	die "$BUILD_DIR/tests/bench/smith_bench_floor not found (--bench runs the floors in the guest)"
[ "$SCALE" = 0 ] || [ -x "$BUILD_DIR/tests/bench/smith_paced_load" ] ||
	die "$BUILD_DIR/tests/bench/smith_paced_load not found (--scale runs it in the guest)"
[ -z "$SMITH_KO" ] || [ -f "$SMITH_KO" ] || die "--smith-ko $SMITH_KO not found"

START=$(date +%s)
fetched=0
kernel_vars=$("$HERE/fetch-kernel.sh" --kernel "$KERNEL") || fetched=$?
[ "$fetched" != 3 ] || skip "CentOS 7's kernel is not beside this checkout: no ../shared/kernels/el7 (set SMITH_SHARED_DIR to the folder holding kernels/el7)"
[ "$fetched" = 0 ] || die "fetch-kernel.sh --kernel $KERNEL failed"
eval "$kernel_vars"
: "${RELEASE:?}" "${VMLINUZ:?}" "${KDIR:?}"
WORK="$BUILD_DIR/vm/$RELEASE"
mkdir -p "$WORK"
INITRD="$WORK/initramfs.cpio"
CONSOLE="$WORK/console.log"
"$HERE/build-initramfs.sh" --build-dir "$BUILD_DIR" --release "$RELEASE" --kdir "$KDIR" --out "$INITRD" --work "$WORK" \
	${SMITH_BIN_DIR:+--smith-bin-dir "$SMITH_BIN_DIR"} ${SMITH_KO:+--smith-ko "$SMITH_KO"}
HAVE_LKM=0
[ -f "$WORK/root/opt/smith/modules/smith.ko" ] && HAVE_LKM=1
PREPARED=$(date +%s)

# ---- Boot ------------------------------------------------------------------------------------

if [ "$BENCH" = 1 ]; then
	MODE=bench
	ARGS="--rounds+$ROUNDS+--lkm+$HAVE_LKM${BENCH_CONFIGS:++--configs+$BENCH_CONFIGS}"
elif [ "$SCALE" = 1 ]; then
	MODE=scale
	ARGS="--seconds+$SCALE_SECONDS+--rounds+$ROUNDS+--lkm+$HAVE_LKM${BENCH_CONFIGS:++--configs+$BENCH_CONFIGS}"
else
	MODE=checks
	ARGS=$FILTER
	BACKENDS=ebpf,lkm
	if [ "$KERNEL" = el7 ]; then
		# No BTF: the module is the only backend, and there is nothing to compare it with.
		BACKENDS=lkm
		ARGS="${ARGS:+$ARGS+}~[parity]"
		[ "$HAVE_LKM" = 1 ] || die "no smith.ko in the image: on el7 the module is all there is to test"
	elif [ "$HAVE_LKM" = 0 ]; then
		ARGS="${ARGS:+$ARGS+}~[lkm]"
		BACKENDS=ebpf
		log "no smith.ko in the image (no lkm/ in this tree, or SMITH_VM_NO_LKM=1): the [lkm] checks do not run"
	fi
fi
APPEND="console=ttyS0 panic=-1 loglevel=7 smith.mode=$MODE${ARGS:+ smith.args=$ARGS}${BACKENDS:+ smith.backends=$BACKENDS}"
# Without --cpus the command line is as it always was (-smp 2; TCG's default, multi-threaded here).
SMP=(-accel tcg -cpu max -smp 2)
[ -z "$CPUS" ] || SMP=(-accel tcg,thread=multi -cpu max -smp "$CPUS")
# A kernel that dies before it runs /init has run nothing of smith's: that is the emulator's
# trouble (seen: an int3 in sched_clock_cpu during 6.12's early boot under TCG, more often while
# the host is busy), and the guest boots again, up to three boots in all. The last such console
# is kept as console.early-death.log.
for attempt in 1 2 3; do
	log "booting $RELEASE under TCG, ${CPUS:-2} vCPUs (timeout ${TIMEOUT}s): $APPEND"
	rc=0
	timeout --signal=KILL "$TIMEOUT" "$QEMU" "${SMP[@]}" -m 1536 -nographic -no-reboot -nic none \
		-kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND" </dev/null >"$CONSOLE" 2>&1 || rc=$?
	# The serial console ends lines with CR LF.
	sed -i 's/\r$//' "$CONSOLE"
	grep -q "^SMITH-VM: BOOTED " "$CONSOLE" && break
	[ "$attempt" != 3 ] || break
	cp "$CONSOLE" "$WORK/console.early-death.log"
	log "the guest kernel died before /init (nothing of smith had run; $WORK/console.early-death.log): booting again"
done
END=$(date +%s)

# ---- Verdict ---------------------------------------------------------------------------------

verdict_status=0
problems=$("$HERE/console-verdict.sh" "$CONSOLE" "$MODE" "$rc" "$TIMEOUT") || verdict_status=$?
[ "$verdict_status" = 0 ] || [ -n "$problems" ] || problems="console-verdict.sh failed with status $verdict_status"

timing="prepare $((PREPARED - START)) s, guest $((END - PREPARED)) s"
if [ -n "$problems" ]; then
	echo "---- guest console ($CONSOLE) ----"
	cat "$CONSOLE"
	echo "---- end of guest console ----"
	while IFS= read -r p; do log "FAILED: $p"; done <<<"$problems"
	log "kernel $RELEASE: $timing"
	exit 1
fi

if [ "$BENCH" = 1 ]; then
	mkdir -p "$OUT"
	sed -n '/^SMITH-VM: BENCH JSON BEGIN$/,/^SMITH-VM: BENCH JSON END$/p' "$CONSOLE" | sed '1d;$d' >"$WORK/bench-samples.jsonl"
	[ -s "$WORK/bench-samples.jsonl" ] || die "the guest printed no benchmark samples"
	python3 "$HERE/vm_bench_report.py" --samples "$WORK/bench-samples.jsonl" --kernel "$RELEASE" \
		--rounds "$ROUNDS" --source-rev "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		--command "$COMMAND_LINE" --cpus "${CPUS:-2}" --out-json "$OUT/vm_overhead_$KERNEL.json" --out-md "$OUT/vm_overhead_$KERNEL.md"
	cat "$OUT/vm_overhead_$KERNEL.md"
elif [ "$SCALE" = 1 ]; then
	[ -n "$SAMPLES" ] || SAMPLES="$WORK/scale-samples.jsonl"
	sed -n '/^SMITH-VM: SCALE JSON BEGIN$/,/^SMITH-VM: SCALE JSON END$/p' "$CONSOLE" | sed '1d;$d' >"$SAMPLES"
	[ -s "$SAMPLES" ] || die "the guest printed no samples"
	grep '^guest-scale: ' "$CONSOLE" | cut -c1-200 || true
	log "samples in $SAMPLES"
else
	# The checks' own summary, and what the guest said about itself.
	grep -E '^vm: |^(All tests passed|test cases:)' "$CONSOLE" || true
fi
[ "$KEEP" = 1 ] && log "kept $WORK (initramfs, console.log)"
[ "$KEEP" = 1 ] || rm -rf "$WORK/root" "$WORK/lkm" "$WORK/test_module"
log "kernel $RELEASE: passed ($timing)"
