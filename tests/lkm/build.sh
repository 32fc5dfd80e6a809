#!/usr/bin/env bash
# lkm: build against KERNEL — smith.ko built from lkm/ the way DKMS builds it (make -C lkm
# KDIR=<build tree>) against a kernel's build tree, with nothing the compiler warns about:
#   - conftest.sh's answers (lkm/conftest.h) are exactly the HAVE_* set pinned in
#     tests/lkm/have-<kernel>.txt: a harness that breaks, or a kernel that changes, shows here;
#   - the build prints no warning and no error (the assembler's "Warning:" included);
#   - for el7, also with -std=gnu89, the dialect of CentOS 7's gcc 4.8.5.
#
#   build.sh KERNEL [--gnu89]        KERNEL: 6.1, 6.12 or el7 (tests/vm/fetch-kernel.sh)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../skip.sh
. "$REPO/tests/skip.sh"
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

kernel=${1:?usage: build.sh 6.1|6.12|el7 [--gnu89]}
gnu89=0
[ "${2:-}" != --gnu89 ] || gnu89=1
[ "$(id -u)" -eq 0 ] || skip "needs root (tests/vm/fetch-kernel.sh installs kernel headers)"
fetched=0
vars=$("$REPO/tests/vm/fetch-kernel.sh" --kernel "$kernel") || fetched=$?
[ "$fetched" != 3 ] || skip "CentOS 7's kernel is not beside this checkout: no ../shared/kernels/el7 (set SMITH_SHARED_DIR to the folder holding kernels/el7)"
[ "$fetched" = 0 ] || fail "tests/vm/fetch-kernel.sh --kernel $kernel failed"
eval "$vars"
: "${KDIR:?}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A copy of the sources, as the packages install them: lkm/ and include/ side by side.
cp -r "$REPO/lkm" "$REPO/include" "$tmp/"
find "$tmp/lkm" \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' -o -name 'conftest.h' \
	-o -name 'conftest.kdir' \) -delete
rm -rf "$tmp/lkm/.conftest"

flags=""
[ "$gnu89" = 0 ] || flags="-std=gnu89"
status=0
KCFLAGS="$flags" make -C "$tmp/lkm" KDIR="$KDIR" >"$tmp/build.log" 2>&1 || status=$?
if [ "$status" != 0 ] || [ ! -f "$tmp/lkm/smith.ko" ]; then
	cat "$tmp/build.log"
	fail "building smith.ko against $KDIR${flags:+ with $flags} failed"
fi
if grep -iE 'warning:|error:' "$tmp/build.log"; then
	fail "the build against $KDIR${flags:+ with $flags} printed the warnings above"
fi

want=$HERE/have-$kernel.txt
grep -o '^#define HAVE_[A-Z0-9_]*' "$tmp/lkm/conftest.h" | cut -d' ' -f2 | sort >"$tmp/have.txt"
if ! diff -u <(grep -v '^#' "$want" | sed '/^$/d' | sort) "$tmp/have.txt"; then
	fail "lkm/conftest.sh found a HAVE_* set for $kernel other than $want's (- pinned, + found)"
fi
echo "ok: smith.ko ($(modinfo -F vermagic "$tmp/lkm/smith.ko")) built against $KDIR${flags:+ with $flags}" \
	"with no warning; $(wc -l <"$tmp/have.txt") HAVE_* as pinned in $(basename "$want")"
