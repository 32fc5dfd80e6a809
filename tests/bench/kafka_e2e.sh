#!/usr/bin/env bash
# kafka_e2e.sh: smithd into a real local Kafka broker, end to end.
#
# Part 1, zero-loss rate. For each offered rate (RATES below; 0 means as fast as one thread
# can), a fresh smithd (eBPF backend, Kafka sink, its own topic and spool directory) is fed
# UDP connect() calls by smith_paced_load for STEP_SECONDS. The script then waits until smithd
# has every event acknowledged by the broker (or DRAIN_TIMEOUT passes), keeps its status,
# stops it with SIGTERM and reads the topic back: the run's seq must be 1..N with no gap and
# no duplicate, where N is the number of events smithd says it assigned. Per step: events
# offered and delivered, missing and duplicate seq, kernel drops, spooled and spool-dropped
# events, the time to drain after the load, smithd's CPU% over the load (utime+stime from
# /proc, per thread too), its peak RSS (VmHWM), the broker's CPU% and the machine's.
# The report names the highest offered rate with no loss of any kind.
#
# Part 2, SIGKILL during an outage. smithd is fed a steady OUTAGE_RATE; the broker is stopped;
# OUTAGE_SECONDS later smithd gets SIGKILL; the broker comes back and a new smithd on the same
# spool directory sends what the spool holds. The topic is read back: how many of the killed
# run's seq values arrived out of those it assigned (events that were only in librdkafka's
# memory queue die with the process), and whether the second run is complete.
#
# The broker is packaging/kafka/local-broker.sh on its own ports and data directory, started
# here and wiped at the end. A benchmark, not a test: it never fails on a number. It exits
# non-zero only when it cannot measure (not root, build failure, broker or smithd does not
# start, a tool fails).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMMAND_LINE="$0${*:+ $*}"
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)

usage() {
	cat <<EOF
Usage: $0 [--out DIR] [--quick] [--head] [--build-dir DIR] [--no-build] [--skip-outage] [--skip-rates]
          [--durability disk|memory]

  --out DIR        where kafka_e2e.{json,md}, raw files and smithd logs go
                   (default: $REPO/build-bench/bench-results)
  --quick          smoke run: 3 s steps, three rates, a short outage
  --head           build the last commit (git archive HEAD into SMITH_BENCH_WORKDIR), not
                   the working tree, so that uncommitted edits stay out of the measurement
                   (build directory: SMITH_BENCH_WORKDIR/smith-kafka-bench-build)
  --build-dir DIR  CMake build directory (default: $REPO/build-bench, Release)
  --no-build       use the binaries already in the build directory
  --skip-rates     only part 2 (SIGKILL during an outage)
  --skip-outage    only part 1 (zero-loss rate)
  --durability M   smithd --durability M: disk (the default: every event journaled in the
                   spool before librdkafka has it) or memory

Environment:
  SMITH_BENCH_KAFKA_RATES           offered rates, events/s, 0 = unpaced
                                    (default "20000 50000 100000 200000 0")
  SMITH_BENCH_KAFKA_STEP_SECONDS    load per step (default 10)
  SMITH_BENCH_KAFKA_DRAIN_TIMEOUT   seconds to wait for delivery after a step's load (default 45)
  SMITH_BENCH_KAFKA_OUTAGE_DRAIN_TIMEOUT  seconds for the second run of part 2 to empty the
                                    spool (default 120)
  SMITH_BENCH_KAFKA_OUTAGE_RATE     events/s during part 2 (default 20000)
  SMITH_BENCH_KAFKA_OUTAGE_SECONDS  seconds between broker stop and SIGKILL (default 10)
  SMITH_BENCH_KAFKA_PORT            broker port (default 19098; controller 19099)
  SMITH_BENCH_KAFKA_DATA            broker data directory (default /var/tmp/smith-kafka-bench)
  SMITH_BENCH_WORKDIR               parent of the spool directories (default /var/tmp)
Needs root and kernel BTF, like smithd; maven and java for the broker (see README "Kafka").
EOF
}

die() {
	echo "kafka_e2e: error: $*" >&2
	exit 1
}
log() { echo "kafka_e2e: $(date +%T) $*" >&2; }

