#!/usr/bin/env bash
# hook_overhead.sh: the latency smithd adds to the syscalls it hooks.
#
# Runs smith_hook_load's loops (UDP connect, refused TCP connect, fork+exec) in several
# configurations, interleaved, for R rounds in one run, and reports per loop the median
# ns/op of each configuration next to the bare one: added ns, ratio, added % of bare.
#
# Configurations (CONFIGS below; a new one is a config_start_*/config_stop_* pair):
#   bare              nothing loaded
#   smithd-ebpf-file  smithd --backend=ebpf with the file sink on local disk
# smithd is started once per round, before its loops, and stopped after them, so its
# start-up (BPF load, ~5-10 s) is outside every timing. The order of the configurations
# alternates from round to round so that a slow drift of the machine does not favour one.
# Before SIGTERM the script waits for smithd's queue to drain and keeps its status:
# kernel drops must be 0 and the events sent are recorded next to those the loops caused.
#
# A benchmark, not a test: it never fails on a number. It exits non-zero only when it
# cannot measure (not root, build failure, smithd does not start, a loop fails).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMMAND_LINE="$0${*:+ $*}"
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)

usage() {
	cat <<EOF
Usage: $0 [--out DIR] [--rounds R] [--quick] [--build-dir DIR] [--no-build]

  --out DIR        where hook_overhead.{json,md}, raw samples and smithd logs go
                   (default: BUILD_DIR/bench-results)
  --rounds R       interleaved rounds (default 5; 2 with --quick)
  --quick          smoke run: 2 rounds, iterations divided by 10
  --build-dir DIR  CMake build directory (default: $REPO/build-bench, Release)
  --no-build       use the binaries already in the build directory

Environment (override the iteration counts and places):
  SMITH_BENCH_UDP_ITERATIONS   udp_connect iterations          (default 200000)
  SMITH_BENCH_TCP_ITERATIONS   tcp_connect_refused iterations  (default 20000)
  SMITH_BENCH_EXEC_ITERATIONS  fork_exec iterations            (default 2000)
  SMITH_BENCH_WORKDIR          parent of smithd's working dir, on local disk (default /var/tmp)
  SMITH_BENCH_QUIET_WAIT       seconds to wait, before each sample, for other collectors
                               (smithd, bpftrace) to exit (default 30)
  SMITH_BENCH_QUIET_BUDGET     total seconds of such waiting in one run (default 180); past it,
                               samples are taken at once and marked when others run
Needs root and kernel BTF (/sys/kernel/btf/vmlinux), like smithd itself.
EOF
}

die() {
	echo "hook_overhead: error: $*" >&2
	exit 1
}
log() { echo "hook_overhead: $*" >&2; }

# ---- Options ---------------------------------------------------------------------------------

BUILD_DIR="$REPO/build-bench"
OUT=""
ROUNDS=""
QUICK=0
BUILD=1
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?--out needs a directory}; shift 2 ;;
	--out=*) OUT=${1#*=}; shift ;;
	--rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
	--rounds=*) ROUNDS=${1#*=}; shift ;;
	--quick) QUICK=1; shift ;;
	--build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift 2 ;;
	--build-dir=*) BUILD_DIR=${1#*=}; shift ;;
	--no-build) BUILD=0; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
done

scale=1
[ "$QUICK" = 1 ] && scale=10
[ -n "$ROUNDS" ] || { [ "$QUICK" = 1 ] && ROUNDS=2 || ROUNDS=5; }
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"

# Loops, in the order they run within one configuration, and their iteration counts.
LOOPS=(udp_connect tcp_connect_refused fork_exec)
declare -A ITERATIONS=(
	[udp_connect]=${SMITH_BENCH_UDP_ITERATIONS:-$((200000 / scale))}
	[tcp_connect_refused]=${SMITH_BENCH_TCP_ITERATIONS:-$((20000 / scale))}
	[fork_exec]=${SMITH_BENCH_EXEC_ITERATIONS:-$((2000 / scale))}
)
for loop in "${LOOPS[@]}"; do
	[[ "${ITERATIONS[$loop]}" =~ ^[1-9][0-9]*$ ]] || die "iterations for $loop must be a positive integer"
