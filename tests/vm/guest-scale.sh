#!/bin/sh
# guest-scale.sh: connect events per second against the number of CPUs, inside the test VM (busybox
# sh; /init runs it for smith.mode=scale). tests/bench/scale_cpus.sh boots the guest once per vCPU
# count (run-vm.sh --scale --cpus N) and compares the counts.
#
#   guest-scale.sh [--seconds T] [--rounds R] [--lkm 0|1] [--configs bare,lkm,ebpf,ebpf-percpu]
#
# One window is one smith_paced_load --rate 0 --seconds T per online CPU, each pinned to its CPU
# (taskset), all started together: UDP connect() calls as fast as each process goes. It runs bare,
# under smithd --backend=lkm (smith.ko loaded afresh, ring_kb = 2048 / CPUs, so that the rings
# hold 2 MiB in all at every CPU count), under smithd --backend=ebpf (one BPF ring buffer of
# 2 MiB) and under smithd --backend=ebpf --bpf-ring=percpu (ebpf-percpu: one BPF ring buffer per
# CPU, 2 MiB shared out, at least 256 KiB each), file sink to /dev/null, no connect budget; R rounds, the order of the configurations
# reversed every other round. The rings are small on purpose: smithd on an emulated CPU takes in
# a few hundred to a few thousand events a second, so any ring fills within the window and
# what it kept must be drained before the counts are read; 2 MiB (about 10 000 records) drains
# in seconds. Under smithd the window is bracketed by `smithctl status --json`: before the loads,
# and once smithd has drained what the kernel kept (its "received" connect count unchanged for
# 2 s and an empty queue, at most 120 s). A status read right after the loads could be stale: smithd
# publishes it between polls, and one poll takes in the whole ring. smithd starts before its window
# and stops after it, so that the BPF load (tens of seconds under TCG) is outside every window.
# Each window is one JSON line; all are printed at the end between "SMITH-VM: SCALE JSON BEGIN"
# and "SMITH-VM: SCALE JSON END" (tests/bench/scale_cpus_report.py reads them). Exits non-zero
# when it cannot measure.
set -eu

BIN=/opt/smith/bin
SECONDS_PER_WINDOW=5
ROUNDS=2
LKM=0
CONFIGS_ASKED=""
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) SECONDS_PER_WINDOW=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--lkm) LKM=$2; shift 2 ;;
	--configs) CONFIGS_ASKED=$(echo "$2" | tr ',' ' '); shift 2 ;;
	*) echo "guest-scale: unknown option '$1'" >&2; exit 2 ;;
	esac
done

CPUS=$(nproc)
WORK=/tmp/scale
mkdir -p "$WORK"
SAMPLES="$WORK/samples.jsonl"
: >"$SAMPLES"
SMITHD_PID=""
[ -x "$BIN/smith_paced_load" ] || { echo "guest-scale: no smith_paced_load in the image" >&2; exit 1; }

CONFIGS="bare"
if [ "$LKM" = 1 ]; then
	[ -f /opt/smith/modules/smith.ko ] || { echo "guest-scale: --lkm 1 but no smith.ko" >&2; exit 1; }
	CONFIGS="$CONFIGS lkm"
fi
[ ! -e /sys/kernel/btf/vmlinux ] || CONFIGS="$CONFIGS ebpf ebpf-percpu" # no BTF (el7): the module alone
[ -z "$CONFIGS_ASKED" ] || CONFIGS=$CONFIGS_ASKED

# Ring sizes: RING_TOTAL_KB in all for either backend; for the module, per CPU, a power of two of
# at least 64 KiB.
RING_TOTAL_KB=2048
RING_KB=$((RING_TOTAL_KB / CPUS))
p=64
while [ $((p * 2)) -le "$RING_KB" ]; do p=$((p * 2)); done
RING_KB=$p
# smithd's per-CPU BPF rings: RING_TOTAL_KB shared out, a power of two, at least 256 KiB.
BPF_CPU_RING_KB=256
while [ $((BPF_CPU_RING_KB * 2 * CPUS)) -le "$RING_TOTAL_KB" ]; do BPF_CPU_RING_KB=$((BPF_CPU_RING_KB * 2)); done

fail() {
	echo "guest-scale: error: $*" >&2
	[ -z "$SMITHD_PID" ] || { kill "$SMITHD_PID" 2>/dev/null || true; tail -n 30 "$WORK/smithd.log" >&2 || true; }
	exit 1
}

status() { # $1: file
	"$BIN/smithctl" status --json --socket="$WORK/smithd.sock" >"$1" 2>/dev/null || echo null >"$1"
}

