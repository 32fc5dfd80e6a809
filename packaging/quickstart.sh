#!/usr/bin/env bash
# Quick start on a fresh Debian 12 machine, as root: installs what is needed,
# builds smith, and runs `smithd --backend=auto` printing events to stdout.
# Extra arguments go to smithd (e.g. --output /tmp/events.json).
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
"$top/packaging/install-build-deps.sh"
cmake -S "$top" -B "$top/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$top/build" --target smithd smithctl
echo "quickstart: starting smithd (Ctrl-C stops it; 'build/smithctl status' in another terminal)" >&2
exec "$top/build/smithd" --backend=auto --foreground "$@"
