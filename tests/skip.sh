# Sourced by the test scripts: how a test says it was skipped.
#
# skip REASON prints "SMITH-TEST-SKIPPED: REASON", the line CTest recognises (SKIP_REGULAR_EXPRESSION
# in tests/CMakeLists.txt), and exits 0 at once, so that no failure can follow it. A skip is never
# an exit code: a failing test can produce any code. tests/run.sh lists every skip with its reason,
# and under CI=true fails each one that tests/allowed-skips.txt does not name.
skip() {
	echo "SMITH-TEST-SKIPPED: $*"
	exit 0
}