done
# The event type each loop's operation causes in smithd, and smith_hook_load's default
# warm-up: together they tell how many events one configuration's loops must produce.
declare -A LOOP_EVENT=([udp_connect]=connect [tcp_connect_refused]=connect [fork_exec]=execve)
warmup_of() { local n=$1; [ $((n / 10)) -ge 1 ] && echo $((n / 10)) || echo 1; }
declare -A EXPECTED_EVENTS=()
for loop in "${LOOPS[@]}"; do
	n=${ITERATIONS[$loop]}
	EXPECTED_EVENTS[${LOOP_EVENT[$loop]}]=$((${EXPECTED_EVENTS[${LOOP_EVENT[$loop]}]:-0} + n + $(warmup_of "$n")))
done
EXPECTED_JSON=$(for e in "${!EXPECTED_EVENTS[@]}"; do printf '"%s":%d\n' "$e" "${EXPECTED_EVENTS[$e]}"; done | paste -sd, -)
EXPECTED_JSON="{$EXPECTED_JSON}"

CONFIGS=(bare smithd-ebpf-file)
BASELINE=bare
QUIET_WAIT=${SMITH_BENCH_QUIET_WAIT:-30}
QUIET_BUDGET=${SMITH_BENCH_QUIET_BUDGET:-180}
WORK_PARENT=${SMITH_BENCH_WORKDIR:-/var/tmp}

# ---- Preconditions -------------------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || die "must run as root (smithd loads BPF programs); try: sudo $COMMAND_LINE"
[ -r /sys/kernel/btf/vmlinux ] || die "no kernel BTF (/sys/kernel/btf/vmlinux); smithd's eBPF backend needs it"
command -v python3 >/dev/null || die "python3 is needed to read smithd's status and write the report"
# The interpreter itself, not a wrapper script (a pyenv shim runs dozens of programs per call,
# and each would be an exec event in smithd's counters).
PYTHON=$(python3 -c 'import sys; print(sys.executable)')
[ -x /bin/true ] || die "/bin/true is missing (the fork_exec loop runs it)"

if [ "$BUILD" = 1 ]; then
	command -v cmake >/dev/null && command -v ninja >/dev/null || die "cmake and ninja are needed to build (or pass --no-build)"
	if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
		log "configuring $BUILD_DIR (Release)"
		cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake configure failed"
	fi
	log "building smithd smithctl smith_hook_load in $BUILD_DIR"
	ninja -C "$BUILD_DIR" smithd smithctl smith_hook_load >/dev/null || die "build failed (run: ninja -C $BUILD_DIR smithd smithctl smith_hook_load)"
fi
SMITHD="$BUILD_DIR/smithd"
SMITHCTL="$BUILD_DIR/smithctl"
LOAD="$BUILD_DIR/tests/bench/smith_hook_load"
for bin in "$SMITHD" "$SMITHCTL" "$LOAD"; do
	[ -x "$bin" ] || die "$bin not found (build it, or drop --no-build)"
done
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
[ "$BUILD_TYPE" = Release ] || log "warning: $BUILD_DIR is built as '${BUILD_TYPE:-unknown}', not Release"

[ -n "$OUT" ] || OUT="$BUILD_DIR/bench-results"
mkdir -p "$OUT/hook_overhead.raw"
OUT=$(cd "$OUT" && pwd)
RAW="$OUT/hook_overhead.raw"
SAMPLES="$RAW/samples.jsonl"  # one line per loop run: round, config, the load's JSON
RUNS="$RAW/smithd_runs.jsonl" # one line per smithd run: its status before SIGTERM, events written
: >"$SAMPLES"
: >"$RUNS"

WORK=$(mktemp -d "$WORK_PARENT/smith-bench.XXXXXX")
SMITHD_PID=""