# ---- Options ---------------------------------------------------------------------------------

BUILD_DIR="$REPO/build-bench"
OUT=""
QUICK=0
BUILD=1
DO_RATES=1
DO_OUTAGE=1
HEAD_BUILD=0
DURABILITY=""
BUILD_DIR_SET=0
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?--out needs a directory}; shift 2 ;;
	--out=*) OUT=${1#*=}; shift ;;
	--quick) QUICK=1; shift ;;
	--head) HEAD_BUILD=1; shift ;;
	--build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; BUILD_DIR_SET=1; shift 2 ;;
	--build-dir=*) BUILD_DIR=${1#*=}; BUILD_DIR_SET=1; shift ;;
	--no-build) BUILD=0; shift ;;
	--skip-rates) DO_RATES=0; shift ;;
	--durability) DURABILITY=${2:?--durability needs disk or memory}; shift 2 ;;
	--skip-outage) DO_OUTAGE=0; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
done

if [ "$QUICK" = 1 ]; then
	RATES=${SMITH_BENCH_KAFKA_RATES:-"20000 100000 0"}
	STEP_SECONDS=${SMITH_BENCH_KAFKA_STEP_SECONDS:-3}
	OUTAGE_SECONDS=${SMITH_BENCH_KAFKA_OUTAGE_SECONDS:-5}
else
	RATES=${SMITH_BENCH_KAFKA_RATES:-"20000 50000 100000 200000 0"}
	STEP_SECONDS=${SMITH_BENCH_KAFKA_STEP_SECONDS:-10}
	OUTAGE_SECONDS=${SMITH_BENCH_KAFKA_OUTAGE_SECONDS:-10}
fi
DRAIN_TIMEOUT=${SMITH_BENCH_KAFKA_DRAIN_TIMEOUT:-45}
OUTAGE_DRAIN_TIMEOUT=${SMITH_BENCH_KAFKA_OUTAGE_DRAIN_TIMEOUT:-120}
OUTAGE_RATE=${SMITH_BENCH_KAFKA_OUTAGE_RATE:-20000}
OUTAGE_LEAD_SECONDS=5 # load with the broker up before it is stopped
for r in $RATES; do [[ "$r" =~ ^[0-9]+$ ]] || die "SMITH_BENCH_KAFKA_RATES: '$r' is not a rate"; done
for v in "$STEP_SECONDS" "$DRAIN_TIMEOUT" "$OUTAGE_DRAIN_TIMEOUT" "$OUTAGE_RATE" "$OUTAGE_SECONDS"; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] || die "'$v' must be a positive integer"
done

export SMITH_KAFKA_PORT=${SMITH_BENCH_KAFKA_PORT:-19098}
export SMITH_KAFKA_CONTROLLER_PORT=$((SMITH_KAFKA_PORT + 1))
export SMITH_KAFKA_DATA=${SMITH_BENCH_KAFKA_DATA:-/var/tmp/smith-kafka-bench}
BROKERS="127.0.0.1:$SMITH_KAFKA_PORT"
BROKER_SH="$REPO/packaging/kafka/local-broker.sh"
WORK_PARENT=${SMITH_BENCH_WORKDIR:-/var/tmp}

# ---- Preconditions -------------------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || die "must run as root (smithd loads BPF programs); try: sudo $COMMAND_LINE"
[ -r /sys/kernel/btf/vmlinux ] || die "no kernel BTF (/sys/kernel/btf/vmlinux); smithd's eBPF backend needs it"
command -v python3 >/dev/null || die "python3 is needed to count the events and write the report"
# The interpreter itself, not a wrapper script (a pyenv shim runs many programs per call).
PYTHON=$(python3 -c 'import sys; print(sys.executable)')
REPORT="$SCRIPT_DIR/kafka_e2e_report.py"

