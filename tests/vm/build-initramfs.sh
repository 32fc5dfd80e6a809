#!/usr/bin/env bash
# build-initramfs.sh: the guest's root file system for one kernel, as a cpio archive.
#
#   build-initramfs.sh --build-dir DIR --release R --kdir KDIR --out FILE.cpio [--work DIR]
#                      [--smith-bin-dir DIR] [--smith-ko FILE]
#
# Holds busybox-static (with its applets as links), /init (tests/vm/guest-init.sh),
# smithd, smithctl, smith_e2e_tests, smith_hook_load and smith_tp_pin (and smith_paced_load, when built, for
# guest-scale.sh) from the build directory with every
# shared library ldd names and the dynamic loader (none for a SMITH_STATIC build), the test
# module built against KDIR and, when the tree has lkm/, smith.ko built against KDIR.
# --smith-bin-dir takes smithd and smithctl from DIR instead (a package's /usr/bin), as they are;
# --smith-ko takes a smith.ko built elsewhere (DKMS) instead of building lkm/. The modules are
# built in copies of their sources under the work directory (default: FILE's directory), so that
# builds for several kernels do not meet in the source tree. SMITH_VM_NO_LKM=1 leaves smith.ko out (the image then
# serves the eBPF checks only).
set -euo pipefail

die() {
	echo "build-initramfs: error: $*" >&2
	exit 1
}
log() { echo "build-initramfs: $*" >&2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR="" RELEASE="" KDIR="" OUT="" WORK="" SMITH_BIN_DIR="" SMITH_KO=""
while [ $# -gt 0 ]; do
	case "$1" in
	--build-dir) BUILD_DIR=${2:?}; shift 2 ;;
	--release) RELEASE=${2:?}; shift 2 ;;
	--kdir) KDIR=${2:?}; shift 2 ;;
	--out) OUT=${2:?}; shift 2 ;;
	--work) WORK=${2:?}; shift 2 ;;
	--smith-bin-dir) SMITH_BIN_DIR=${2:?}; shift 2 ;;
	--smith-ko) SMITH_KO=${2:?}; shift 2 ;;
	*) die "unknown option '$1'" ;;
	esac
done
[ -n "$BUILD_DIR" ] && [ -n "$RELEASE" ] && [ -n "$KDIR" ] && [ -n "$OUT" ] ||
	die "usage: $0 --build-dir DIR --release R --kdir KDIR --out FILE.cpio [--work DIR]"
[ -f "$KDIR/Makefile" ] || die "no kernel headers in $KDIR"
BUSYBOX=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic' ||
	die "$BUSYBOX is not statically linked (apt-get install busybox-static)"
command -v cpio >/dev/null || die "cpio not found (apt-get install cpio)"

BINS=(
	"${SMITH_BIN_DIR:-$BUILD_DIR}/smithd"
	"${SMITH_BIN_DIR:-$BUILD_DIR}/smithctl"
	"$BUILD_DIR/tests/smith_e2e_tests"
	"$BUILD_DIR/tests/bench/smith_hook_load"
	"$BUILD_DIR/tests/vm/smith_tp_pin"
)
for b in "${BINS[@]}"; do
	[ -x "$b" ] || die "$b not found (build it: ninja -C $BUILD_DIR smithd smithctl smith_e2e_tests smith_hook_load smith_tp_pin)"
done
[ ! -x "$BUILD_DIR/tests/bench/smith_paced_load" ] || BINS+=("$BUILD_DIR/tests/bench/smith_paced_load")
[ ! -x "$BUILD_DIR/tests/bench/smith_bench_floor" ] || BINS+=("$BUILD_DIR/tests/bench/smith_bench_floor")

[ -n "$WORK" ] || WORK=$(dirname "$OUT")
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
ROOT="$WORK/root"
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,var/tmp,opt/smith/bin,opt/smith/modules}

# ---- Kernel modules for this kernel ----------------------------------------------------------

