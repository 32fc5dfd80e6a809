#!/bin/sh
# guest-bench.sh: hook overhead inside the test VM (busybox sh; /init runs it for smith.mode=bench).
#
#   guest-bench.sh [--rounds R] [--lkm 0|1] [--configs bare,lkm,ebpf,...]
#
# Times smith_hook_load's udp_connect, fork_exec and getppid loops (getppid: a syscall nothing
# hooks, which every probe on the sys_exit tracepoint puts on the slow path) bare, under smithd
# --backend=lkm (when the image has smith.ko and --lkm 1) and, when the kernel has BTF, under
# smithd --backend=ebpf in the mode it picks (fexit where the kernel allows trampolines) and with
# --bpf-attach=sys_exit (ebpf-sys_exit), each next to its floor, empty programs on the same attach
# points (smith_bench_floor: floor, floor-sys_exit), and floor-emit, the floor with connect sending
# a record of smithd's size (zeros and a time stamp) through a ring buffer; or in the
# configurations --configs names,
# interleaved over R rounds:
# the order of the configurations reverses every other round, and each smithd starts before its
# loops and stops after them, so that its start-up (BPF load: minutes under TCG) is outside every
# timing. Each sample, and each smithd run's status before SIGTERM, is one JSON line; all of them
# are printed at the end between "SMITH-VM: BENCH JSON BEGIN" and "SMITH-VM: BENCH JSON END" for
# run-vm.sh, which writes the report (vm_bench_report.py). Exits non-zero when it cannot measure.
set -eu

BIN=/opt/smith/bin
ROUNDS=3
LKM=0
CONFIGS_ASKED=""
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--lkm) LKM=$2; shift 2 ;;
	--configs) CONFIGS_ASKED=$(echo "$2" | tr ',' ' '); shift 2 ;;
	*) echo "guest-bench: unknown option '$1'" >&2; exit 2 ;;
	esac
done
UDP_ITERATIONS=${SMITH_VM_BENCH_UDP:-20000}
EXEC_ITERATIONS=${SMITH_VM_BENCH_EXEC:-300}
GETPPID_ITERATIONS=${SMITH_VM_BENCH_GETPPID:-200000}

WORK=/tmp/bench
mkdir -p "$WORK"
SAMPLES="$WORK/samples.jsonl"
: >"$SAMPLES"
SMITHD_PID=""

CONFIGS="bare"
if [ "$LKM" = 1 ]; then
	[ -f /opt/smith/modules/smith.ko ] || { echo "guest-bench: --lkm 1 but no smith.ko" >&2; exit 1; }
	CONFIGS="$CONFIGS lkm"
fi
# no BTF (el7): the module alone
[ ! -e /sys/kernel/btf/vmlinux ] || CONFIGS="$CONFIGS floor floor-emit ebpf floor-sys_exit ebpf-sys_exit"
[ -z "$CONFIGS_ASKED" ] || CONFIGS=$CONFIGS_ASKED

fail() {
	echo "guest-bench: error: $*" >&2
	[ -z "$SMITHD_PID" ] || { kill "$SMITHD_PID" 2>/dev/null || true; tail -n 30 "$WORK/smithd.log" >&2 || true; }
	exit 1
}

start_floor() { # $1: smith_bench_floor's set
	rm -f "$WORK/floor.ready"
	"$BIN/smith_bench_floor" --set "$1" --ready "$WORK/floor.ready" >"$WORK/floor.log" 2>&1 &
	FLOOR_PID=$!
	waited=0
	while [ ! -f "$WORK/floor.ready" ]; do
		kill -0 "$FLOOR_PID" 2>/dev/null || { cat "$WORK/floor.log" >&2; fail "smith_bench_floor --set $1 exited"; }
		[ "$waited" -lt 1800 ] || fail "smith_bench_floor --set $1 not ready after 900 s"
		sleep 0.5
		waited=$((waited + 1))
	done
	echo "guest-bench: $(cat "$WORK/floor.log")" >&2
}

stop_floor() {
	kill -TERM "$FLOOR_PID"
	wait "$FLOOR_PID" || fail "smith_bench_floor exited with status $? after SIGTERM"
}

