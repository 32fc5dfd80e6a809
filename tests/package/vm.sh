#!/usr/bin/env bash
# vm: packaged binaries and DKMS module — the installed layout in a real kernel. The RPM's
# /usr/bin/smithd and /usr/bin/smithctl, and the smith.ko that "package: dkms build" built from
# the RPM's /usr/src/smith-<version> with dkms, boot under QEMU (tests/vm/run-vm.sh) with the
# behaviour suite: in Debian's 6.1 against both backends, --backend=auto among them; in CentOS
# 7.9's 3.10.0-1160.el7 against the module, which --backend=auto must choose there. The guest
# image must hold no shared library: the binaries are static, and so are the test programs of a
# SMITH_STATIC tree. The tests tagged [heavy] (drops, crash, per-CPU rings, the connect flood, hook
# timing: several fresh daemons per backend each, about 3 of the 6.1 guest's 7 minutes) are left out
# here: they check ring, budget and timing code that packaging does not change, and the "vm: kernel"
# guests of the development tree run them against the same sources.
#   vm.sh PKG_DIR SOURCE_DIR BUILD_DIR [6.1|el7]
. "$(dirname "$0")/common.sh"
need_root "QEMU, kernel headers"
need_tools rpm2cpio cpio readelf
load_packages "$1" "$2"
BUILD_DIR=$3
kernel=${4:-6.1}
case "$kernel" in
6.1) pattern="6.1.*" ;;
el7) pattern="3.10.0-*.el7" ;;
*) fail "unknown kernel '$kernel' (expected 6.1 or el7)" ;;
esac
# Without the kernel beside this checkout the "dkms build" fixture skipped; so does this.
fetch_kernel "$kernel"
ko=$(ls "$PKG_DIR"/dkms/$pattern/smith.ko 2>/dev/null | head -n1)
[ -n "$ko" ] || fail "no DKMS-built smith.ko for $kernel in $PKG_DIR/dkms: the 'package: dkms build' test did not make it"
release=$(basename "$(dirname "$ko")")

root=$PKG_DIR/vm-root
rm -rf "$root"
mkdir -p "$root"
(cd "$root" && rpm2cpio "$RPM1" | cpio -idm --quiet)
for b in smithd smithctl; do
	[ -x "$root/usr/bin/$b" ] || fail "the RPM has no /usr/bin/$b"
	readelf -d "$root/usr/bin/$b" 2>&1 | grep -q 'There is no dynamic section' ||
		fail "the packaged $b has a dynamic section (build the packages from a SMITH_STATIC=ON tree)"
done

rc=0
"$SRC/tests/vm/run-vm.sh" --kernel "$kernel" --build-dir "$BUILD_DIR" --smith-bin-dir "$root/usr/bin" --smith-ko "$ko" \
	--filter '~[heavy]' || rc=$?
[ "$rc" = 0 ] || exit "$rc"

initrd=$BUILD_DIR/vm/$release/initramfs.cpio
[ -f "$initrd" ] || fail "no $initrd"
shared=$(cpio -it --quiet <"$initrd" | grep -E '(^|/)(ld-linux[^/]*|lib[^/]*\.so(\.[0-9]+)*)$' || true)
[ -z "$shared" ] || fail "the guest image holds shared libraries: $shared"
for b in smithd smithctl; do
	cmp -s <(cpio -i --quiet --to-stdout "opt/smith/bin/$b" <"$initrd") "$root/usr/bin/$b" ||
		fail "the guest's /opt/smith/bin/$b is not the packaged one"
done
ok "the packaged smithd and smithctl and the DKMS-built smith.ko passed the guest checks on $release, in an image with no shared library"
