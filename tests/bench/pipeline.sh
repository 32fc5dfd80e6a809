#!/usr/bin/env bash
# pipeline.sh: runs smith_pipeline_bench (decode -> normalize -> serialize over recorded raw
# records, one thread) with repetitions and writes pipeline.json (Google Benchmark's JSON)
# and pipeline.md (medians: events/s per core, ns per event, allocations per event).
#
#   tests/bench/pipeline.sh [--out DIR] [--build-dir DIR] [--no-build] [--records FILE]
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
BUILD_DIR="$REPO/build-bench"
OUT=""
BUILD=1
RECORDS="$SCRIPT_DIR/data/mixed.smithraw"
die() {
	echo "pipeline: error: $*" >&2
	exit 1
}
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?}; shift 2 ;;
	--build-dir) BUILD_DIR=${2:?}; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--records) RECORDS=${2:?}; shift 2 ;;
	-h | --help) sed -n '2,7p' "$0"; exit 0 ;;
	*) die "unknown option '$1'" ;;
	esac
done
if [ "$BUILD" = 1 ]; then
	[ -f "$BUILD_DIR/CMakeCache.txt" ] ||
		cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake configure failed"
	ninja -C "$BUILD_DIR" smith_pipeline_bench >/dev/null || die "build failed"
fi
BENCH="$BUILD_DIR/tests/bench/smith_pipeline_bench"
[ -x "$BENCH" ] || die "$BENCH not found"
[ -n "$OUT" ] || OUT="$BUILD_DIR/bench-results"
mkdir -p "$OUT"
CMD=("$BENCH" --records "$RECORDS" --benchmark_repetitions=5 --benchmark_min_time=1
	--benchmark_report_aggregates_only=true
	--benchmark_out="$OUT/pipeline.json" --benchmark_out_format=json)
"${CMD[@]}" >&2
# The source: HEAD, and the files the benchmark is built from that differ from it, if any.
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$REPO" status --porcelain -- src/event src/json src/backend/replay_backend.cpp include \
	tests/bench/pipeline_bench.cpp tests/unit/alloc_count.cpp 2>/dev/null | awk '{print $2}' | paste -sd' ' -)
python3 - "$OUT/pipeline.json" "$OUT/pipeline.md" "$COMMIT" "$RECORDS" "$(uname -sr)" "$DIRTY" \
	"$(printf '%q ' "${CMD[@]}" | sed "s|$REPO/||g")" <<'PY'
import json, sys
path, md, commit, records, kernel, dirty, command = sys.argv[1:8]
doc = json.load(open(path))
ctx = doc["context"]
ctx.update({"smith_commit": commit, "smith_uncommitted": dirty.split(), "kernel": kernel, "command": command})
json.dump(doc, open(path, "w"), indent=2)
rows = [b for b in doc["benchmarks"] if b.get("aggregate_name") == "median"]
source = commit + (f" with uncommitted changes to {dirty}" if dirty else "")
m = ["# Pipeline: decode -> normalize -> serialize, one core", "",
     f"{ctx['date']} · {kernel} · {ctx['num_cpus']} CPUs at {ctx['mhz_per_cpu']} MHz · source {source} · "
     f"records: {records.split('/')[-1]} (recorded from a real kernel by smithd --record) · medians of 5", "",
     f"Command: `{command}`", "",
     "| benchmark | events/s per core | ns per event (CPU) | JSON bytes per event | allocations per event |",
     "|---|---:|---:|---:|---:|"]
micro = []
for b in rows:
    name = b["run_name"]
    if "items_per_second" not in b:
        continue
    ips = b["items_per_second"]
    if name.startswith("BM_Json"):
        micro.append(f"| {name} | {1e9 / ips:,.1f} | {b.get('bytes_per_second', 0) / 1e9:,.2f} |")
        continue
    m.append(f"| {name} | {ips:,.0f} | {1e9 / ips:,.0f} | {b.get('bytes_per_event', 0):.0f} | "
             f"{b.get('allocs_per_event', 0):g} |".replace(",", " "))
if micro:
    m += ["", "The JSON writer's inner routines alone: one string value (escaped, quoted) or one integer per item.", "",
          "| benchmark | ns per item (CPU) | input GB/s |", "|---|---:|---:|"] + micro
open(md, "w").write("\n".join(m) + "\n")
print("\n".join(m))
PY