TARGETS=(smithd smithctl smith_paced_load smith_kafka_consume)
SOURCE="$REPO"
SOURCE_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$HEAD_BUILD" = 1 ]; then
	SOURCE="$WORK_PARENT/smith-kafka-bench-src"
	[ "$BUILD_DIR_SET" = 1 ] || BUILD_DIR="$WORK_PARENT/smith-kafka-bench-build"
	if [ "$BUILD" = 1 ]; then
		log "exporting HEAD ($SOURCE_REV) to $SOURCE"
		rm -rf "$SOURCE"
		mkdir -p "$SOURCE"
		git -C "$REPO" archive HEAD | tar -x -C "$SOURCE" || die "git archive HEAD failed"
		echo "$SOURCE_REV" >"$SOURCE/.bench-rev"
	fi
	SOURCE_REV=$(cat "$SOURCE/.bench-rev" 2>/dev/null || echo unknown)
fi
if [ "$BUILD" = 1 ]; then
	command -v cmake >/dev/null && command -v ninja >/dev/null || die "cmake and ninja are needed to build (or pass --no-build)"
	if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
		log "configuring $BUILD_DIR (Release)"
		cmake -S "$SOURCE" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake configure failed"
	fi
	log "building ${TARGETS[*]} in $BUILD_DIR"
	ninja -C "$BUILD_DIR" "${TARGETS[@]}" >/dev/null || die "build failed (run: ninja -C $BUILD_DIR ${TARGETS[*]})"
fi
# Uncommitted changes to smithd's sources at build time, named in the report.
SOURCE_REV_DIRTY=""
[ "$HEAD_BUILD" = 1 ] || SOURCE_REV_DIRTY=$(git -C "$REPO" status --porcelain -- src bpf include CMakeLists.txt 2>/dev/null | awk '{print $2}' | paste -sd' ' - || true)
SMITHD="$BUILD_DIR/smithd"
SMITHCTL="$BUILD_DIR/smithctl"
LOAD="$BUILD_DIR/tests/bench/smith_paced_load"
CONSUME="$BUILD_DIR/tests/kafka/smith_kafka_consume"
for bin in "$SMITHD" "$SMITHCTL" "$LOAD" "$CONSUME"; do
	[ -x "$bin" ] || die "$bin not found (build it, or drop --no-build)"
done
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
[ "$BUILD_TYPE" = Release ] || log "warning: $BUILD_DIR is built as '${BUILD_TYPE:-unknown}', not Release"

[ -n "$OUT" ] || OUT="$REPO/build-bench/bench-results"
mkdir -p "$OUT/kafka_e2e.raw"
OUT=$(cd "$OUT" && pwd)
RAW="$OUT/kafka_e2e.raw"
rm -rf "${RAW:?}"/*
STEPS="$RAW/steps.jsonl"
: >"$STEPS"
TAG=$(date +%s)

WORK=$(mktemp -d "$WORK_PARENT/smith-kafka-bench.XXXXXX")
SMITHD_PID=""
LOAD_PID=""
BROKER_STARTED=0

# SIGTERM, then SIGKILL after STOP_TIMEOUT s; sets STOP_KILLED to 1 when SIGKILL was needed.
STOP_TIMEOUT=20
stop_smithd() {
	STOP_KILLED=0
	[ -n "$SMITHD_PID" ] || return 0
	if kill -0 "$SMITHD_PID" 2>/dev/null; then
		kill -TERM "$SMITHD_PID" 2>/dev/null || true
		for _ in $(seq $((STOP_TIMEOUT * 10))); do
			kill -0 "$SMITHD_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$SMITHD_PID" 2>/dev/null; then
			log "smithd $SMITHD_PID did not stop within $STOP_TIMEOUT s of SIGTERM; sending SIGKILL"
			kill -KILL "$SMITHD_PID" 2>/dev/null || true
			STOP_KILLED=1
		fi
	fi
	wait "$SMITHD_PID" 2>/dev/null || true
	SMITHD_PID=""
}
cleanup() {
	set +e
	if [ -n "$LOAD_PID" ]; then
		kill -TERM "$LOAD_PID" 2>/dev/null
		wait "$LOAD_PID" 2>/dev/null
	fi
	stop_smithd
	[ "$BROKER_STARTED" = 1 ] && "$BROKER_SH" wipe >>"$RAW/broker.log" 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- Helpers -------------------------------------------------------------------------------

# Prints "comm:pid" of every running collector that is not ours, space separated.
foreign_collectors() {
	local f comm pid found=""
	for f in /proc/[0-9]*/comm; do
		read -r comm 2>/dev/null <"$f" || continue
		case "$comm" in
		smithd | bpftrace | auditd) ;;
		*) continue ;;
		esac
		pid=${f#/proc/}
		pid=${pid%/comm}
		[ "$pid" = "$SMITHD_PID" ] && continue
		found+="${found:+ }$comm:$pid"
	done
	echo "$found"
}

