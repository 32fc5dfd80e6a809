#!/usr/bin/env bash
# The whole test suite: installs what is needed, builds, and runs every test
# with CTest. Unit tests run anywhere; end-to-end tests need root and kernel
# BTF and report "Skipped" with the reason when they cannot run.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
build="${SMITH_BUILD_DIR:-$top/build}"
"$top/packaging/install-build-deps.sh"
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build"
cd "$build"
ctest --output-on-failure --timeout 300 "$@"
