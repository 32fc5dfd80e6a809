#!/usr/bin/env bash
# console-verdict.sh CONSOLE MODE QEMU_STATUS TIMEOUT: judges a guest's serial console log
# (tests/vm/guest-init.sh's markers) and prints one line per problem found. Exits 0 when there is
# none, 1 otherwise. run-vm.sh uses it after each boot; verdict_test.sh checks it on made-up logs.
#
# Problems: QEMU killed by the timeout (status 137) or failing; no "SMITH-VM: BOOTED"; no
# "SMITH-VM: END <mode> rc=N", or N != 0; in checks mode, a run that ended without Catch2's "All tests
# passed" summary (a program that exited half way), with Catch2's report of each failure; no "SMITH-VM: POWEROFF"; and kernel trouble
# anywhere in the log: an oops, a BUG, a WARNING, a call trace, a general protection fault, a panic, a
# soft or hard lockup, or a hung task.
set -euo pipefail

[ $# -eq 4 ] || {
	echo "usage: $0 CONSOLE MODE QEMU_STATUS TIMEOUT" >&2
	exit 2
}
console=$1 mode=$2 qemu_status=$3 timeout=$4
[ -r "$console" ] || {
	echo "console-verdict: cannot read $console" >&2
	exit 2
}

problems=0
problem() {
	echo "$*"
	problems=$((problems + 1))
}
if [ "$qemu_status" = 137 ]; then
	problem "the guest did not finish within ${timeout}s (QEMU killed)"
elif [ "$qemu_status" != 0 ]; then
	problem "QEMU exited with status $qemu_status"
fi
grep -q "^SMITH-VM: BOOTED " "$console" || problem "the guest never reached /init"
guest_rc=$(sed -n "s/^SMITH-VM: END $mode rc=\([0-9]*\)$/\1/p" "$console" | tail -n1)
if [ -z "$guest_rc" ]; then
	problem "the guest's $mode did not finish"
elif [ "$guest_rc" != 0 ]; then
	problem "the guest's $mode failed (exit code $guest_rc)"
	# Catch2's report of each failed test (from its header to the test's duration line, the first
	# 40 lines of it), so that the failures are in the last lines run-vm.sh prints, after a console
	# a CI log may cut short.
	[ "$mode" != checks ] || awk '
		function end_report() {
			if (inside && cut) printf "  [%d more lines of this report in the console]\n", cut
			inside = 0
		}
		length($0) == 79 && /^-+$/ { if (!inside) { inside = 1; lines = 0; cut = 0 } }
		/^[0-9]+\.[0-9]+ s: / { end_report() }
		length($0) == 79 && /^=+$/ { end_report(); summary = 2 }
		inside && !(length($0) == 79 && /^[-.]+$/) {
			if (lines++ < 40) print substr($0, 1, 300); else cut++
		}
		summary && /^(test cases|assertions):/ { print; summary-- }
	' "$console" | head -n 400
elif [ "$mode" = checks ] && ! grep -q "^All tests passed (" "$console"; then
	problem "the guest's checks exited 0 without Catch2's summary: they ended half way"
fi
grep -q "^SMITH-VM: POWEROFF" "$console" || problem "the guest did not reach its power-off"
# Kernel trouble anywhere on the console or in the dmesg dump at the end.
trouble=$(grep -nE 'Oops|BUG:|kernel BUG at|WARNING:|Call Trace:|general protection fault|Kernel panic|RIP: 00|soft lockup|hard LOCKUP|blocked for more than' "$console" | head -n 20 || true)
[ -z "$trouble" ] || problem "the guest kernel reported trouble:
$trouble"
[ "$problems" = 0 ]
