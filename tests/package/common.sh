# Shared by the package tests (sourced). Each test: TEST PKG_DIR SOURCE_DIR [more]; exit 0 pass,
# 1 fail; skipped when it prints the skip line (tests/skip.sh).
set -euo pipefail
# shellcheck source=../skip.sh
. "$(dirname "${BASH_SOURCE[0]}")/../skip.sh"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok: $*"; }

need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip "$t is not installed (packaging/build-deps.txt)"
	done
}
need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root ($*)"; }

# fetch_kernel KERNEL: sets RELEASE, KDIR and the rest of tests/vm/fetch-kernel.sh's variables.
# Skips when the kernel's files are not beside this checkout (el7 without ../shared), and fails
# when fetching fails otherwise. Needs SRC (load_packages).
fetch_kernel() {
	local vars fetched=0
	vars=$("$SRC/tests/vm/fetch-kernel.sh" --kernel "$1") || fetched=$?
	[ "$fetched" != 3 ] || skip "CentOS 7's kernel is not beside this checkout: no ../shared/kernels/el7 (set SMITH_SHARED_DIR to the folder holding kernels/el7)"
	[ "$fetched" = 0 ] || fail "tests/vm/fetch-kernel.sh --kernel $1 failed"
	eval "$vars"
}

# The packages the "package: build" fixture made.
load_packages() {
	PKG_DIR=$1
	SRC=$2
	VERSION=$(sed -n 's/^project(smith VERSION \([0-9][0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
	RPM1="$PKG_DIR/smith-$VERSION-1.x86_64.rpm"
	DEB1="$PKG_DIR/smith_${VERSION}-1_amd64.deb"
	RPM2="$PKG_DIR/release2/smith-$VERSION-2.x86_64.rpm"
	DEB2="$PKG_DIR/release2/smith_${VERSION}-2_amd64.deb"
	for f in "$RPM1" "$DEB1" "$RPM2" "$DEB2"; do
		[ -f "$f" ] || fail "$f is missing: the 'package: build' test did not make it"
	done
}

# Compares two files of lines; prints the difference and fails if they differ.
same_lines() {
	local what=$1 expected=$2 actual=$3
	if ! diff -u "$expected" "$actual"; then
		fail "$what differs from what is expected (- expected, + actual)"
	fi
}

# Sets tmp, a temporary directory removed at exit, and R=$tmp/root, a bare root where package
# scripts can run chrooted: busybox and its applets in /bin, /dev/null, /tmp, /etc, /usr/sbin.
# No shared library.
make_busybox_root() {
	local applet
	[ -x /bin/busybox ] || skip "busybox-static is not installed"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	R=$tmp/root
	mkdir -p "$R/bin" "$R/dev" "$R/tmp" "$R/etc" "$R/usr/sbin"
	mknod -m 0666 "$R/dev/null" c 1 3
	cp /bin/busybox "$R/bin/busybox"
	for applet in $("$R/bin/busybox" --list); do
		[ -e "$R/bin/$applet" ] || ln -s busybox "$R/bin/$applet"
	done
}
