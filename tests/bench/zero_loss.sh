#!/usr/bin/env bash
# zero_loss.sh: the highest event rate smithd takes with zero loss, file sink on local disk.
#
# For each step of a rising offered rate, a fresh smithd (eBPF backend, file sink) is started,
# smith_paced_load offers the rate for SECONDS (connect: UDP connect calls; exec: fork +
# exec /bin/true), smithd is given time to drain, and the step reports:
#   offered      calls the generator made
#   written      events of the generator's calls in smithd's output (connect: its pid;
#                exec: children of its pid running "true")
#   kernel drops smithd's per-hook ring-buffer drop counters, summed
#   seq gaps     seq values missing from the output (1..N must be contiguous)
#   CPU%         smithd's CPU time from the start of the load to the end of the drain,
#                divided by the load's duration
#   RSS          smithd's largest VmRSS sampled every 100 ms during load and drain (the BPF
#                ring buffer's pages count twice: the kernel maps its data area twice), and
#                VmHWM, which also holds the start-up peak of parsing the kernel's BTF
# A step has zero loss when written == offered and drops and gaps are 0. The highest such
# rate is stated per generator. Steps past the generator's own maximum are reported with
# the rate it achieved.
#
# A benchmark, not a test: it never fails on a number. It exits non-zero only when it
# cannot measure (not root, build failure, smithd does not start).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMMAND_LINE="$0${*:+ $*}"
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)

usage() {
	cat <<EOF
Usage: $0 [--out DIR] [--build-dir DIR] [--no-build] [--ops LIST] [--seconds S] [--quick]

  --out DIR        where zero_loss.{json,md}, per-step logs and statuses go
                   (default: BUILD_DIR/bench-results)
  --build-dir DIR  CMake build directory (default: $REPO/build-bench, Release)
  --no-build       use the binaries already in the build directory
  --ops LIST       generators, comma-separated: connect, exec (default: connect,exec)
  --seconds S      load per step (default 3)
  --quick          smoke run: two steps per generator, 1 s each

Environment:
  SMITH_BENCH_CONNECT_RATES  offered connect rates per second (default
                             "25000 50000 100000 200000 300000 400000 0"; 0 = as fast as it goes)
  SMITH_BENCH_EXEC_RATES     offered exec rates per second (default "250 500 1000 2000 0")
  SMITH_BENCH_THREADS        generator threads sharing each rate (default 2: one thread's own
                             syscall cost caps it near 230 000 connects/s here)
  SMITH_BENCH_WORKDIR        parent of smithd's working dir, on local disk (default /var/tmp)
  SMITH_BENCH_SMITHD_ARGS    extra smithd options (e.g. --ringbuf-bytes=8388608)
Needs root and kernel BTF, like smithd itself.
EOF
}
die() {
	echo "zero_loss: error: $*" >&2
	exit 1
}
log() { echo "zero_loss: $(date +%T) $*" >&2; }

BUILD_DIR="$REPO/build-bench"
OUT=""
BUILD=1
OPS=connect,exec
SECONDS_PER_STEP=3
QUICK=0
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?--out needs a directory}; shift 2 ;;
	--out=*) OUT=${1#*=}; shift ;;
	--build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift 2 ;;
	--build-dir=*) BUILD_DIR=${1#*=}; shift ;;
	--no-build) BUILD=0; shift ;;
	--ops) OPS=${2:?--ops needs a list}; shift 2 ;;
	--ops=*) OPS=${1#*=}; shift ;;
	--seconds) SECONDS_PER_STEP=${2:?--seconds needs a number}; shift 2 ;;
	--seconds=*) SECONDS_PER_STEP=${1#*=}; shift ;;
	--quick) QUICK=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option '$1'" ;;
	esac
