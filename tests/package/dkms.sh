#!/usr/bin/env bash
# package: dkms build — the host's real dkms builds smith.ko from the module sources the RPM
# installs (/usr/src/smith-<version>), against a kernel the VM tests boot, as
# tests/vm/fetch-kernel.sh finds it: Debian's 6.1 headers, or CentOS 7.9's 3.10.0-1160.el7 build
# tree from ../shared/kernels/el7. Nothing outside a temporary directory is touched: --dkmstree
# is temporary, and module signing is off (dkms would otherwise create a key in /var/lib/dkms).
# The module's vermagic must be the kernel's; it is copied to PKG_DIR/dkms/<release>/smith.ko for
# the VM tests.
#   dkms.sh PKG_DIR SOURCE_DIR [6.1|el7]
. "$(dirname "$0")/common.sh"
need_root "rpm --root"
need_tools rpm dkms modinfo make
load_packages "$1" "$2"
kernel=${3:-6.1}
fetch_kernel "$kernel"
release=$RELEASE
kdir=$KDIR
# What the module's vermagic starts with: the tree's own kernel release.
utsrelease=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$kdir/include/generated/utsrelease.h" 2>/dev/null)
[ -n "$utsrelease" ] || fail "no UTS_RELEASE in $kdir/include/generated/utsrelease.h"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
R=$tmp/root

force_debian=()
if rpm --help 2>&1 | grep -- --force-debian >/dev/null; then force_debian=(--force-debian); fi
mkdir -p "$R"
rpm --root "$R" --initdb
rpm "${force_debian[@]}" --root "$R" -i --nodeps --noscripts "$RPM1"
src=$R/usr/src/smith-$VERSION
[ -f "$src/dkms.conf" ] || fail "the RPM installed no $src/dkms.conf"

mkdir -p "$tmp/dkms"
dkms_args=(-m smith -v "$VERSION" -k "$release" --sourcetree "$R/usr/src" --dkmstree "$tmp/dkms"
	--kernelsourcedir "$kdir")
sign_file=/nonexistent dkms build "${dkms_args[@]}" >"$tmp/build.out" 2>&1 || {
	cat "$tmp/build.out"
	cat "$tmp/dkms/smith/$VERSION/build/make.log" 2>/dev/null || :
	fail "dkms build failed"
}
ko=$tmp/dkms/smith/$VERSION/$release/x86_64/module/smith.ko
[ -f "$ko" ] || { cat "$tmp/build.out"; fail "dkms built no $ko"; }
[ "$(modinfo -F version "$ko")" = "$VERSION" ] || fail "modinfo version: $(modinfo -F version "$ko")"
[ "$(modinfo -F license "$ko")" = "GPL v2" ] || fail "modinfo license: $(modinfo -F license "$ko")"
case "$(modinfo -F vermagic "$ko")" in
"$utsrelease "*) ;;
*) fail "modinfo vermagic: $(modinfo -F vermagic "$ko"), not $utsrelease" ;;
esac
[ "$(sign_file=/nonexistent dkms status "${dkms_args[@]}" 2>/dev/null)" = "smith/$VERSION, $release, x86_64: built" ] ||
	fail "dkms status: $(dkms status "${dkms_args[@]}" 2>&1)"
# The installed sources are left as they were: dkms builds in its own copy.
[ ! -e "$src/lkm/conftest.h" ] && [ -z "$(find "$src" -name '*.o' -o -name '*.ko')" ] ||
	fail "the build wrote into $src"
mkdir -p "$PKG_DIR/dkms/$release"
cp "$ko" "$PKG_DIR/dkms/$release/smith.ko"
ok "dkms built smith.ko $VERSION for $release ($(modinfo -F vermagic "$ko")): $PKG_DIR/dkms/$release/smith.ko"