broker_pid() { cat "$SMITH_KAFKA_DATA/kafka.pid" 2>/dev/null || true; }

sample() { "$PYTHON" "$REPORT" sample "smithd=${SMITHD_PID:-0}" "broker=$(broker_pid)" >"$1"; }

status() { "$SMITHCTL" status --json --socket="$WORK/smithd.sock"; }

# One load process connects far faster than a process's connect budget lets through (budget.h):
# with the budget off every call is an event, which is what this measures.
BUDGET_OFF=()
"$SMITHD" --help 2>/dev/null | grep -q -- --connect-budget-rate && BUDGET_OFF=(--connect-budget-rate=0)

# start_smithd TOPIC SPOOL_DIR LOG: starts smithd in the background; returns once it is ready.
start_smithd() {
	local topic=$1 spool=$2 logf=$3 i
	rm -f "$WORK/smithd.pid" "$WORK/smithd.sock"
	mkdir -p "$spool"
	"$SMITHD" --backend=ebpf --foreground --brokers "$BROKERS" --topic "$topic" --spool-dir "$spool" \
		--heartbeat-interval 0 --socket "$WORK/smithd.sock" --pid-file "$WORK/smithd.pid" \
		--config /dev/null ${DURABILITY:+--durability "$DURABILITY"} "${BUDGET_OFF[@]}" 2>"$logf" &
	SMITHD_PID=$!
	for i in $(seq 600); do
		# The pid file is taken first; the control socket answers once smithd is ready.
		[ -e "$WORK/smithd.pid" ] && status >/dev/null 2>&1 && break
		if ! kill -0 "$SMITHD_PID" 2>/dev/null; then
			tail -n 20 "$logf" >&2
			SMITHD_PID=""
			die "smithd exited before it was ready (log: $logf)"
		fi
		sleep 0.1
	done
	status >/dev/null 2>&1 || die "smithd not ready after 60 s (log: $logf)"
	log "smithd $SMITHD_PID ready after $((i / 10)).$((i % 10)) s (topic $topic)"
}

# wait_drained TIMEOUT [OFFERED]: polls smithd's status until nothing is left to deliver.
# Sets DRAINED (1/0) and DRAIN_SECONDS.
wait_drained() {
	local timeout=$1 offered=${2:-} t0 now
	t0=$(date +%s.%N)
	DRAINED=0
	while :; do
		if status 2>/dev/null | "$PYTHON" "$REPORT" drained - $offered; then
			DRAINED=1
			break
		fi
		now=$(date +%s.%N)
		if "$PYTHON" -c "import sys; sys.exit(0 if $now - $t0 >= $timeout else 1)"; then
			break
		fi
		kill -0 "$SMITHD_PID" 2>/dev/null || die "smithd exited while draining"
		sleep 0.25
	done
	DRAIN_SECONDS=$("$PYTHON" -c "print(round($(date +%s.%N) - $t0, 2))")
}

# consume TOPIC COUNT_FILE COUNT_ARGS...: reads the whole topic and counts it per run.
consume() {
	local topic=$1 out=$2
	shift 2
	"$CONSUME" --brokers "$BROKERS" --topic "$topic" --from-beginning --idle-ms 5000 \
		2>>"$RAW/consume.log" | "$PYTHON" "$REPORT" count "$@" >"$out" ||
		die "reading topic $topic failed (see $RAW/consume.log)"
}

# ---- Broker --------------------------------------------------------------------------------

