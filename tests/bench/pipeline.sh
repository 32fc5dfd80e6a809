#!/usr/bin/env bash
# pipeline.sh: runs smith_pipeline_bench (decode -> normalize -> serialize over recorded raw
# records, one thread) with repetitions and writes pipeline.json (Google Benchmark's JSON)
# and pipeline.md (medians: events/s per core, ns per event, allocations per event).
#
#   tests/bench/pipeline.sh [--out DIR] [--build-dir DIR] [--no-build] [--records FILE]
#                           [--against OTHER_BUILD_DIR --against-label LABEL]
# --against also runs the BM_Pipeline rows of another build's smith_pipeline_bench (an older
# commit, built the same way) in 5 interleaved rounds with this one and writes
# pipeline_vs_LABEL.{json,md}: medians side by side, and their ratio.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
BUILD_DIR="$REPO/build-bench"
OUT=""
BUILD=1
RECORDS="$SCRIPT_DIR/data/mixed.smithraw"
AGAINST=""
AGAINST_LABEL=""
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
	--against) AGAINST=${2:?}; shift 2 ;;
	--against-label) AGAINST_LABEL=${2:?}; shift 2 ;;
	-h | --help) sed -n '2,11p' "$0"; exit 0 ;;
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
        gbs = b.get("bytes_per_second", 0) / 1e9
        micro.append(f"| {name} | {1e9 / ips:,.1f} | {f'{gbs:.2f}' if gbs else '-'} |".replace(",", " "))
        continue
    m.append(f"| {name} | {ips:,.0f} | {1e9 / ips:,.0f} | {b.get('bytes_per_event', 0):.0f} | "
             f"{b.get('allocs_per_event', 0):g} |".replace(",", " "))
if micro:
    m += ["", "The JSON writer's inner routines alone: one string value (escaped, quoted) or one integer per item.", "",
          "| benchmark | ns per item (CPU) | input GB/s |", "|---|---:|---:|"] + micro
open(md, "w").write("\n".join(m) + "\n")
print("\n".join(m))
PY
[ -n "$AGAINST" ] || exit 0

# Side by side with another build: rounds alternate which binary runs first.
OTHER="$AGAINST/tests/bench/smith_pipeline_bench"
[ -x "$OTHER" ] || die "$OTHER not found"
[ -n "$AGAINST_LABEL" ] || die "--against needs --against-label"
ROUNDS=$(mktemp -d)
trap 'rm -rf "$ROUNDS"' EXIT
for r in 1 2 3 4 5; do
	order="this other"
	[ $((r % 2)) = 0 ] && order="other this"
	for side in $order; do
		bin=$BENCH
		[ "$side" = other ] && bin=$OTHER
		"$bin" --records "$RECORDS" --benchmark_filter=BM_Pipeline --benchmark_min_time=1 \
			--benchmark_out="$ROUNDS/$side-$r.json" --benchmark_out_format=json >/dev/null
	done
done
python3 - "$ROUNDS" "$OUT/pipeline_vs_$AGAINST_LABEL.json" "$OUT/pipeline_vs_$AGAINST_LABEL.md" "$COMMIT" \
	"$AGAINST_LABEL" "$(uname -sr)" "$DIRTY" <<'PY'
import glob, json, os, statistics, sys
rounds_dir, out_json, out_md, commit, label, kernel, dirty = sys.argv[1:8]
runs = {"this": [], "other": []}
for side in runs:
    for r in range(1, 6):
        runs[side].append(json.load(open(os.path.join(rounds_dir, f"{side}-{r}.json"))))
ctx = runs["this"][0]["context"]
names = [b["name"] for b in runs["this"][0]["benchmarks"]]
def med(side, name, key):
    return statistics.median(b[key] for run in runs[side] for b in run["benchmarks"] if b["name"] == name)
rows = []
for name in names:
    rows.append({"benchmark": name,
                 label: {"items_per_second": med("other", name, "items_per_second"),
                         "allocs_per_event": med("other", name, "allocs_per_event")},
                 commit: {"items_per_second": med("this", name, "items_per_second"),
                          "allocs_per_event": med("this", name, "allocs_per_event")}})
source = commit + (f" with uncommitted changes to {dirty}" if dirty else "")
json.dump({"date": ctx["date"], "kernel": kernel, "num_cpus": ctx["num_cpus"], "mhz_per_cpu": ctx["mhz_per_cpu"],
           "this": source, "against": label, "rounds": 5, "medians": rows,
           "runs": runs}, open(out_json, "w"), indent=2)
m = [f"# Pipeline: {commit} against {label}, side by side", "",
     f"{ctx['date']} · {kernel} · {ctx['num_cpus']} CPUs at {ctx['mhz_per_cpu']} MHz · this: {source} · "
     f"5 interleaved rounds of each build's smith_pipeline_bench --benchmark_filter=BM_Pipeline, medians", "",
     f"| benchmark | {label} events/s per core | {label} ns/event | {commit} events/s per core | {commit} ns/event | ratio | allocations per event ({label} / {commit}) |",
     "|---|---:|---:|---:|---:|---:|---:|"]
for row in rows:
    a, b = row[label]["items_per_second"], row[commit]["items_per_second"]
    m.append(f"| {row['benchmark']} | {a:,.0f} | {1e9 / a:,.0f} | {b:,.0f} | {1e9 / b:,.0f} | {b / a:.2f} | "
             f"{row[label]['allocs_per_event']:g} / {row[commit]['allocs_per_event']:g} |".replace(",", " "))
open(out_md, "w").write("\n".join(m) + "\n")
print("\n".join(m))
PY
