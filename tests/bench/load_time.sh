#!/usr/bin/env bash
# load_time.sh: how long smithd --backend=ebpf takes to start, and the CPU its start costs.
#
#   tests/bench/load_time.sh [--rounds R] [--before-rev REV] [--attach auto|sys_exit|fexit]
#                            [--build-dir DIR] [--no-build] [--out DIR]
#
# Every host pays for the BPF verifier at every start of smithd, and an emulated or loaded
# CPU pays many times over. For R rounds (default 10), each configuration in turn:
#   smithd         this revision's smithd
#   smithd-before  the same, built from --before-rev REV (in /var/tmp/smith-bench-before-REV,
#                  as the other benchmarks build it)
# is started in the foreground (file sink to /dev/null, no pin, no state file) with
# --bpf-attach (default auto: fexit where the kernel allows trampolines, else sys_exit), and
# timed from its exec to its "running" line: "ready" is that wall time, "cpu" the user and
# system time smithd had used by then (most of it the kernel's verifier, in system time).
# Writes OUT/load_time.{json,md} (default OUT: tests/bench/results), named after the commit,
# command, kernel and date. Needs root and kernel BTF. Builds smithd (Release) in DIR (default
# build-bench) unless --no-build. Takes a few seconds per round.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
COMMAND_LINE="tests/bench/load_time.sh${*:+ $*}"

die() {
	echo "load_time: error: $*" >&2
	exit 1
}
log() { echo "load_time: $*" >&2; }

ROUNDS=10
BEFORE_REV=""
ATTACH=auto
BUILD_DIR="$REPO/build-bench"
BUILD=1
OUT="$SCRIPT_DIR/results"
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
	--before-rev) BEFORE_REV=${2:?--before-rev needs a revision}; shift 2 ;;
	--attach) ATTACH=${2:?--attach needs a mode}; shift 2 ;;
	--build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--out) OUT=${2:?--out needs a directory}; shift 2 ;;
	-h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option '$1'" ;;
	esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
case "$ATTACH" in auto | sys_exit | fexit) ;; *) die "--attach must be auto, sys_exit or fexit" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -e /sys/kernel/btf/vmlinux ] || die "the kernel has no BTF (/sys/kernel/btf/vmlinux)"

if [ "$BUILD" = 1 ]; then
	[ -f "$BUILD_DIR/CMakeCache.txt" ] ||
		cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	ninja -C "$BUILD_DIR" smithd >/dev/null || die "build failed (run: ninja -C $BUILD_DIR smithd)"
fi
SMITHD="$BUILD_DIR/smithd"
[ -x "$SMITHD" ] || die "$SMITHD not found"
declare -A BINARY=([smithd]=$SMITHD)
CONFIGS=(smithd)
if [ -n "$BEFORE_REV" ]; then
	# shellcheck source=tests/bench/before_rev.sh
	. "$SCRIPT_DIR/before_rev.sh"
	build_smithd_before "$REPO" "$BEFORE_REV" "${SMITH_BENCH_WORKDIR:-/var/tmp}" || die "--before-rev $BEFORE_REV"
	BINARY[smithd-before]=$SMITHD_BEFORE
	CONFIGS+=(smithd-before)
fi

WORK=$(mktemp -d /tmp/smith-load-time.XXXXXX)
PID=""
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
SAMPLES="$WORK/samples.jsonl"
TICKS=$(getconf CLK_TCK)

# One start: prints {"config", "round", "ready_s", "cpu_s"}.
one_start() {
	local config=$1 round=$2 dir="$WORK/$1-$2" start now deadline
	mkdir -p "$dir"
	start=$(date +%s%N)
	"${BINARY[$config]}" --backend=ebpf --bpf-attach="$ATTACH" --output /dev/null --pid-file "$dir/pid" \
		--socket "$dir/sock" --state-file "" --bpf-pin-dir "" --foreground >"$dir/log" 2>&1 &
	PID=$!
	deadline=$((start + 600 * 1000000000))
	until grep -q " running" "$dir/log"; do
		kill -0 "$PID" 2>/dev/null || die "$config did not start: $(tail -3 "$dir/log")"
		[ "$(date +%s%N)" -lt "$deadline" ] || die "$config did not start within 600 s"
		sleep 0.01
	done
	now=$(date +%s%N)
	# utime and stime, fields 14 and 15 of /proc/PID/stat (after the parenthesised name).
	read -r utime stime < <(sed 's/.*) //' "/proc/$PID/stat" | awk '{print $12, $13}')
	kill "$PID"
	wait "$PID" 2>/dev/null || true
	PID=""
	printf '{"config": "%s", "round": %d, "ready_s": %s, "cpu_s": %s}\n' "$config" "$round" \
		"$(echo "scale=3; ($now - $start) / 1000000000" | bc)" \
		"$(echo "scale=3; ($utime + $stime) / $TICKS" | bc)"
}

for round in $(seq 1 "$ROUNDS"); do
	for config in "${CONFIGS[@]}"; do
		one_start "$config" "$round" | tee -a "$SAMPLES" >&2
	done
done

mkdir -p "$OUT"
python3 - "$SAMPLES" "$OUT" "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	"$COMMAND_LINE" "$ROUNDS" "$ATTACH" "${BEFORE_REV:-}" <<'EOF'
import datetime, json, os, platform, statistics, sys

samples_path, out, rev, command, rounds, attach, before = sys.argv[1:8]
samples = [json.loads(l) for l in open(samples_path) if l.strip()]
configs = []
for s in samples:
    if s["config"] not in configs:
        configs.append(s["config"])
results = {}
for c in configs:
    ready = [s["ready_s"] for s in samples if s["config"] == c]
    cpu = [s["cpu_s"] for s in samples if s["config"] == c]
    results[c] = {"ready_s_median": statistics.median(ready), "ready_s_min": min(ready),
                  "ready_s_max": max(ready), "cpu_s_median": statistics.median(cpu)}
doc = {"benchmark": "load_time", "commit": rev, "command": command,
       "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
       "kernel": platform.release(), "nproc": os.cpu_count(), "rounds": int(rounds),
       "attach": attach, "before_rev": before or None, "results": results, "samples": samples}
with open(os.path.join(out, "load_time.json"), "w") as f:
    json.dump(doc, f, indent=2)
lines = [
    "# smithd --backend=ebpf: time to start, and the CPU the start costs",
    "",
    f"{doc['date']} · {doc['nproc']} CPUs · kernel {doc['kernel']} · source {rev} · {rounds} rounds · "
    f"--bpf-attach={attach} · `{command}`",
    "",
    "From smithd's exec to its \"running\" line. cpu: user + system time smithd had used by then "
    "(the verifier's work is system time).",
    "",
    "| config | ready, median (s) | min–max (s) | cpu, median (s) |",
    "|---|---:|---|---:|",
]
for c in configs:
    r = results[c]
    name = f"{c} ({before})" if c == "smithd-before" else c
    lines.append(f"| {name} | {r['ready_s_median']:.2f} | {r['ready_s_min']:.2f}–{r['ready_s_max']:.2f} | "
                 f"{r['cpu_s_median']:.2f} |")
with open(os.path.join(out, "load_time.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
