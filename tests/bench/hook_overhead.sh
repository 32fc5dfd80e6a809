#!/usr/bin/env bash
# hook_overhead.sh: the latency smithd adds to the syscalls it hooks.
#
# Runs smith_hook_load's loops (UDP connect, refused TCP connect, fork+exec, and getppid, which
# nothing hooks but every program on sys_exit slows down) in several
# configurations, interleaved, for R rounds in one run, and reports per loop the median
# ns/op of each configuration next to the bare one: added ns, ratio, added % of bare.
#
# Configurations (ALL_CONFIGS below; a new one is a config_start_*/config_stop_* pair):
#   bare                nothing loaded
#   floor               empty BPF programs on the hooks smithd uses (tests/bench/floor.bpf.c):
#                       no collector built on those hooks can add less
#   floor-emit          the floor, but connect's program writes a record of smithd's connect size
#                       (zeros and a time stamp) into a ring buffer that a reader empties, woken
#                       as smithd's is: no collector that sends a record per connect through a
#                       BPF ring buffer can add less
#   floor-classic       empty programs on classic syscall tracepoints (connect and execve,
#                       entry and exit): the floor of tracefs-based collectors
#   smithd-ebpf-file    smithd --backend=ebpf with the file sink on local disk
#   smithd-ebpf-kafka   smithd --backend=ebpf into the local Kafka broker (local-broker.sh)
#   smithd-timed        smithd-ebpf-file with --hook-timing=true: what timing the hooks adds
#   smithd-before       smithd-ebpf-file built from --before-rev, for before/after in one run
#   bpftrace            tests/bench/peers/smith.bt printing the same events to a file
#   auditd              auditd with one rule on the four syscalls (execve, execveat, connect,
#                       init_module, finit_module)
# Peers and Kafka run only when installed (bpftrace, auditd, java+maven); classic tracepoints
# and bpftrace need tracefs, which is mounted at /sys/kernel/tracing for the run if absent.
# Each collector is started once per round, before its loops, and stopped after them, so
# its start-up (BPF load, ~5-15 s) is outside every timing. The order of the configurations
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
          [--configs LIST] [--before-rev REV]

  --out DIR        where hook_overhead.{json,md}, raw samples and smithd logs go
                   (default: BUILD_DIR/bench-results)
  --rounds R       interleaved rounds (default 5; 2 with --quick)
  --quick          smoke run: 2 rounds, iterations divided by 10
  --build-dir DIR  CMake build directory (default: $REPO/build-bench, Release)
  --no-build       use the binaries already in the build directory
  --configs LIST   comma-separated configurations (default: every one that can run here;
                   bare and floor are always included)
  --before-rev REV also measure smithd built from git revision REV (config smithd-before),
                   built in SMITH_BENCH_WORKDIR/smith-bench-before-REV

