#!/usr/bin/env bash
# run-all.sh: the whole benchmark suite, one command (see PERF.md and README "Benchmarks").
#
#   tests/bench/run-all.sh [--quick] [--before-rev REV] [--vm]
#
# Installs the peers and tools from Debian (bpftrace, auditd, gnuplot-nox) when missing,
# builds a Release tree in build-bench/, then runs, writing JSON and markdown for each into
# tests/bench/results/:
#   1. hook_overhead.sh  latency added per UDP connect, refused TCP connect and fork+exec:
#                        bare, floor, smithd (file, Kafka), bpftrace, auditd
#                        (--before-rev REV adds smithd built from REV, side by side)
#   1b. prog_cost.sh     what connect's BPF program costs per run, as the kernel counts it: the
#                        empty program, one that only sends a record (floor-emit), smithd's
#   1c. load_time.sh     how long smithd --backend=ebpf takes to start, and the CPU it costs
#   2. zero_loss.sh      highest connect and exec rates with zero loss, CPU% and RSS
#   3. pipeline.sh       decode -> normalize -> serialize per core, allocations per event
#   4. kafka_e2e.sh      events/s into the local Kafka broker with zero seq gaps
#   5. plot.sh           hook_overhead.png
#   6. with --vm: tests/vm/run-vm.sh --bench, the module and eBPF backends inside QEMU, and
#                 scale_cpus.sh, connect events/s with 1, 2, 4 and 8 vCPUs (about 20 minutes per kernel)
# Needs root and kernel BTF. Takes about 30 minutes (5 with --quick).
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
QUICK=()
BEFORE=()
VM=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=(--quick); shift ;;
	--before-rev) BEFORE=(--before-rev "${2:?--before-rev needs a revision}"); shift 2 ;;
	--vm) VM=1; shift ;;
	-h | --help) sed -n '2,18p' "$0"; exit 0 ;;
	*) echo "run-all: error: unknown option '$1'" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "run-all: error: must run as root" >&2; exit 1; }

missing=()
for pkg in bpftrace auditd gnuplot-nox; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "run-all: installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD="$REPO/build-bench"
RESULTS="$SCRIPT_DIR/results"
mkdir -p "$RESULTS"
[ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$BUILD" smithd smithctl smith_hook_load smith_bench_floor smith_paced_load smith_pipeline_bench \
	smith_kafka_consume >/dev/null

"$SCRIPT_DIR/hook_overhead.sh" --no-build --build-dir "$BUILD" --out "$RESULTS" "${QUICK[@]}" "${BEFORE[@]}"
if [ ${#QUICK[@]} -gt 0 ]; then
	"$SCRIPT_DIR/prog_cost.sh" --no-build --build-dir "$BUILD" --out "$RESULTS" --rounds 1 --iterations 50000
else
	"$SCRIPT_DIR/prog_cost.sh" --no-build --build-dir "$BUILD" --out "$RESULTS"
fi
if [ ${#QUICK[@]} -gt 0 ]; then
	"$SCRIPT_DIR/load_time.sh" --no-build --build-dir "$BUILD" --out "$RESULTS" --rounds 2 "${BEFORE[@]}"
else
	"$SCRIPT_DIR/load_time.sh" --no-build --build-dir "$BUILD" --out "$RESULTS" "${BEFORE[@]}"
fi
"$SCRIPT_DIR/zero_loss.sh" --no-build --build-dir "$BUILD" --out "$RESULTS" "${QUICK[@]}"
"$SCRIPT_DIR/pipeline.sh" --no-build --build-dir "$BUILD" --out "$RESULTS"
"$SCRIPT_DIR/kafka_e2e.sh" --no-build --build-dir "$BUILD" --out "$RESULTS" "${QUICK[@]}"
"$SCRIPT_DIR/plot.sh" "$RESULTS"
if [ "$VM" = 1 ]; then
	for kernel in 6.1 6.12; do
		"$REPO/tests/vm/run-vm.sh" --kernel "$kernel" --bench --out "$RESULTS"
	done
	"$SCRIPT_DIR/scale_cpus.sh" --out "$RESULTS"
fi
echo "run-all: results in $RESULTS" >&2