stop_smithd() {
	[ -n "$SMITHD_PID" ] || return 0
	if kill -0 "$SMITHD_PID" 2>/dev/null; then
		kill -TERM "$SMITHD_PID" 2>/dev/null || true
		for _ in $(seq 300); do
			kill -0 "$SMITHD_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$SMITHD_PID" 2>/dev/null; then
			log "smithd $SMITHD_PID did not stop within 30 s of SIGTERM; sending SIGKILL"
			kill -KILL "$SMITHD_PID" 2>/dev/null || true
		fi
	fi
	wait "$SMITHD_PID" 2>/dev/null || true
	SMITHD_PID=""
}
cleanup() {
	stop_smithd
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- Other collectors ------------------------------------------------------------------------

# Prints "comm:pid" for every running collector that is not ours (they would add their
# own hooks to the timings), space separated; prints nothing when there are none.
foreign_collectors() {
	local f comm pid found=""
	for f in /proc/[0-9]*/comm; do
		read -r comm 2>/dev/null <"$f" || continue # a builtin: no exec events of our own
		case "$comm" in
		smithd | bpftrace) ;;
		*) continue ;;
		esac
		pid=${f#/proc/}
		pid=${pid%/comm}
		[ "$pid" = "$SMITHD_PID" ] && continue
		found+="${found:+ }$comm:$pid"
	done
	echo "$found"
}

# Waits (bounded per sample and per run) until no other collector runs. Collectors are
# looked for only before and after each sample: one that lives entirely within a sample
# goes unnoticed, and shows up as an outlier instead.
wait_quiet() {
	local others waited=0
	others=$(foreign_collectors)
	while [ -n "$others" ] && [ "$waited" -lt "$QUIET_WAIT" ] && [ "$QUIET_BUDGET" -gt 0 ]; do
		[ "$waited" = 0 ] && log "waiting up to ${QUIET_WAIT}s for other collectors to exit: $others"
		sleep 1
		waited=$((waited + 1))
		QUIET_BUDGET=$((QUIET_BUDGET - 1))
		others=$(foreign_collectors)
	done
	[ -z "$others" ] || log "warning: measuring while other collectors run: $others (sample marked)"
}

# ---- Configurations ------------------------------------------------------------------------
# config_start_<name> ROUND: make the configuration live (untimed).
# config_stop_<name> ROUND: undo it and append a line to $RUNS if there is something to check.

config_start_bare() { :; }
config_stop_bare() { :; }

# Succeeds when smithd answers status and, given a JSON object {event type: count}, when
# its queue is empty and at least that many events of each type have been sent.
smithd_caught_up() {
	local want=${1:-"{}"}
	"$SMITHCTL" status --json --socket="$WORK/smithd.sock" 2>/dev/null | "$PYTHON" -c '
import json, sys
s, want = json.load(sys.stdin), json.loads(sys.argv[1])
sent = s["events"]["sent"]
sys.exit(0 if s.get("queue_depth", 0) == 0 and all(sent.get(k, 0) >= n for k, n in want.items()) else 1)' "$want"
}

config_start_smithd-ebpf-file() {
	local round=$1 i
	rm -f "$WORK/smithd.pid" "$WORK/smithd.sock" "$WORK/events.json"
	"$SMITHD" --backend=ebpf --foreground --sink=file --output="$WORK/events.json" \
		--pid-file="$WORK/smithd.pid" --socket="$WORK/smithd.sock" --config=/dev/null \
		2>"$RAW/round-$round.smithd.log" &
	SMITHD_PID=$!
	for i in $(seq 600); do
		[ -e "$WORK/smithd.pid" ] && break
		if ! kill -0 "$SMITHD_PID" 2>/dev/null; then
			tail -n 20 "$RAW/round-$round.smithd.log" >&2
			SMITHD_PID=""
			die "smithd exited before it was ready (log: $RAW/round-$round.smithd.log)"
		fi
		sleep 0.1
	done
	[ -e "$WORK/smithd.pid" ] || die "smithd not ready after 60 s (log: $RAW/round-$round.smithd.log)"
	smithd_caught_up || die "smithd is up but smithctl status fails"
	log "round $round: smithd $SMITHD_PID ready after $((i / 10)).$((i % 10)) s"
}

