#!/usr/bin/env bash
# plot.sh: draws hook_overhead.json as a PNG chart with gnuplot: for each loop (UDP connect,
# refused TCP connect, fork+exec), the latency each configuration adds to one call over
# bare, on a log scale (auditd adds 100x what the floor does).
#
#   tests/bench/plot.sh [RESULTS_DIR]     reads RESULTS_DIR/hook_overhead.json (default:
#                                         tests/bench/results), writes hook_overhead.png beside it
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${1:-$SCRIPT_DIR/results}
IN="$DIR/hook_overhead.json"
OUT="$DIR/hook_overhead.png"
[ -r "$IN" ] || { echo "plot: error: $IN not found (run tests/bench/hook_overhead.sh first)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "plot: error: gnuplot is not installed (apt-get install gnuplot-nox)" >&2; exit 1; }

DATA=$(mktemp)
trap 'rm -f "$DATA"' EXIT
# One row per configuration, one column per loop: added ns (at least 1 for the log scale).
TITLE=$(python3 - "$IN" "$DATA" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
loops = list(doc["loops"])
configs = [c for c in doc["configs"] if c != doc["baseline"]]
added = {(r["loop"], r["config"]): r.get("added_ns") for r in doc["results"]}
with open(sys.argv[2], "w") as f:
    f.write("config " + " ".join(loops) + "\n")
    for c in configs:
        f.write(c + " " + " ".join(str(max(1.0, added.get((l, c)) or 1.0)) for l in loops) + "\n")
m = doc["machine"]
print(f"Latency added per call over bare ({m['nproc']} CPUs, kernel {m['kernel']}, {doc['rounds']} rounds, medians)")
PY
)
NLOOPS=$(head -1 "$DATA" | wc -w)
gnuplot <<EOF
set terminal pngcairo size 1200,600 font "sans,10" noenhanced
set output "$OUT"
set title "$TITLE"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set ylabel "added ns per call (log scale)"
set key top left
set grid ytics
set xtics rotate by -20
plot for [i=2:$NLOOPS] "$DATA" using i:xtic(1) title columnheader(i)
EOF
echo "plot: wrote $OUT"
