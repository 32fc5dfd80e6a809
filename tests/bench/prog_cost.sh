#!/usr/bin/env bash
# prog_cost.sh: what connect's BPF program costs per run, as the kernel counts it.
#
#   tests/bench/prog_cost.sh [--rounds R] [--iterations N] [--before-rev REV] [--build-dir DIR]
#                            [--no-build] [--out DIR]
#
# hook_overhead.sh times whole syscalls, and on a shared machine the spread between its runs is
# larger than the program itself. This one reads the kernel's own accounting instead
# (sysctl kernel.bpf_stats_enabled=1: run_time_ns and run_cnt of every program, taken with
# sched_clock around each run), which other load on the machine does not inflate. For R rounds
# (default 5), each configuration in turn:
#   floor       smith_bench_floor --set smith: connect's empty program (sys_exit or fexit)
#   floor-emit  smith_bench_floor --set smith-emit: connect's program sends a record of smithd's
#               connect size (zeros and a time stamp) through an 8 MiB ring buffer, woken as
#               smithd's is
#   smithd      smithd --backend=ebpf, file sink to /dev/null, no connect budget
#   smithd-timed   the same with --hook-timing=true: what timing each hook adds
#   smithd-before  the same, built from --before-rev REV (in /var/tmp/smith-bench-before-REV,
#               as hook_overhead.sh builds it)
# is started, smith_hook_load's udp_connect loop makes N calls (default 500000), and the
# connect program's run time and run count over the loop give ns per run. The loop's ns/op is
# recorded too. The figures include the accounting's own cost (two sched_clock reads per
# run), the same for every configuration: "over floor" subtracts it with the empty program.
# Writes OUT/prog_cost.{json,md} (default OUT: tests/bench/results). Needs root and kernel
# BTF. Builds smithd, smith_hook_load and smith_bench_floor (Release) in DIR (default
# build-bench) unless --no-build. Takes about a minute per round.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
COMMAND_LINE="tests/bench/prog_cost.sh${*:+ $*}"

die() {
	echo "prog_cost: error: $*" >&2
	exit 1
}
log() { echo "prog_cost: $*" >&2; }

ROUNDS=5
ITERATIONS=500000
BEFORE_REV=""
BUILD_DIR="$REPO/build-bench"
BUILD=1
OUT="$SCRIPT_DIR/results"
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
	--iterations) ITERATIONS=${2:?--iterations needs a number}; shift 2 ;;
	--before-rev) BEFORE_REV=${2:?--before-rev needs a revision}; shift 2 ;;
	--build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--out) OUT=${2:?--out needs a directory}; shift 2 ;;
	-h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option '$1'" ;;
	esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
[[ "$ITERATIONS" =~ ^[1-9][0-9]*$ ]] || die "--iterations must be a positive integer"
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -e /sys/kernel/btf/vmlinux ] || die "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
command -v bpftool >/dev/null || die "bpftool is missing (apt-get install bpftool)"

if [ "$BUILD" = 1 ]; then
	[ -f "$BUILD_DIR/CMakeCache.txt" ] ||
		cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	ninja -C "$BUILD_DIR" smithd smith_hook_load smith_bench_floor >/dev/null ||
		die "build failed (run: ninja -C $BUILD_DIR smithd smith_hook_load smith_bench_floor)"
fi
SMITHD="$BUILD_DIR/smithd"
LOAD="$BUILD_DIR/tests/bench/smith_hook_load"
FLOOR="$BUILD_DIR/tests/bench/smith_bench_floor"
for b in "$SMITHD" "$LOAD" "$FLOOR"; do [ -x "$b" ] || die "$b not found"; done
CONFIGS=(floor floor-emit smithd smithd-timed)
if [ -n "$BEFORE_REV" ]; then
	# shellcheck source=tests/bench/before_rev.sh
	. "$SCRIPT_DIR/before_rev.sh"
	build_smithd_before "$REPO" "$BEFORE_REV" "${SMITH_BENCH_WORKDIR:-/var/tmp}" || die "--before-rev $BEFORE_REV"
	CONFIGS+=(smithd-before)