config_stop_smithd-ebpf-file() {
	local round=$1 i status lines
	# Wait (at most 30 s) until smithd has sent as many events as the loops made calls and
	# its queue is empty, so that the status kept below covers them. (Waiting for the counters
	# to stop moving would not end: each status query is itself an exec event.) Kernel drops
	# need no wait: they are counted when a record does not fit in the ring buffer.
	for i in $(seq 60); do
		smithd_caught_up "$EXPECTED_JSON" && break
		kill -0 "$SMITHD_PID" 2>/dev/null || die "smithd exited during round $round (log: $RAW/round-$round.smithd.log)"
		sleep 0.5
	done
	status="$RAW/round-$round.smithd.status.json"
	"$SMITHCTL" status --json --socket="$WORK/smithd.sock" >"$status" || die "smithctl status failed in round $round"
	stop_smithd
	lines=$(wc -l <"$WORK/events.json" 2>/dev/null || echo 0)
	rm -f "$WORK/events.json" # up to ~100 MB a round
	"$PYTHON" - "$round" "$status" "$lines" >>"$RUNS" <<'EOF'
import json, sys
round_, path, lines = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
with open(path) as f:
    s = json.load(f)
print(json.dumps({"round": round_, "config": "smithd-ebpf-file",
                  "kernel_drops": sum(h.get("kernel_drops", 0) for h in s.get("hooks", [])),
                  "hooks": {h["name"]: h.get("kernel_drops", 0) for h in s.get("hooks", [])},
                  "sent": s["events"]["sent"], "received": s["events"]["received"],
                  "decode_errors": s.get("decode_errors", 0),
                  "sink_failed": s.get("sink", {}).get("failed", 0),
                  "lines_written": lines, "cpu_seconds": s.get("cpu_seconds"),
                  "rss_bytes": s.get("rss_bytes")}))
EOF
}

# ---- Measurement ---------------------------------------------------------------------------

# Runs every loop once in configuration $2 of round $1; appends a line per loop to $SAMPLES.
run_loops() {
	local round=$1 config=$2 loop result before after load1
	for loop in "${LOOPS[@]}"; do
		wait_quiet
		before=$(foreign_collectors)
		result=$("$LOAD" --loop "$loop" --iterations "${ITERATIONS[$loop]}") ||
			die "smith_hook_load --loop $loop failed in round $round ($config)"
		after=$(foreign_collectors)
		read -r load1 _ </proc/loadavg
		printf '{"round":%d,"config":"%s","others":"%s","loadavg_1m":%s,"result":%s}\n' \
			"$round" "$config" "$before${before:+${after:+ }}$after" "$load1" "$result" >>"$SAMPLES"
		log "round $round $config: $result"
	done
}

START=$(date +%s)
log "$ROUNDS rounds, configurations: ${CONFIGS[*]}; results in $OUT"
for round in $(seq 1 "$ROUNDS"); do
	order=("${CONFIGS[@]}")
	if [ $((round % 2)) = 0 ]; then # reverse the order every other round
		order=()
		for ((k = ${#CONFIGS[@]} - 1; k >= 0; k--)); do order+=("${CONFIGS[$k]}"); done
	fi
	for config in "${order[@]}"; do
		"config_start_$config" "$round"
		run_loops "$round" "$config"
		"config_stop_$config" "$round"
	done
done
log "measured in $(($(date +%s) - START)) s"

# ---- Report --------------------------------------------------------------------------------

iter_args=()
for loop in "${LOOPS[@]}"; do
	iter_args+=(--loop "$loop=${ITERATIONS[$loop]}:$(warmup_of "${ITERATIONS[$loop]}"):${LOOP_EVENT[$loop]}")
done
"$PYTHON" "$SCRIPT_DIR/hook_overhead_report.py" \
	--samples "$SAMPLES" --runs "$RUNS" --baseline "$BASELINE" --rounds "$ROUNDS" \
	--source-rev "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	--build-type "${BUILD_TYPE:-unknown}" --command "$COMMAND_LINE" "${iter_args[@]}" \
	--out-json "$OUT/hook_overhead.json" --out-md "$OUT/hook_overhead.md"
cat "$OUT/hook_overhead.md"