log "broker: $BROKERS, data $SMITH_KAFKA_DATA (wiped at the end)"
BROKER_STARTED=1
"$BROKER_SH" wipe >>"$RAW/broker.log" 2>&1 || true # leftovers of an interrupted run
"$BROKER_SH" start >>"$RAW/broker.log" 2>&1 || die "the broker did not start (see $RAW/broker.log, $SMITH_KAFKA_DATA/kafka.log)"
KAFKA_VERSION=$(sed -n 's/.*starting Kafka \([^ ]*\) on.*/\1/p' "$RAW/broker.log" | head -n 1)

# ---- Part 1: rate steps ----------------------------------------------------------------------

if [ "$DO_RATES" = 1 ]; then
	idx=0
	for rate in $RATES; do
		idx=$((idx + 1))
		name="$idx-$([ "$rate" = 0 ] && echo max || echo "$rate")"
		topic="smith-bench-$TAG-$name"
		d="$RAW/step-$name"
		mkdir -p "$d"
		others=$(foreign_collectors)
		[ -z "$others" ] || log "warning: other collectors run: $others"
		start_smithd "$topic" "$WORK/spool-$name" "$d/smithd.log"
		sleep 1 # start-up events (process cache from /proc) out of the window
		log "step $name: offering $([ "$rate" = 0 ] && echo 'as many as possible' || echo "$rate/s") for $STEP_SECONDS s"
		sample "$d/sample-before.json"
		"$LOAD" --rate "$rate" --seconds "$STEP_SECONDS" >"$d/load.json" || die "smith_paced_load failed"
		sample "$d/sample-after.json"
		offered=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["calls"])' "$d/load.json")
		wait_drained "$DRAIN_TIMEOUT" "$offered"
		sample "$d/sample-drained.json"
		status >"$d/status.json" || die "smithctl status failed"
		log "step $name: $offered offered; drained=$DRAINED after ${DRAIN_SECONDS}s"
		stop_smithd
		consume "$topic" "$d/count.json" --pid "$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$d/load.json")"
		others="$others${others:+ }$(foreign_collectors)"
		"$PYTHON" "$REPORT" step --name "$name" --topic "$topic" --load "$d/load.json" \
			--sample-before "$d/sample-before.json" --sample-after "$d/sample-after.json" \
			--sample-drained "$d/sample-drained.json" --status "$d/status.json" --count "$d/count.json" \
			--log "$d/smithd.log" --drained "$DRAINED" --drain-seconds "$DRAIN_SECONDS" \
			--sigkilled "$STOP_KILLED" --others "${others# }" >>"$STEPS"
		tail -n 1 "$STEPS" | "$PYTHON" -c '
import json, sys
s = json.load(sys.stdin)
print("kafka_e2e: step %s: offered %d (%.0f/s), delivered %d, missing %s, dup %d, kernel drops %d, smithd %s%% CPU, zero loss: %s"
      % (s["step"], s["offered"], s["offered_rate"], s["delivered_run"], s["missing_seq"], s["duplicates"],
         s["kernel_drops"], s["smithd_cpu_percent_load"], s["zero_loss"]), file=sys.stderr)'
		rm -rf "$WORK/spool-$name"
	done
fi

# ---- Part 2: SIGKILL during an outage --------------------------------------------------------

