#!/usr/bin/env bash
# verdict_test.sh: console-verdict.sh on made-up guest consoles. A clean run passes; each kind of
# trouble run-vm.sh must catch (a kernel warning, an oops, a BUG, a call trace, failed checks,
# checks that ended half way, the report of a failed check, a guest that never finished, a QEMU killed by the timeout) fails with its own message.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERDICT="$HERE/console-verdict.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

clean() {
	cat <<'LOG'
[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)
SMITH-VM: BOOTED 6.1.0-56-amd64
SMITH-VM: BEGIN checks
All tests passed (9584 assertions in 10 test cases)
SMITH-VM: END checks rc=0
SMITH-VM: DMESG BEGIN
[   43.212172] smith: hooks disarmed
SMITH-VM: DMESG END
SMITH-VM: POWEROFF
[  166.556631] reboot: Power down
LOG
}

failures=0 total=0
# expect NAME WANT_STATUS QEMU_STATUS PATTERN: runs the verdict on $work/NAME.log.
expect() {
	local name=$1 want=$2 qemu=$3 pattern=$4 out status=0
	total=$((total + 1))
	out=$("$VERDICT" "$work/$name.log" checks "$qemu" 60) || status=$?
	if [ "$status" != "$want" ] || ! grep -q -- "$pattern" <<<"$out"; then
		echo "FAIL: $name: status $status (want $want), output: '$out' (want /$pattern/)"
		failures=$((failures + 1))
	else
		echo "ok: $name"
	fi
}

clean >"$work/clean.log"
expect clean 0 0 ''

clean | sed 's/^SMITH-VM: DMESG END$/[   44.1] WARNING: CPU: 1 PID: 99 at kernel\/module\/main.c:1234 load_module+0x1\/0x2\nSMITH-VM: DMESG END/' >"$work/warning.log"
expect warning 1 0 'kernel reported trouble'
clean | sed 's/^SMITH-VM: DMESG END$/[   44.1] BUG: kernel NULL pointer dereference, address: 0000000000000008\n[   44.2] Oops: 0000 [#1] PREEMPT SMP NOPTI\nSMITH-VM: DMESG END/' >"$work/oops.log"
expect oops 1 0 'Oops: 0000'
clean | sed 's/^SMITH-VM: DMESG END$/[   44.1] Call Trace:\nSMITH-VM: DMESG END/' >"$work/trace.log"
expect trace 1 0 'Call Trace'
clean | sed 's/rc=0/rc=1/' >"$work/failed.log"
expect failed 1 0 'checks failed (exit code 1)'
# A failed check's report is in the verdict, which run-vm.sh prints last.
{
	sed '/^All tests passed/,$d' "$work/clean.log"
	printf '%s\n' "$(printf -- '-%.0s' {1..79})" 'connect: a refused connect is reported' "$(printf -- '-%.0s' {1..79})" \
		'connect_test.cpp:42' "$(printf -- '.%.0s' {1..79})" '' 'connect_test.cpp:57: FAILED:' '  REQUIRE( ev.port == 80 )' \
		'with expansion:' '  81 == 80' '' '3.104 s: connect: a refused connect is reported' "$(printf -- '=%.0s' {1..79})" \
		'test cases: 9 | 8 passed | 1 failed' 'assertions: 90 | 89 passed | 1 failed' ''
	sed '1,/^All tests passed/d; s/rc=0/rc=1/' "$work/clean.log"
} >"$work/failed-report.log"
expect failed-report 1 0 'connect_test.cpp:57: FAILED:'
expect failed-report 1 0 '^connect: a refused connect is reported$'
expect failed-report 1 0 '^  81 == 80$'
expect failed-report 1 0 '^test cases: 9 | 8 passed | 1 failed$'
clean | sed '/^SMITH-VM: END/,$d' >"$work/unfinished.log"
expect unfinished 1 137 'did not finish within 60s'
clean | sed '/^SMITH-VM: POWEROFF/,$d' >"$work/no-poweroff.log"
expect no-poweroff 1 0 'did not reach its power-off'
grep -v BOOTED "$work/clean.log" >"$work/no-init.log"
expect no-init 1 0 'never reached /init'
expect clean 1 1 'QEMU exited with status 1'
clean | sed 's/^SMITH-VM: DMESG END$/[   44.1] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [smithd:99]\nSMITH-VM: DMESG END/' >"$work/lockup.log"
expect lockup 1 0 'soft lockup'
clean | sed 's/^SMITH-VM: DMESG END$/[  244.1] INFO: task smith_e2e_tests:88 blocked for more than 120 seconds.\nSMITH-VM: DMESG END/' >"$work/hung.log"
expect hung 1 0 'blocked for more than'
grep -v '^All tests passed' "$work/clean.log" >"$work/no-summary.log"
expect no-summary 1 0 'without Catch2'"'"'s summary'

echo "$((total - failures)) passed, $failures failed"
[ "$failures" = 0 ]