done
[[ "$SECONDS_PER_STEP" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--seconds must be a number"
declare -A RATES=(
	[connect]=${SMITH_BENCH_CONNECT_RATES:-"50000 100000 200000 300000 400000 500000 0"}
	[exec]=${SMITH_BENCH_EXEC_RATES:-"500 1000 2000 0"}
)
if [ "$QUICK" = 1 ]; then
	RATES=([connect]="50000 0" [exec]="200 0")
	SECONDS_PER_STEP=1
fi
IFS=, read -r -a OP_LIST <<<"$OPS"
for op in "${OP_LIST[@]}"; do
	[ -n "${RATES[$op]:-}" ] || die "unknown generator '$op' (connect or exec)"
done

[ "$(id -u)" -eq 0 ] || die "must run as root (smithd loads BPF programs); try: sudo $COMMAND_LINE"
[ -r /sys/kernel/btf/vmlinux ] || die "no kernel BTF (/sys/kernel/btf/vmlinux); smithd's eBPF backend needs it"
PYTHON=$(python3 -c 'import sys; print(sys.executable)') || die "python3 is needed"

if [ "$BUILD" = 1 ]; then
	if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
		log "configuring $BUILD_DIR (Release)"
		cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake configure failed"
	fi
	log "building smithd smithctl smith_paced_load in $BUILD_DIR"
	ninja -C "$BUILD_DIR" smithd smithctl smith_paced_load >/dev/null || die "build failed"
fi
SMITHD="$BUILD_DIR/smithd"
SMITHCTL="$BUILD_DIR/smithctl"
LOAD="$BUILD_DIR/tests/bench/smith_paced_load"
for bin in "$SMITHD" "$SMITHCTL" "$LOAD"; do
	[ -x "$bin" ] || die "$bin not found (build it, or drop --no-build)"
done
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
[ "$BUILD_TYPE" = Release ] || log "warning: $BUILD_DIR is built as '${BUILD_TYPE:-unknown}', not Release"

[ -n "$OUT" ] || OUT="$BUILD_DIR/bench-results"
mkdir -p "$OUT/zero_loss.raw"
OUT=$(cd "$OUT" && pwd)
RAW="$OUT/zero_loss.raw"
STEPS="$RAW/steps.jsonl"
: >"$STEPS"
WORK=$(mktemp -d "${SMITH_BENCH_WORKDIR:-/var/tmp}/smith-zero-loss.XXXXXX")
SMITHD_PID=""
cleanup() {
	[ -n "$SMITHD_PID" ] && kill -KILL "$SMITHD_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The connect generator is one process connecting far faster than a process's connect budget lets
# through (budget.h): with the budget off every call is an event, which is what this measures.
BUDGET_OFF=()
"$SMITHD" --help 2>/dev/null | grep -q -- --connect-budget-rate && BUDGET_OFF=(--connect-budget-rate=0)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_json() { "$SMITHCTL" status --json --socket="$WORK/smithd.sock"; }

# Runs one step: generator $1 at offered rate $2 (0: as fast as it goes).
run_step() {
	local op=$1 rate=$2 tag="$1-$2" i load_json t0 ticks0 ticks1 t1 hwm want_type
	rm -f "$WORK/smithd.pid" "$WORK/smithd.sock" "$WORK/events.json"
	"$SMITHD" --backend=ebpf --foreground --sink=file --output="$WORK/events.json" \
		--pid-file="$WORK/smithd.pid" --socket="$WORK/smithd.sock" --config=/dev/null \
		"${BUDGET_OFF[@]}" ${SMITH_BENCH_SMITHD_ARGS:-} 2>"$RAW/$tag.smithd.log" &
	SMITHD_PID=$!
	for i in $(seq 600); do
		[ -e "$WORK/smithd.pid" ] && status_json >/dev/null 2>&1 && break
		kill -0 "$SMITHD_PID" 2>/dev/null || die "smithd exited before it was ready (log: $RAW/$tag.smithd.log)"
		sleep 0.1
	done
	t0=$(date +%s.%N)
	ticks0=$(cpu_ticks "$SMITHD_PID")
	(while kill -0 "$SMITHD_PID" 2>/dev/null; do
		awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$SMITHD_PID/status" 2>/dev/null
		sleep 0.1
	done >"$WORK/rss.samples") &
	local sampler=$!
	load_json=$("$LOAD" --op "$op" --rate "$rate" --seconds "$SECONDS_PER_STEP" --threads "${SMITH_BENCH_THREADS:-2}") || die "smith_paced_load failed at $tag"
	# Drain: until smithd's queue is empty and its events of the type plus the hook's kernel
	# drops reach the generator's calls (other processes add events too), at most 60 s.
	want_type=$([ "$op" = connect ] && echo connect || echo execve)
	local calls
	calls=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["calls"])' "$load_json")
	for i in $(seq 600); do
		status_json | "$PYTHON" -c 'import json,sys; s=json.load(sys.stdin); d=sum(h.get("kernel_drops",0) for h in s.get("hooks",[]) if h["name"] in ("connect","execve")); sys.exit(0 if s.get("queue_depth",0)==0 and s["events"]["sent"].get(sys.argv[1],0)+d>=int(sys.argv[2]) else 1)' \
			"$want_type" "$calls" && break
		sleep 0.1
	done
	ticks1=$(cpu_ticks "$SMITHD_PID")
	t1=$(date +%s.%N)
	hwm=$(awk '/^VmHWM:/ {print $2 * 1024}' "/proc/$SMITHD_PID/status")
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	local rss_max
	rss_max=$(sort -n "$WORK/rss.samples" | tail -n 1)
	status_json >"$RAW/$tag.status.json"
	kill -TERM "$SMITHD_PID"
	wait "$SMITHD_PID" || die "smithd exited non-zero after $tag (log: $RAW/$tag.smithd.log)"
	SMITHD_PID=""
	"$PYTHON" - "$op" "$rate" "$load_json" "$RAW/$tag.status.json" "$WORK/events.json" \
		"$((ticks1 - ticks0))" "$(getconf CLK_TCK)" "$t0" "$t1" "$hwm" "${rss_max:-0}" >>"$STEPS" <<'PY'
import json, re, sys
op, rate, load, status_path, events_path, ticks, hz, t0, t1, hwm, rss = sys.argv[1:]
load = json.loads(load)
status = json.load(open(status_path))
gen = load["pid"]
seq_re = re.compile(rb'"seq":(\d+)')
pid_re = re.compile(rb'"pid":(\d+)')
ppid_re = re.compile(rb'"ppid":(\d+)')
seqs = []
written = 0
with open(events_path, "rb") as f:
    for line in f:
        seqs.append(int(seq_re.search(line).group(1)))
        if op == "connect":
            if line.startswith(b'{"schema":1') and b'"type":"connect"' in line and int(pid_re.search(line).group(1)) == gen:
                written += 1
        elif b'"type":"execve"' in line and b'"comm":"true"' in line and int(ppid_re.search(line).group(1)) == gen:
            written += 1
seqs.sort()
gaps = (seqs[-1] - seqs[0] + 1 - len(seqs)) + (seqs[0] - 1) if seqs else 0
dups = len(seqs) - len(set(seqs))
drops = sum(h.get("kernel_drops", 0) for h in status.get("hooks", []))
load_s = float(load["elapsed_s"])
cpu_s = int(ticks) / int(hz)
print(json.dumps({
    "op": op, "target_rate": int(rate), "achieved_rate": load["achieved_rate"], "seconds": load_s,
    "offered": load["calls"], "written": written, "kernel_drops": drops, "seq_gaps": gaps,
    "seq_duplicates": dups, "lines": len(seqs),
    "smithd_cpu_seconds": cpu_s, "smithd_cpu_pct": 100.0 * cpu_s / load_s,
    "drain_seconds": float(t1) - float(t0) - load_s, "peak_rss_bytes": int(hwm), "max_rss_during_load_bytes": int(rss),
    "zero_loss": written == load["calls"] and drops == 0 and gaps == 0 and dups == 0}))
PY
	rm -f "$WORK/events.json"
	log "$(tail -n 1 "$STEPS")"
}

START=$(date +%s)
for op in "${OP_LIST[@]}"; do
	for rate in ${RATES[$op]}; do
		run_step "$op" "$rate"
	done
done
log "measured in $(($(date +%s) - START)) s"

"$PYTHON" - "$STEPS" "$OUT/zero_loss.json" "$OUT/zero_loss.md" "$COMMAND_LINE" \
	"$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" "${BUILD_TYPE:-unknown}" <<'PY'
import datetime, json, os, platform, sys
steps_path, out_json, out_md, command, rev, build_type = sys.argv[1:]
steps = [json.loads(l) for l in open(steps_path) if l.strip()]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
best = {}
for s in steps:
    if s["zero_loss"]:
        best[s["op"]] = max(best.get(s["op"], 0), s["achieved_rate"])
doc = {"benchmark": "zero_loss", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "machine": {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu_model": cpu},
       "source_rev": rev, "build_type": build_type, "command": command, "steps": steps,
       "highest_zero_loss_rate": best}
json.dump(doc, open(out_json, "w"), indent=2)
m = [f"# Zero-loss event rate: smithd --backend=ebpf, file sink on local disk", "",
     f"{doc['date']} · {os.cpu_count()} CPUs, {cpu} · kernel {platform.release()} · source {rev} ({build_type})", "",
     f"Command: `{command}`" + (f" with SMITH_BENCH_SMITHD_ARGS=`{os.environ['SMITH_BENCH_SMITHD_ARGS']}`" if os.environ.get("SMITH_BENCH_SMITHD_ARGS") else ""), "",
     "| generator | target/s | achieved/s | offered | written | kernel drops | seq gaps | smithd CPU % | drain s | RSS MiB (load) | VmHWM MiB | zero loss |",
     "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
def n(x):
    return f"{x:,.0f}".replace(",", " ")
for s in steps:
    m.append(f"| {s['op']} | {n(s['target_rate']) if s['target_rate'] else 'max'} | {n(s['achieved_rate'])} | {n(s['offered'])} | {n(s['written'])} | "
             f"{s['kernel_drops']} | {s['seq_gaps']} | {s['smithd_cpu_pct']:.1f} | {s['drain_seconds']:.1f} | "
             f"{s['max_rss_during_load_bytes'] / 2**20:.1f} | {s['peak_rss_bytes'] / 2**20:.1f} | "
             f"{'yes' if s['zero_loss'] else 'NO'} |")
m.append("")
for op in sorted({s["op"] for s in steps}):
    r = best.get(op)
    m.append(f"- Highest {op} rate with zero loss: " + (f"**{n(r)} events/s**" if r else "none of the steps") + ".")
m.append("- CPU % counts smithd's time from the start of the load to the end of the drain, over the load's duration.")
m.append("- smithd runs with the connect budget off (`--connect-budget-rate=0`) where it has one: the generator is a "
         "single process, and with the budget on it would measure the budget.")
open(out_md, "w").write("\n".join(m) + "\n")
PY
cat "$OUT/zero_loss.md"
