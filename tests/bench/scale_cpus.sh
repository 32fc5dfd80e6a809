#!/usr/bin/env bash
# scale_cpus.sh: connect events per second against the number of CPUs, for both backends, in QEMU
# TCG guests (issue 15: does the BPF ring buffer's one lock per reservation show, against the
# module's per-CPU rings?).
#
#   tests/bench/scale_cpus.sh [--kernels 6.12[,6.1]] [--cpus 1,2,4,8] [--seconds T] [--rounds R]
#                             [--build-dir DIR] [--no-build] [--out DIR]
#
# For each kernel and each vCPU count N, one boot of tests/vm/run-vm.sh --scale --cpus N
# (tests/vm/guest-scale.sh in the guest): N smith_paced_load processes, one pinned to each vCPU,
# make UDP connect() calls as fast as they go for T seconds (default 5), bare, under smithd
# --backend=lkm, under smithd --backend=ebpf and under smithd --backend=ebpf --bpf-ring=percpu
# (file sink to /dev/null), R rounds (default 2).
# scale_cpus_report.py then writes OUT/scale_cpus.json and OUT/scale_cpus.md (default OUT:
# tests/bench/results): per kernel, vCPU count and backend, calls/s offered, connect events/s
# smithd received, kernel drops, and their ratios to the fewest vCPUs and to bare.
# The CPU is emulated: only the ratios mean something, and vCPUs beyond the host's cores share
# them. Builds smithd, smithctl, smith_e2e_tests, smith_hook_load and smith_paced_load (Release)
# in DIR (default build-scale) first, unless --no-build. Needs root and QEMU (run-vm.sh).
# Takes 3 to 8 minutes per boot under TCG; 6.12 alone with 1, 2, 4 and 8 vCPUs about 25 minutes.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)

die() {
	echo "scale_cpus: error: $*" >&2
	exit 1
}
log() { echo "scale_cpus: $*" >&2; }

KERNELS=6.12
CPU_COUNTS=1,2,4,8
SECONDS_PER_WINDOW=5
ROUNDS=2
BUILD_DIR="$REPO/build-scale"
BUILD=1
OUT="$SCRIPT_DIR/results"
COMMAND="tests/bench/scale_cpus.sh $*"
while [ $# -gt 0 ]; do
	case "$1" in
	--kernels) KERNELS=${2:?--kernels needs a list}; shift 2 ;;
	--cpus) CPU_COUNTS=${2:?--cpus needs a list}; shift 2 ;;
	--seconds) SECONDS_PER_WINDOW=${2:?--seconds needs a number}; shift 2 ;;
	--rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
	--build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--out) OUT=${2:?--out needs a directory}; shift 2 ;;
	-h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option '$1'" ;;
	esac
done
for n in ${CPU_COUNTS//,/ }; do
	[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "--cpus takes a list of positive numbers, not '$n'"
done

if [ "$BUILD" = 1 ]; then
	[ -f "$BUILD_DIR/CMakeCache.txt" ] ||
		cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	ninja -C "$BUILD_DIR" smithd smithctl smith_e2e_tests smith_hook_load smith_paced_load >/dev/null
fi

# The revision measured, and whether the tree differs from it where it matters to the figures.
REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$REV" != unknown ] && [ -n "$(git -C "$REPO" status --porcelain -- bpf lkm src include tests/vm tests/bench 2>/dev/null)" ]; then
	REV="$REV (with uncommitted changes)"
	log "the tree has uncommitted changes in bpf, lkm, src, include or tests: the report says so"
fi

SAMPLES_DIR="$BUILD_DIR/scale-samples"
mkdir -p "$SAMPLES_DIR" "$OUT"
specs=()
# Written again after each kernel, so that a kernel whose guest fails leaves the others' figures.
report() {
	python3 "$SCRIPT_DIR/scale_cpus_report.py" --samples "${specs[@]}" --source-rev "$REV" \
		--command "$COMMAND" --seconds "$SECONDS_PER_WINDOW" --rounds "$ROUNDS" \
		--out-json "$OUT/scale_cpus.json" --out-md "$OUT/scale_cpus.md"
}
for kernel in ${KERNELS//,/ }; do
	for n in ${CPU_COUNTS//,/ }; do
		file="$SAMPLES_DIR/$kernel-$n.jsonl"
		log "kernel $kernel, $n vCPUs"
		"$REPO/tests/vm/run-vm.sh" --kernel "$kernel" --build-dir "$BUILD_DIR" --scale --cpus "$n" \
			--seconds "$SECONDS_PER_WINDOW" --rounds "$ROUNDS" --samples "$file"
		release=$(sed -n 's/^SMITH-VM: BOOTED //p' "$BUILD_DIR"/vm/*/console.log 2>/dev/null |
			awk -v k="$kernel." 'index($0, k) == 1' | head -n1)
		specs+=("${release:-$kernel}=$file")
	done
	report
done
cat "$OUT/scale_cpus.md"