Environment (override the iteration counts and places):
  SMITH_BENCH_UDP_ITERATIONS   udp_connect iterations          (default 200000)
  SMITH_BENCH_TCP_ITERATIONS   tcp_connect_refused iterations  (default 20000)
  SMITH_BENCH_EXEC_ITERATIONS  fork_exec iterations            (default 2000)
  SMITH_BENCH_GETPPID_ITERATIONS getppid iterations (not hooked) (default 2000000)
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
WANT_CONFIGS=""
BEFORE_REV=""
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
	--configs) WANT_CONFIGS=${2:?--configs needs a list}; shift 2 ;;
	--configs=*) WANT_CONFIGS=${1#*=}; shift ;;
	--before-rev) BEFORE_REV=${2:?--before-rev needs a revision}; shift 2 ;;
	--before-rev=*) BEFORE_REV=${1#*=}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
done

scale=1
[ "$QUICK" = 1 ] && scale=10
[ -n "$ROUNDS" ] || { [ "$QUICK" = 1 ] && ROUNDS=2 || ROUNDS=5; }
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"

# Loops, in the order they run within one configuration, and their iteration counts.
LOOPS=(udp_connect tcp_connect_refused fork_exec getppid)
declare -A ITERATIONS=(
	[udp_connect]=${SMITH_BENCH_UDP_ITERATIONS:-$((200000 / scale))}
	[tcp_connect_refused]=${SMITH_BENCH_TCP_ITERATIONS:-$((20000 / scale))}
	[fork_exec]=${SMITH_BENCH_EXEC_ITERATIONS:-$((2000 / scale))}
	[getppid]=${SMITH_BENCH_GETPPID_ITERATIONS:-$((2000000 / scale))}
)
for loop in "${LOOPS[@]}"; do
	[[ "${ITERATIONS[$loop]}" =~ ^[1-9][0-9]*$ ]] || die "iterations for $loop must be a positive integer"
done
# The event type each loop's operation causes in smithd, and smith_hook_load's default
# warm-up: together they tell how many events one configuration's loops must produce.
declare -A LOOP_EVENT=([udp_connect]=connect [tcp_connect_refused]=connect [fork_exec]=execve [getppid]=none)
warmup_of() { local n=$1; [ $((n / 10)) -ge 1 ] && echo $((n / 10)) || echo 1; }
declare -A EXPECTED_EVENTS=()
for loop in "${LOOPS[@]}"; do
	n=${ITERATIONS[$loop]}
	[ "${LOOP_EVENT[$loop]}" != none ] || continue
	EXPECTED_EVENTS[${LOOP_EVENT[$loop]}]=$((${EXPECTED_EVENTS[${LOOP_EVENT[$loop]}]:-0} + n + $(warmup_of "$n")))
done
EXPECTED_JSON=$(for e in "${!EXPECTED_EVENTS[@]}"; do printf '"%s":%d\n' "$e" "${EXPECTED_EVENTS[$e]}"; done | paste -sd, -)
EXPECTED_JSON="{$EXPECTED_JSON}"

ALL_CONFIGS=(bare floor floor-emit floor-classic smithd-ebpf-file smithd-ebpf-kafka smithd-timed smithd-before bpftrace auditd)
BASELINE=bare
FLOOR=floor
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
	log "building smithd smithctl smith_hook_load smith_bench_floor in $BUILD_DIR"
	ninja -C "$BUILD_DIR" smithd smithctl smith_hook_load smith_bench_floor >/dev/null ||
		die "build failed (run: ninja -C $BUILD_DIR smithd smithctl smith_hook_load smith_bench_floor)"
fi
SMITHD="$BUILD_DIR/smithd"
SMITHCTL="$BUILD_DIR/smithctl"
LOAD="$BUILD_DIR/tests/bench/smith_hook_load"
FLOOR_BIN="$BUILD_DIR/tests/bench/smith_bench_floor"
for bin in "$SMITHD" "$SMITHCTL" "$LOAD" "$FLOOR_BIN"; do
	[ -x "$bin" ] || die "$bin not found (build it, or drop --no-build)"
done
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
[ "$BUILD_TYPE" = Release ] || log "warning: $BUILD_DIR is built as '${BUILD_TYPE:-unknown}', not Release"

SMITHD_BEFORE=""
if [ -n "$BEFORE_REV" ]; then
	# shellcheck source=tests/bench/before_rev.sh
	. "$SCRIPT_DIR/before_rev.sh"
	build_smithd_before "$REPO" "$BEFORE_REV" "$WORK_PARENT" || die "--before-rev $BEFORE_REV"
fi

# ---- Which configurations can run here -----------------------------------------------------

TRACEFS=/sys/kernel/tracing
MOUNTED_TRACEFS=0
have_tracefs() {
	[ -d "$TRACEFS/events/syscalls" ] && return 0
	mount -t tracefs nodev "$TRACEFS" 2>/dev/null && MOUNTED_TRACEFS=1
	[ -d "$TRACEFS/events/syscalls" ]
}
BROKER_SH="$REPO/packaging/kafka/local-broker.sh"
export SMITH_KAFKA_DATA=${SMITH_BENCH_KAFKA_DATA:-/var/tmp/smith-kafka-hook-bench}
export SMITH_KAFKA_PORT=${SMITH_BENCH_KAFKA_PORT:-19096}
export SMITH_KAFKA_CONTROLLER_PORT=$((SMITH_KAFKA_PORT + 1))
SKIPPED=() # "config: reason"
can_run() {
	case "$1" in
	bare | floor | floor-emit | smithd-ebpf-file | smithd-timed) return 0 ;;
	floor-classic) have_tracefs || { SKIPPED+=("$1: no syscall tracepoints in tracefs"); return 1; } ;;
	smithd-before) [ -n "$SMITHD_BEFORE" ] || { SKIPPED+=("$1: no --before-rev"); return 1; } ;;
	smithd-ebpf-kafka)
		command -v java >/dev/null && command -v mvn >/dev/null ||
			{ SKIPPED+=("$1: java and maven are needed for the local broker"); return 1; } ;;
	bpftrace)
		command -v bpftrace >/dev/null || { SKIPPED+=("$1: bpftrace is not installed"); return 1; }
		have_tracefs || { SKIPPED+=("$1: no syscall tracepoints in tracefs"); return 1; } ;;
	auditd)
		command -v auditd >/dev/null && command -v auditctl >/dev/null ||
			{ SKIPPED+=("$1: auditd is not installed"); return 1; }
		auditctl -s >/dev/null 2>&1 || { SKIPPED+=("$1: the kernel has no audit support"); return 1; }
		pgrep -x auditd >/dev/null && { SKIPPED+=("$1: an auditd already runs on this host"); return 1; } ;;
	*) die "unknown configuration '$1' (known: ${ALL_CONFIGS[*]})" ;;
	esac
	return 0
}
CONFIGS=()
if [ -n "$WANT_CONFIGS" ]; then
	IFS=, read -r -a wanted <<<"bare,floor,$WANT_CONFIGS"
