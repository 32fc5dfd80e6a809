#!/usr/bin/env bash
# record-mixed.sh: records mixed.smithraw, the raw records pipeline.sh replays, from this kernel.
#
#   tests/bench/data/record-mixed.sh [--build-dir DIR] [--out FILE]
#
# Runs smithd --backend=ebpf --record=FILE (connect budget off) while making, from a shell three
# levels below this one (so that each record's pid_tree has the depth of a process in a service's
# tree, not of a shell at the top):
#   3000 UDP connects to 127.0.0.1:9 from smith_paced_load (one process, 1000 a second),
#    300 TCP connects to [::1]:9 (refused) from one python3,
#    300 execs of ls -d /etc/hostname, and 300 of /bin/true with an argument each, from sh,
# and whatever else the host runs meanwhile. Then stops smithd and reports what it holds.
# Needs root, kernel BTF and the BPF ring buffer; the default build directory is build-bench
# (pipeline.sh's).
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../../.." && pwd)
BUILD_DIR="$REPO/build-bench"
OUT="$SCRIPT_DIR/mixed.smithraw"
die() {
	echo "record-mixed: error: $*" >&2
	exit 1
}
while [ $# -gt 0 ]; do
	case "$1" in
	--build-dir) BUILD_DIR=${2:?}; shift 2 ;;
	--out) OUT=${2:?}; shift 2 ;;
	-h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option '$1'" ;;
	esac
done
[ "$(id -u)" -eq 0 ] || die "needs root (BPF)"
SMITHD=$BUILD_DIR/smithd
LOAD=$BUILD_DIR/tests/bench/smith_paced_load
[ -x "$SMITHD" ] && [ -x "$LOAD" ] || die "no smithd or smith_paced_load in $BUILD_DIR (ninja -C $BUILD_DIR smithd smith_paced_load)"
command -v python3 >/dev/null || die "python3 not found"

WORK=$(mktemp -d)
SMITHD_PID=""
cleanup() {
	[ -z "$SMITHD_PID" ] || kill "$SMITHD_PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

rm -f "$OUT"
"$SMITHD" --backend=ebpf --foreground --config=/dev/null --connect-budget-rate=0 --record="$OUT" \
	--sink=file --output="$WORK/events.jsonl" --pid-file="$WORK/smithd.pid" \
	--socket="$WORK/smithd.sock" --state-file="$WORK/smithd.state" 2>"$WORK/smithd.log" &
SMITHD_PID=$!
for _ in $(seq 300); do
	grep -q " running: " "$WORK/smithd.log" && break
	kill -0 "$SMITHD_PID" 2>/dev/null || { cat "$WORK/smithd.log" >&2; die "smithd exited"; }
	sleep 0.1
done
grep -q " running: " "$WORK/smithd.log" || die "smithd did not start in 30 s"

cat >"$WORK/workload.sh" <<EOF
"$LOAD" --op connect --rate 1000 --seconds 3 >/dev/null
python3 -c '
import socket
for _ in range(300):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        s.connect(("::1", 9))
    except OSError:
        pass
    s.close()
'
i=0
while [ \$i -lt 300 ]; do ls -d /etc/hostname >/dev/null; /bin/true \$i; i=\$((i + 1)); done
EOF
sh -c "sh -c 'sh $WORK/workload.sh; :'; :"
sleep 1
kill -TERM "$SMITHD_PID"
wait "$SMITHD_PID" || die "smithd exited with $? (log: $(cat "$WORK/smithd.log"))"
SMITHD_PID=""
python3 - "$WORK/events.jsonl" "$OUT" <<'PY'
import collections, json, os, sys
types = collections.Counter()
depth = collections.Counter()
for line in open(sys.argv[1]):
    e = json.loads(line)
    types[e["type"]] += 1
    depth[len(e.get("pid_tree", []))] += 1
print(f"record-mixed: {sys.argv[2]}: {os.path.getsize(sys.argv[2])} bytes, "
      + ", ".join(f"{n} {t}" for t, n in types.most_common())
      + "; pid_tree depths " + ", ".join(f"{d}: {n}" for d, n in sorted(depth.items())))
PY