fi

WORK=$(mktemp -d /tmp/smith-prog-cost.XXXXXX)
SAMPLES="$WORK/samples.jsonl"
: >"$SAMPLES"
STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
PID=""
cleanup() {
	[ -z "$PID" ] || { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
	sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS" || true
	rm -rf "$WORK"
}
trap cleanup EXIT
sysctl -qw kernel.bpf_stats_enabled=1

FIRST_ID=0 # programs loaded since the collector started have ids above this
start() { # $1: config
	FIRST_ID=$(bpftool prog show -j | python3 -c 'import json, sys; print(max([p["id"] for p in json.load(sys.stdin)] + [0]))')
	rm -f "$WORK/ready" "$WORK/smithd.pid"
	case "$1" in
	floor) "$FLOOR" --set smith --ready "$WORK/ready" 2>"$WORK/$1.log" & ;;
	floor-emit) "$FLOOR" --set smith-emit --ready "$WORK/ready" 2>"$WORK/$1.log" & ;;
	smithd | smithd-timed | smithd-before)
		local bin=$SMITHD extra=()
		[ "$1" != smithd-before ] || bin=$SMITHD_BEFORE
		[ "$1" != smithd-timed ] || extra=(--hook-timing=true)
		"$bin" --backend=ebpf --foreground --sink=file --output=/dev/null --config=/dev/null \
			--pid-file="$WORK/smithd.pid" --socket="$WORK/smithd.sock" --heartbeat-interval=0 \
			--connect-budget-rate=0 "${extra[@]}" 2>"$WORK/$1.log" &
		;;
	esac
	PID=$!
	# Ready once its connect program is in (smithd writes its pid file before it loads).
	for _ in $(seq 600); do
		connect_prog_stats >/dev/null 2>&1 && return 0
		kill -0 "$PID" 2>/dev/null || { cat "$WORK/$1.log" >&2; die "$1 exited before it was ready"; }
		sleep 0.1
	done
	tail -n 20 "$WORK/$1.log" >&2
	die "$1 has no connect program after 60 s"
}
stop() { # $1: config
	kill "$PID"
	local status=0
	wait "$PID" || status=$?
	PID=""
	[ "$status" = 0 ] || { tail -n 20 "$WORK/$1.log" >&2; die "$1 exited with status $status on SIGTERM"; }
}

# The connect program of the collector just started: "run_time_ns run_cnt name". (bpftool
# cannot always tell which process holds a program; ids only grow, so the newest ones are its.)
connect_prog_stats() {
	bpftool prog show -j | python3 -c '
import json, sys
first = int(sys.argv[1])
names = ("floor_sys_exit", "emit_sys_exit", "sys_exit", "floor_fexit___x64_sys_connect",
         "emit_fexit_connect", "fexit___x64_sys_connect")
found = [p for p in json.load(sys.stdin)
         if p["id"] > first and p.get("name") in names]
if len(found) != 1:
    sys.exit("prog_cost: %d connect programs loaded since the collector started" % len(found))
p = found[0]
print(p.get("run_time_ns", 0), p.get("run_cnt", 0), p["name"])' "$FIRST_ID"
}

for round in $(seq "$ROUNDS"); do
	order=("${CONFIGS[@]}")
	[ $((round % 2)) = 1 ] || order=($(printf '%s\n' "${CONFIGS[@]}" | tac))
	for config in "${order[@]}"; do
		start "$config"
		read -r t0 c0 name < <(connect_prog_stats)
		loop=$("$LOAD" --loop udp_connect --iterations "$ITERATIONS")
		read -r t1 c1 _ < <(connect_prog_stats)
		stop "$config"
		printf '{"round":%d,"config":"%s","program":"%s","run_time_ns":%d,"run_cnt":%d,"loop":%s}\n' \
			"$round" "$config" "$name" $((t1 - t0)) $((c1 - c0)) "$loop" >>"$SAMPLES"
		log "round $round: $config ($name): $(((t1 - t0) / (c1 - c0 > 0 ? c1 - c0 : 1))) ns/run"
	done
