#!/usr/bin/env bash
# The whole test suite: installs what is needed, builds, and runs every test
# with CTest. Unit tests run anywhere; end-to-end tests need root and kernel
# BTF and report "Skipped" with the reason when they cannot run. After each
# CTest run, tests/check_skips.py lists every skip with its reason; under
# CI=true (.ci/run) a skip that tests/allowed-skips.txt does not name fails.
#
# Two trees:
#   build/          the development build (shared libraries): every test.
#   build-release/  the release build (SMITH_STATIC=ON, fully static smithd and smithctl) and
#                   its packages: end-to-end tests again against the static binaries (those of
#                   each part static linking touches, below), the package tests, and the
#                   packaged binaries with the DKMS-built module in QEMU.
# The RPM and the .deb are copied to dist/.
#
#   tests/run.sh [CTEST ARGS]   e.g. -R unit; the arguments select tests in build/.
#   SMITH_RELEASE=0 tests/run.sh ...   leaves out build-release/ (about 12 minutes).
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
build="${SMITH_BUILD_DIR:-$top/build}"
release="${SMITH_RELEASE_BUILD_DIR:-$top/build-release}"
"$top/packaging/install-build-deps.sh"
# The tests of the release tree: its packages, and the guests that boot them.
release_tests='package: |vm: package'

# ctest in DIR with ARGS, then the skips it reported; fails when either fails.
run_ctest() {
	local dir=$1 status=0
	shift
	rm -f "$dir/ctest-results.xml"
	(cd "$dir" && ctest --output-on-failure --output-junit ctest-results.xml "$@") || status=$?
	if [ -f "$dir/ctest-results.xml" ]; then
		python3 "$top/tests/check_skips.py" "$dir/ctest-results.xml" || status=1
	else
		echo "tests/run.sh: ctest wrote no results in $dir" >&2
		status=1
	fi
	return "$status"
}

cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build"
run_ctest "$build" --timeout 300 -E "^($release_tests)" "$@"

[ "${SMITH_RELEASE:-1}" = 0 ] && exit 0

cmake -S "$top" -B "$release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSMITH_STATIC=ON >/dev/null
cmake --build "$release" --target smithd smithctl smith_e2e_tests smith_kafka_consume \
	smith_hook_load
# The static binaries run the end-to-end tests of what static linking changes: loading and reading
# BPF (libbpf, libelf, zlib), user and host lookups, the control socket and smithctl, the metrics
# listener, detaching, the pid file, bpffs, the file sink, and librdkafka against the real broker
# (events and heartbeats).
# The rest of the suite (attacks, hostile strings, the Kafka sink's faults) runs once, in build/:
# its code is the same in both trees, and a second pass would take about 7 of CI's 45 minutes.
release_e2e='e2e:(execve: a successful|connect: successful|uts namespace|status: |stop: |attach: auto|start: |drops: |crash: |rotation: |file sink: |metrics: |kafka: events and)'
run_ctest "$release" --timeout 840 -R "^($release_e2e|$release_tests)"

mkdir -p "$top/dist"
cp "$release"/packages/smith-*.x86_64.rpm "$release"/packages/smith_*_amd64.deb "$top/dist/"
echo "packages:"
ls -l "$top"/dist/