OUTAGE_JSON=""
if [ "$DO_OUTAGE" = 1 ]; then
	d="$RAW/outage"
	mkdir -p "$d"
	topic="smith-bench-$TAG-outage"
	spool="$WORK/spool-outage"
	start_smithd "$topic" "$spool" "$d/smithd-a.log"
	log "outage: load $OUTAGE_RATE/s; broker stops in $OUTAGE_LEAD_SECONDS s"
	"$LOAD" --rate "$OUTAGE_RATE" --seconds 3600 >"$d/load.json" &
	LOAD_PID=$!
	sleep "$OUTAGE_LEAD_SECONDS"
	status >"$d/status-pre.json" || die "smithctl status failed"
	t0=$(date +%s.%N)
	"$BROKER_SH" stop --keep-data >>"$RAW/broker.log" 2>&1 || die "broker stop failed"
	t1=$(date +%s.%N)
	status >"$d/status-down.json" || die "smithctl status failed"
	log "outage: broker stopped; SIGKILL to smithd in $OUTAGE_SECONDS s"
	sleep "$OUTAGE_SECONDS"
	status >"$d/status-kill.json" || die "smithctl status failed"
	t2=$(date +%s.%N)
	kill -KILL "$SMITHD_PID"
	wait "$SMITHD_PID" 2>/dev/null || true
	SMITHD_PID=""
	kill -TERM "$LOAD_PID"
	wait "$LOAD_PID" || die "smith_paced_load failed"
	LOAD_PID=""
	log "outage: smithd killed ($(du -sh "$spool" | cut -f1) in the spool); broker starts"
	"$BROKER_SH" start >>"$RAW/broker.log" 2>&1 || die "the broker did not restart (see $RAW/broker.log)"
	start_smithd "$topic" "$spool" "$d/smithd-b.log"
	wait_drained "$OUTAGE_DRAIN_TIMEOUT"
	status >"$d/status-b.json" || die "smithctl status failed"
	log "outage: second smithd drained=$DRAINED after ${DRAIN_SECONDS}s"
	stop_smithd
	B_KILLED=$STOP_KILLED
	run_a=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$d/status-kill.json")
	last_a=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["last_seq"])' "$d/status-kill.json")
	consume "$topic" "$d/count.json" --expect "$run_a=$last_a"
	"$PYTHON" "$REPORT" outage --status-pre "$d/status-pre.json" --status-down "$d/status-down.json" \
		--status-kill "$d/status-kill.json" --status-b "$d/status-b.json" --load "$d/load.json" \
		--count "$d/count.json" --log-b "$d/smithd-b.log" \
		--broker-stop-seconds "$("$PYTHON" -c "print($t1 - $t0)")" \
		--outage-seconds "$("$PYTHON" -c "print($t2 - $t1)")" \
		--drained "$DRAINED" --drain-seconds "$DRAIN_SECONDS" --sigkilled "$B_KILLED" >"$d/outage.json"
	OUTAGE_JSON="$d/outage.json"
fi

# ---- Report --------------------------------------------------------------------------------

"$BROKER_SH" wipe >>"$RAW/broker.log" 2>&1 || log "warning: broker wipe failed"
BROKER_STARTED=0

"$PYTHON" - "$RAW/machine.json" "$BUILD_TYPE" "$KAFKA_VERSION" <<'EOF'
import json, os, platform, re, subprocess, sys, datetime
out, build_type, kafka = sys.argv[1], sys.argv[2], sys.argv[3]
model = ""
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
mem = 0
with open("/proc/meminfo") as f:
    for line in f:
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1])
rdk = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "librdkafka1"], capture_output=True, text=True).stdout
json.dump({"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "hostname": platform.node(), "kernel": platform.release(), "cpu_model": model,
           "cpus": os.cpu_count(), "mem_gib": round(mem / 1048576, 1), "build_type": build_type,
           "kafka": kafka or "4.4.0", "librdkafka": rdk or "?"}, open(out, "w"))
EOF
# The commit, marked when smithd's sources had uncommitted changes at build time.
[ -z "$SOURCE_REV_DIRTY" ] || SOURCE_REV="$SOURCE_REV + uncommitted changes ($SOURCE_REV_DIRTY)"
CONFIG_JSON=$(printf '{"rates":"%s","step_seconds":%d,"drain_timeout":%d,"outage_rate":%d,"outage_seconds":%d,"outage_drain_timeout":%d,"ringbuf":"8 MiB (default)","brokers":"%s","quick":%s}' \
	"$RATES" "$STEP_SECONDS" "$DRAIN_TIMEOUT" "$OUTAGE_RATE" "$OUTAGE_SECONDS" "$OUTAGE_DRAIN_TIMEOUT" "$BROKERS" "$([ "$QUICK" = 1 ] && echo true || echo false)")
"$PYTHON" "$REPORT" report --steps "$STEPS" ${OUTAGE_JSON:+--outage "$OUTAGE_JSON"} --machine "$RAW/machine.json" \
	--source-rev "$SOURCE_REV" --command "$COMMAND_LINE" --config "$CONFIG_JSON" \
	--out-json "$OUT/kafka_e2e.json" --out-md "$OUT/kafka_e2e.md"
cat "$OUT/kafka_e2e.md"