done

mkdir -p "$OUT"
python3 - "$SAMPLES" "$OUT" "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	"$COMMAND_LINE" "$ROUNDS" "$ITERATIONS" "$BEFORE_REV" <<'EOF'
import datetime, json, os, platform, statistics, sys
samples_path, out, rev, command, rounds, iterations, before = sys.argv[1:]
samples = [json.loads(l) for l in open(samples_path) if l.strip()]
configs = [c for c in ["floor", "floor-emit", "smithd", "smithd-timed", "smithd-before"] if any(s["config"] == c for s in samples)]
rows = {}
for c in configs:
    mine = [s for s in samples if s["config"] == c]
    per_run = [s["run_time_ns"] / s["run_cnt"] for s in mine if s["run_cnt"]]
    rows[c] = {"config": c, "program": mine[0]["program"], "rounds": len(mine),
               "ns_per_run_median": statistics.median(per_run), "ns_per_run": per_run,
               "loop_ns_per_op_median": statistics.median(s["loop"]["ns_per_op"] for s in mine)}
empty = rows["floor"]["ns_per_run_median"]
for c in configs:
    rows[c]["over_floor_ns"] = rows[c]["ns_per_run_median"] - empty
emit = rows["floor-emit"]["over_floor_ns"]
for c in configs:
    if c.startswith("smithd"):
        rows[c]["over_floor_over_emit"] = rows[c]["over_floor_ns"] / emit if emit > 0 else None
doc = {"benchmark": "prog_cost", "source_rev": rev, "command": command,
       "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "kernel": platform.release(), "nproc": os.cpu_count(), "rounds": int(rounds),
       "iterations": int(iterations), "before_rev": before or None, "results": [rows[c] for c in configs], "samples": samples}
with open(os.path.join(out, "prog_cost.json"), "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
fmt = lambda x: "–" if x is None else f"{x:.1f}"
lines = [
    "# Connect's BPF program: cost per run, as the kernel counts it",
    "",
    f"{doc['date']} · {doc['nproc']} CPUs · kernel {doc['kernel']} · source {rev} · {rounds} rounds of "
    f"{iterations} UDP connect() calls per configuration, interleaved, medians",
    "",
    f"Command: `{command}`",
    "",
    "kernel.bpf_stats_enabled=1: run_time_ns / run_cnt of the program on connect's return, over the loop. "
    "Each run's figure includes the accounting itself (two sched_clock reads), the same in every row; "
    "\"over floor\" takes the empty program's figure away. floor: the empty program; floor-emit: the "
    "empty program plus sending a record of smithd's connect size (zeros and a time stamp) through an 8 MiB "
    "ring buffer (smithd's wakeup rule, a reader emptying it): the least a record per connect costs; "
    "smithd: smithd --backend=ebpf, file sink to /dev/null, no connect budget; smithd-timed: the same with "
    "--hook-timing=true; smithd-before: the same as smithd "
    "built from " + (before or "an earlier revision") + ".",
    "",
    "| config | program | ns per run | over floor, ns | over floor / floor-emit's | loop ns/op | ns per run, by round |",
    "|---|---|---:|---:|---:|---:|---|",
]
for c in configs:
    r = rows[c]
    lines.append(f"| {c} | `{r['program']}` | {r['ns_per_run_median']:.1f} | {r['over_floor_ns']:.1f} | "
                 f"{fmt(r.get('over_floor_over_emit'))} | {r['loop_ns_per_op_median']:.0f} | "
                 + ", ".join(f"{x:.0f}" for x in r["ns_per_run"]) + " |")
with open(os.path.join(out, "prog_cost.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