# Builds the out-of-tree module in source dir $1 (copied to $WORK/$2) and prints the .ko path.
build_module() {
	local src=$1 name=$2 dir="$WORK/$2"
	rm -rf "$dir"
	cp -r "$src" "$dir"
	# Build products that a developer's in-tree build left behind would confuse Kbuild.
	find "$dir" \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' -o -name 'conftest.h' \
		-o -name 'conftest.kdir' \) -delete
	rm -rf "$dir/.conftest"
	# The module's own Makefile, as a developer runs it (lkm/ runs its compile tests first).
	if ! make -C "$dir" KDIR="$KDIR" >"$dir.build.log" 2>&1; then
		tail -n 40 "$dir.build.log" >&2
		die "building $name against $KDIR failed (log: $dir.build.log)"
	fi
}

build_module "$HERE/test_module" test_module
cp "$WORK/test_module/smith_test_mod.ko" "$ROOT/opt/smith/modules/"
if [ -n "$SMITH_KO" ]; then
	[ -f "$SMITH_KO" ] || die "--smith-ko $SMITH_KO not found"
	cp "$SMITH_KO" "$ROOT/opt/smith/modules/smith.ko"
	log "smith.ko from $SMITH_KO"
elif [ -d "$REPO/lkm" ] && [ "${SMITH_VM_NO_LKM:-0}" != 1 ]; then
	# lkm/Kbuild finds the ABI headers at ../include.
	rm -rf "$WORK/include"
	cp -r "$REPO/include" "$WORK/include"
	build_module "$REPO/lkm" lkm
	[ -f "$WORK/lkm/smith.ko" ] || die "building lkm/ produced no smith.ko (log: $WORK/lkm.build.log)"
	cp "$WORK/lkm/smith.ko" "$ROOT/opt/smith/modules/"
	log "smith.ko built for $RELEASE"
else
	log "no lkm/ in $REPO (or SMITH_VM_NO_LKM=1): the image has no smith.ko"
fi

# ---- Programs and their libraries -------------------------------------------------------------

cp "$BUSYBOX" "$ROOT/bin/busybox"
for applet in $("$BUSYBOX" --list); do
	case "$applet" in busybox) continue ;; esac
	[ -e "$ROOT/bin/$applet" ] || ln -s busybox "$ROOT/bin/$applet"
done
for b in "${BINS[@]}"; do
	if [ -n "$SMITH_BIN_DIR" ] && [ "$(dirname "$b")" = "$SMITH_BIN_DIR" ]; then
		cp "$b" "$ROOT/opt/smith/bin/" # a package's binary, exactly as it ships
	else
		# Debug information would triple the archive's size; symbols stay for backtraces.
		strip --strip-debug -o "$ROOT/opt/smith/bin/$(basename "$b")" "$b"
	fi
done
# Every library the programs need, at the path the loader looks for it, and the loader itself.
libs=$(for b in "${BINS[@]}"; do ldd "$b" 2>/dev/null || true; done | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | sort -u)
for lib in $libs; do
	mkdir -p "$ROOT$(dirname "$lib")"
	cp -L "$lib" "$ROOT$lib"
done
if [ -n "$libs" ]; then
	[ -n "$(ls "$ROOT"/lib64/ld-linux-x86-64.so.2 2>/dev/null)" ] || die "the dynamic loader was not found by ldd"
else
	log "every program is static: the image has no shared library and no loader"
fi

cp "$HERE/guest-init.sh" "$ROOT/init"
chmod 0755 "$ROOT/init"
[ ! -f "$HERE/guest-bench.sh" ] || cp "$HERE/guest-bench.sh" "$ROOT/opt/smith/guest-bench.sh"
[ ! -f "$HERE/guest-scale.sh" ] || cp "$HERE/guest-scale.sh" "$ROOT/opt/smith/guest-scale.sh"
echo "root:x:0:0:root:/root:/bin/sh" >"$ROOT/etc/passwd"
echo "root:x:0:" >"$ROOT/etc/group"
echo "smith-guest" >"$ROOT/etc/hostname"
# A fixed machine id: events carry it as host_id, and the checks compare it.
echo "5a17e57c0ffee0dd5eed0000b007c0de" >"$ROOT/etc/machine-id"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$ROOT/etc/hosts"
echo "$RELEASE" >"$ROOT/etc/smith-vm-kernel"

(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "$OUT: $(du -h "$OUT" | cut -f1) for $RELEASE"