start_smithd() { # $1: backend, then smithd's extra arguments
	rm -f "$WORK/smithd.pid" "$WORK/smithd.sock" "$WORK/events.json"
	backend=$1
	shift
	if [ "$backend" = lkm ]; then
		# Loaded afresh for each run, so that its drop counters are this run's. 8 MiB rings per
		# CPU hold as much as the 16 MiB BPF ring buffer the ebpf runs get below, which keeps
		# both backends free of drops under emulation.
		[ ! -d /sys/module/smith ] || rmmod smith || fail "rmmod smith failed"
		insmod /opt/smith/modules/smith.ko ring_kb=8192 || fail "insmod smith.ko failed"
	fi
	# No connect budget: every call of the loops is an event, as with collectors that have none.
	"$BIN/smithd" --backend="$backend" --foreground --sink=file --output="$WORK/events.json" \
		--pid-file="$WORK/smithd.pid" --socket="$WORK/smithd.sock" --config=/dev/null \
		--ringbuf-bytes=16777216 --connect-budget-rate=0 "$@" >"$WORK/smithd.log" 2>&1 &
	SMITHD_PID=$!
	waited=0
	# The pid file is taken first; the control socket answers once smithd is ready.
	while ! "$BIN/smithctl" status --socket="$WORK/smithd.sock" >/dev/null 2>&1; do
		kill -0 "$SMITHD_PID" 2>/dev/null || fail "smithd --backend=$backend $* exited during startup"
		[ "$waited" -lt 1800 ] || fail "smithd --backend=$backend $* not ready after 900 s"
		sleep 0.5
		waited=$((waited + 1))
	done
	echo "guest-bench: smithd --backend=$backend $* ready after $((waited / 2)) s" >&2
}

stop_smithd() { # $1: round, $2: config
	# Let the queue drain (at most 120 s) so that the status covers the loops' events.
	i=0
	while [ $i -lt 240 ]; do
		"$BIN/smithctl" status --json --socket="$WORK/smithd.sock" >"$WORK/status.json" 2>/dev/null || true
		grep -q '"queue_depth":0[,}]' "$WORK/status.json" && break
		sleep 0.5
		i=$((i + 1))
	done
	printf '{"round":%d,"config":"%s","status":%s}\n' "$1" "$2" "$(cat "$WORK/status.json")" >>"$SAMPLES"
	kill -TERM "$SMITHD_PID"
	wait "$SMITHD_PID" || fail "smithd exited with status $? after SIGTERM"
	SMITHD_PID=""
	[ "$2" != lkm ] || rmmod smith || fail "rmmod smith failed after smithd stopped"
	rm -f "$WORK/events.json"
}

run_loops() { # $1: round, $2: config
	for spec in "udp_connect:$UDP_ITERATIONS" "fork_exec:$EXEC_ITERATIONS" "getppid:$GETPPID_ITERATIONS"; do
		loop=${spec%%:*}
		n=${spec#*:}
		out=$("$BIN/smith_hook_load" --loop "$loop" --iterations "$n") || fail "smith_hook_load --loop $loop failed"
		printf '{"round":%d,"config":"%s","result":%s}\n' "$1" "$2" "$out" >>"$SAMPLES"
		echo "guest-bench: round $1 $2: $out" >&2
	done
}

# One untimed pass first: the emulator translates each code path the first time it runs, and the
# first configuration measured would pay for it.
for loop in udp_connect fork_exec getppid; do
	"$BIN/smith_hook_load" --loop "$loop" --iterations 100 >/dev/null || fail "smith_hook_load --loop $loop failed"
done

round=1
while [ "$round" -le "$ROUNDS" ]; do
	order=$CONFIGS
	if [ $((round % 2)) = 0 ]; then
		order=$(echo "$CONFIGS" | tr ' ' '\n' | sed -n '1!G;h;$p' | tr '\n' ' ')
	fi
	for config in $order; do
		case "$config" in
		bare) run_loops "$round" bare ;;
		floor | floor-sys_exit | floor-emit)
			case "$config" in
			floor) set=smith ;;
			floor-sys_exit) set=smith-sys_exit ;;
			floor-emit) set=smith-emit ;;
			esac
			start_floor "$set"
			run_loops "$round" "$config"
			stop_floor
			;;
		ebpf-sys_exit)
			start_smithd ebpf --bpf-attach=sys_exit
			run_loops "$round" "$config"
			stop_smithd "$round" "$config"
			;;
		*)
			start_smithd "$config"
			run_loops "$round" "$config"
			stop_smithd "$round" "$config"
			;;
		esac
	done
	round=$((round + 1))
done

echo "SMITH-VM: BENCH JSON BEGIN"
cat "$SAMPLES"
echo "SMITH-VM: BENCH JSON END"