start_smithd() { # $1: configuration
	rm -f "$WORK/smithd.pid" "$WORK/smithd.sock"
	backend=$1 ring=shared
	[ "$1" != ebpf-percpu ] || backend=ebpf ring=percpu
	if [ "$1" = lkm ]; then
		[ ! -d /sys/module/smith ] || rmmod smith || fail "rmmod smith failed"
		insmod /opt/smith/modules/smith.ko ring_kb="$RING_KB" || fail "insmod smith.ko ring_kb=$RING_KB failed"
	fi
	"$BIN/smithd" --backend="$backend" --bpf-ring="$ring" --foreground --sink=file --output=/dev/null \
		--pid-file="$WORK/smithd.pid" --socket="$WORK/smithd.sock" --config=/dev/null \
		--ringbuf-bytes=$((RING_TOTAL_KB * 1024)) --connect-budget-rate=0 >"$WORK/smithd.log" 2>&1 &
	SMITHD_PID=$!
	waited=0
	while ! "$BIN/smithctl" status --socket="$WORK/smithd.sock" >/dev/null 2>&1; do
		kill -0 "$SMITHD_PID" 2>/dev/null || fail "smithd --backend=$1 exited during startup"
		[ "$waited" -lt 1800 ] || fail "smithd --backend=$1 not ready after 900 s"
		sleep 0.5
		waited=$((waited + 1))
	done
	echo "guest-scale: smithd --backend=$1 ready after $((waited / 2)) s" >&2
}

stop_smithd() { # $1: backend
	kill -TERM "$SMITHD_PID"
	wait "$SMITHD_PID" || fail "smithd exited with status $? after SIGTERM"
	SMITHD_PID=""
	[ "$1" != lkm ] || rmmod smith || fail "rmmod smith failed after smithd stopped"
}

# The connect count in "received" of a status file (busybox has no JSON tool). Only connect: each
# smithctl run is an execve event.
received_of() { sed -n 's/.*"received":{[^}]*"connect":\([0-9]*\).*/\1/p' "$1"; }

uptime_of() { sed -n 's/.*"uptime_seconds":\([0-9.e+-]*\).*/\1/p' "$1"; }

# Waits until smithd has taken in all the kernel kept: its connect count unchanged over 4 fresh
# statuses (a new uptime: a stale one says nothing) and an empty queue.
drain() {
	i=0 last="" last_up="" still=0
	while [ $i -lt 240 ]; do
		status "$WORK/drained.json"
		now=$(received_of "$WORK/drained.json")
		up=$(uptime_of "$WORK/drained.json")
		if [ "$now" != "$last" ]; then
			still=0
		elif [ "$up" != "$last_up" ] && grep -q '"queue_depth":0[,}]' "$WORK/drained.json"; then
			still=$((still + 1))
			[ "$still" -lt 4 ] || return 0
		fi
		last=$now last_up=$up
		sleep 0.5
		i=$((i + 1))
	done
	echo "guest-scale: smithd still busy after 120 s" >&2
}

# One window: a load process per CPU, pinned. $1: round, $2: config.
window() {
	[ "$2" = bare ] || status "$WORK/before.json"
	cpu=0
	pids=""
	while [ "$cpu" -lt "$CPUS" ]; do
		taskset "$(printf %x $((1 << cpu)))" "$BIN/smith_paced_load" --rate 0 --seconds "$SECONDS_PER_WINDOW" \
			>"$WORK/load.$cpu.json" 2>"$WORK/load.$cpu.err" &
		pids="$pids $!"
		cpu=$((cpu + 1))
	done
	for pid in $pids; do
		wait "$pid" || { cat "$WORK"/load.*.err >&2; fail "smith_paced_load failed ($2, round $1)"; }
	done
	loads=$(cat "$WORK"/load.*.json | tr '\n' ',' | sed 's/,$//')
	rm -f "$WORK"/load.*.json "$WORK"/load.*.err
	if [ "$2" = bare ]; then
		printf '{"cpus":%d,"round":%d,"config":"bare","seconds":%s,"loads":[%s]}\n' \
			"$CPUS" "$1" "$SECONDS_PER_WINDOW" "$loads" >>"$SAMPLES"
	else
		drain
		ring_kb=$RING_TOTAL_KB
		[ "$2" != lkm ] || ring_kb=$((RING_KB * CPUS))
		[ "$2" != ebpf-percpu ] || ring_kb=$((BPF_CPU_RING_KB * CPUS))
		printf '{"cpus":%d,"round":%d,"config":"%s","seconds":%s,"ring_kb":%d,"loads":[%s],"before":%s,"drained":%s}\n' \
			"$CPUS" "$1" "$2" "$SECONDS_PER_WINDOW" "$ring_kb" "$loads" "$(cat "$WORK/before.json")" \
			"$(cat "$WORK/drained.json")" >>"$SAMPLES"
	fi
	echo "guest-scale: $CPUS CPUs, round $1, $2: $(tail -n 1 "$SAMPLES" | cut -c1-300)" >&2
}

echo "guest-scale: $CPUS CPUs online, configs: $CONFIGS, $ROUNDS rounds of $SECONDS_PER_WINDOW s" >&2
# One untimed pass first: the emulator translates each code path the first time it runs.
"$BIN/smith_paced_load" --rate 0 --seconds 1 >/dev/null || fail "smith_paced_load failed"

round=1
while [ "$round" -le "$ROUNDS" ]; do
	order=$CONFIGS
	if [ $((round % 2)) = 0 ]; then
		order=$(echo "$CONFIGS" | tr ' ' '\n' | sed -n '1!G;h;$p' | tr '\n' ' ')
	fi
	for config in $order; do
		case "$config" in
		bare) window "$round" bare ;;
		*)
			start_smithd "$config"
			window "$round" "$config"
			stop_smithd "$config"
			;;
		esac
	done
	round=$((round + 1))
done

echo "SMITH-VM: SCALE JSON BEGIN"
cat "$SAMPLES"
echo "SMITH-VM: SCALE JSON END"