else
	wanted=("${ALL_CONFIGS[@]}")
fi
for c in "${wanted[@]}"; do
	[[ " ${CONFIGS[*]} " == *" $c "* ]] && continue
	can_run "$c" && CONFIGS+=("$c")
done
for s in "${SKIPPED[@]}"; do log "skipping $s"; done

[ -n "$OUT" ] || OUT="$BUILD_DIR/bench-results"
mkdir -p "$OUT/hook_overhead.raw"
OUT=$(cd "$OUT" && pwd)
RAW="$OUT/hook_overhead.raw"
SAMPLES="$RAW/samples.jsonl"  # one line per loop run: round, config, the load's JSON
RUNS="$RAW/smithd_runs.jsonl" # one line per smithd run: its status before SIGTERM, events written
: >"$SAMPLES"
: >"$RUNS"

WORK=$(mktemp -d "$WORK_PARENT/smith-bench.XXXXXX")
COLLECTOR_PID="" # the running configuration's process (smithd, the floor, bpftrace, auditd)
BROKER_STARTED=0

stop_collector() {
	[ -n "$COLLECTOR_PID" ] || return 0
	if kill -0 "$COLLECTOR_PID" 2>/dev/null; then
		kill -TERM "$COLLECTOR_PID" 2>/dev/null || true
		for _ in $(seq 300); do
			kill -0 "$COLLECTOR_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$COLLECTOR_PID" 2>/dev/null; then
			log "process $COLLECTOR_PID did not stop within 30 s of SIGTERM; sending SIGKILL"
			kill -KILL "$COLLECTOR_PID" 2>/dev/null || true
		fi
	fi
	wait "$COLLECTOR_PID" 2>/dev/null || true
	COLLECTOR_PID=""
}
cleanup() {
	stop_collector
	if [ -n "${AUDIT_ENABLED_BEFORE:-}" ]; then
		auditctl -D >/dev/null 2>&1 || true
		auditctl -e "$AUDIT_ENABLED_BEFORE" >/dev/null 2>&1 || true
	fi
	[ "$BROKER_STARTED" = 1 ] && "$BROKER_SH" stop >/dev/null 2>&1
	[ "$MOUNTED_TRACEFS" = 1 ] && umount "$TRACEFS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- Other collectors ------------------------------------------------------------------------

# Prints "comm:pid" for every running collector that is not the configuration's own (they would add their
# own hooks to the timings), space separated; prints nothing when there are none.
foreign_collectors() {
	local f comm pid found=""
	for f in /proc/[0-9]*/comm; do
		read -r comm 2>/dev/null <"$f" || continue # a builtin: no exec events of our own
		case "$comm" in
		smithd | bpftrace | auditd | smith_bench_flo*) ;;
		*) continue ;;
		esac
		pid=${f#/proc/}
		pid=${pid%/comm}
		[ "$pid" = "$COLLECTOR_PID" ] && continue
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

# start_smithd ROUND CONFIG BINARY ARGS...: smithd with the ebpf backend and ARGS, until ready.
start_smithd() {
	local round=$1 config=$2 bin=$3 i
	shift 3
	rm -f "$WORK/smithd.pid" "$WORK/smithd.sock" "$WORK/events.json"
	# The loops connect far faster than a process's connect budget lets through (budget.h): with
	# the budget off, every call costs its whole event, as in a smithd from before budgets.
	local budget=()
	"$bin" --help 2>/dev/null | grep -q -- --connect-budget-rate && budget=(--connect-budget-rate=0)
	"$bin" --backend=ebpf --foreground --pid-file="$WORK/smithd.pid" --socket="$WORK/smithd.sock" \
		--config=/dev/null "${budget[@]}" "$@" 2>"$RAW/round-$round.$config.log" &
	COLLECTOR_PID=$!
	for i in $(seq 600); do
		[ -e "$WORK/smithd.pid" ] && break
		if ! kill -0 "$COLLECTOR_PID" 2>/dev/null; then
			tail -n 20 "$RAW/round-$round.$config.log" >&2
			COLLECTOR_PID=""
			die "smithd exited before it was ready (log: $RAW/round-$round.$config.log)"
		fi
		sleep 0.1
	done
	[ -e "$WORK/smithd.pid" ] || die "smithd not ready after 60 s (log: $RAW/round-$round.$config.log)"
	# Ready once status answers with an empty queue. With the Kafka sink the first events, and
	# those of each status query (itself an exec event), are briefly in flight: one success is
	# enough.
	local ready=0
	for _ in $(seq 600); do
		smithd_caught_up && { ready=1; break; }
		kill -0 "$COLLECTOR_PID" 2>/dev/null || die "smithd exited before it was ready (log: $RAW/round-$round.$config.log)"
		sleep 0.1
	done
	[ "$ready" = 1 ] || die "smithd is up but smithctl status fails or its queue does not empty"
	log "round $round: $config: smithd $COLLECTOR_PID ready after $((i / 10)).$((i % 10)) s"
}

# stop_smithd ROUND CONFIG: waits for the events, keeps the status, stops smithd, appends to $RUNS.
stop_smithd() {
	local round=$1 config=$2 i status lines
	# Wait (at most 30 s) until smithd has sent as many events as the loops made calls and
	# its queue is empty, so that the status kept below covers them. (Waiting for the counters
	# to stop moving would not end: each status query is itself an exec event.) Kernel drops
	# need no wait: they are counted when a record does not fit in the ring buffer.
	for i in $(seq 60); do
		smithd_caught_up "$EXPECTED_JSON" && break
		kill -0 "$COLLECTOR_PID" 2>/dev/null || die "smithd exited during round $round (log: $RAW/round-$round.$config.log)"
		sleep 0.5
	done
	status="$RAW/round-$round.$config.status.json"
	"$SMITHCTL" status --json --socket="$WORK/smithd.sock" >"$status" || die "smithctl status failed in round $round"
	stop_collector
	lines=$(wc -l <"$WORK/events.json" 2>/dev/null || echo 0)
	rm -f "$WORK/events.json" # up to ~100 MB a round
	"$PYTHON" - "$round" "$config" "$status" "$lines" >>"$RUNS" <<'PY'
import json, sys
round_, config, path, lines = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(path) as f:
    s = json.load(f)
print(json.dumps({"round": round_, "config": config,
                  "kernel_drops": sum(h.get("kernel_drops", 0) for h in s.get("hooks", [])),
                  "hooks": {h["name"]: h.get("kernel_drops", 0) for h in s.get("hooks", [])},
                  "sent": s["events"]["sent"], "received": s["events"]["received"],
                  "decode_errors": s.get("decode_errors", 0),
                  "sink_failed": s.get("sink", {}).get("failed", 0),
                  "lines_written": lines, "cpu_seconds": s.get("cpu_seconds"),
                  "rss_bytes": s.get("rss_bytes")}))
PY
}

config_start_smithd-ebpf-file() { start_smithd "$1" smithd-ebpf-file "$SMITHD" --sink=file --output="$WORK/events.json"; }
config_stop_smithd-ebpf-file() { stop_smithd "$1" smithd-ebpf-file; }
config_start_smithd-timed() {
	start_smithd "$1" smithd-timed "$SMITHD" --sink=file --output="$WORK/events.json" --hook-timing=true
}
config_stop_smithd-timed() { stop_smithd "$1" smithd-timed; }
config_start_smithd-before() { start_smithd "$1" smithd-before "$SMITHD_BEFORE" --sink=file --output="$WORK/events.json"; }
config_stop_smithd-before() { stop_smithd "$1" smithd-before; }

config_start_smithd-ebpf-kafka() {
	if [ "$BROKER_STARTED" = 0 ]; then
		log "starting the local Kafka broker on 127.0.0.1:$SMITH_KAFKA_PORT (data $SMITH_KAFKA_DATA)"
		"$BROKER_SH" start >>"$RAW/broker.log" 2>&1 || die "the broker did not start (see $RAW/broker.log)"
		BROKER_STARTED=1
	fi
	start_smithd "$1" smithd-ebpf-kafka "$SMITHD" --sink=kafka --brokers="127.0.0.1:$SMITH_KAFKA_PORT" \
		--topic=smith-hook-bench --heartbeat-interval=0 --spool-dir="$WORK/spool"
}
config_stop_smithd-ebpf-kafka() { stop_smithd "$1" smithd-ebpf-kafka; }

# start_floor ROUND SET: smith_bench_floor --set SET, until its programs are attached.
start_floor() {
	local round=$1 set=$2 config=$3
	rm -f "$WORK/floor.ready"
	"$FLOOR_BIN" --set "$set" --ready "$WORK/floor.ready" 2>"$RAW/round-$round.$config.log" &
	COLLECTOR_PID=$!
	for _ in $(seq 300); do
		[ -e "$WORK/floor.ready" ] && return 0
		kill -0 "$COLLECTOR_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$RAW/round-$round.$config.log" >&2
	die "smith_bench_floor --set $set did not attach"
}
config_start_floor() { start_floor "$1" smith floor; }
config_stop_floor() { stop_collector; }
config_start_floor-emit() { start_floor "$1" smith-emit floor-emit; }
config_stop_floor-emit() { stop_collector; }
config_start_floor-classic() { start_floor "$1" classic floor-classic; }
config_stop_floor-classic() { stop_collector; }

config_start_bpftrace() {
	local round=$1 script="$WORK/smith.bt"
	cat "$SCRIPT_DIR/peers/smith.bt" >"$script"
	[ -d "$TRACEFS/events/syscalls/sys_exit_finit_module" ] && cat "$SCRIPT_DIR/peers/smith-modules.bt" >>"$script"
	bpftrace -o "$WORK/bpftrace.out" "$script" 2>"$RAW/round-$round.bpftrace.log" &
	COLLECTOR_PID=$!
	for _ in $(seq 1200); do # attaching takes 10-20 s
		grep -q '^Attaching' "$WORK/bpftrace.out" 2>/dev/null && { sleep 0.5; return 0; }
		kill -0 "$COLLECTOR_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$RAW/round-$round.bpftrace.log" >&2
	die "bpftrace did not attach (log: $RAW/round-$round.bpftrace.log)"
}
config_stop_bpftrace() {
	local round=$1 lines lost
	stop_collector
	lines=$(grep -c '^connect \|^execve ' "$WORK/bpftrace.out" || true)
	lost=$(sed -n 's/^Lost \([0-9]*\) events.*/\1/p' "$WORK/bpftrace.out" | awk '{s += $1} END {print s + 0}')
	printf '{"round":%d,"config":"bpftrace","lines_written":%d,"lost":%d}\n' "$round" "${lines:-0}" "${lost:-0}" >>"$RUNS"
	rm -f "$WORK/bpftrace.out"
}

AUDIT_RULE=(-a always,exit -F arch=b64 -S execve,execveat,connect,init_module,finit_module -k smith-hook-bench)
config_start_auditd() {
	local round=$1
	[ -n "${AUDIT_ENABLED_BEFORE:-}" ] || AUDIT_ENABLED_BEFORE=$(auditctl -s | awk '$1 == "enabled" {print $2}')
	mkdir -p /var/log/audit
	: >/var/log/audit/audit.log
	auditd -n 2>"$RAW/round-$round.auditd.log" &
	COLLECTOR_PID=$!
	for _ in $(seq 100); do
		auditctl -s 2>/dev/null | grep -q "^pid $COLLECTOR_PID\$" && break
		kill -0 "$COLLECTOR_PID" 2>/dev/null || die "auditd exited (log: $RAW/round-$round.auditd.log)"
		sleep 0.1
	done
	auditctl -b 8192 >/dev/null
	auditctl "${AUDIT_RULE[@]}" >/dev/null || die "auditctl refused the rule"
}
config_stop_auditd() {
	local round=$1 lost lines
	auditctl -D >/dev/null
	lost=$(auditctl -s | awk '$1 == "lost" {print $2}')
	stop_collector
	auditctl -e "$AUDIT_ENABLED_BEFORE" >/dev/null 2>&1 || true
	# auditd rotates its log every 8 MB by default: count over every file.
	lines=$(cat /var/log/audit/audit.log* 2>/dev/null | grep -c 'key="smith-hook-bench"' || true)
	printf '{"round":%d,"config":"auditd","lines_written":%d,"lost":%d}\n' "$round" "${lines:-0}" "${lost:-0}" >>"$RUNS"
	rm -f /var/log/audit/audit.log.[0-9]*
	: >/var/log/audit/audit.log
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
	--samples "$SAMPLES" --runs "$RUNS" --baseline "$BASELINE" --floor "$FLOOR" --rounds "$ROUNDS" \
	--before-rev "${BEFORE_REV:-}" --skipped "$(printf '%s\n' "${SKIPPED[@]}")" \
	--source-rev "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	--build-type "${BUILD_TYPE:-unknown}" --command "$COMMAND_LINE" "${iter_args[@]}" \
	--out-json "$OUT/hook_overhead.json" --out-md "$OUT/hook_overhead.md"
cat "$OUT/hook_overhead.md"
