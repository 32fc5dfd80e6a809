#!/usr/bin/env bash
# package: deb install, upgrade, remove and purge — the .deb with the real dpkg in a bare busybox
# root (dpkg --root runs the maintainer scripts chrooted, under busybox sh):
#   - install: postinst prints the one dkms line (no dkms in the root), files and modes as in the RPM;
#   - upgrade to release 2 with a changed /etc/smith/smithd.yaml and --force-confold (what an
#     unattended upgrade does): the change and the spool stay, the new config lands as .dpkg-dist;
#   - remove: binaries gone, config and spool kept; purge: config, spool and logs gone.
#   deb_install.sh PKG_DIR SOURCE_DIR
. "$(dirname "$0")/common.sh"
need_root "dpkg --root, chroot"
need_tools dpkg dpkg-query
load_packages "$1" "$2"
kver=$(uname -r)

make_busybox_root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
dpkg_r() { dpkg --root="$R" --force-unsafe-io "$@"; }
version_of() { dpkg-query --root="$R" -W -f='${Version} ${db:Status-Abbrev}' smith 2>/dev/null || :; }

dpkg_r -i "$DEB1" >"$tmp/install.out" 2>&1 || { cat "$tmp/install.out"; fail "dpkg -i failed"; }
grep -Fx "smith: dkms or kernel headers for $kver not found; the kernel module fallback is not built (the eBPF backend does not need it)" \
	"$tmp/install.out" >/dev/null || { cat "$tmp/install.out"; fail "postinst did not print the dkms line"; }
[ "$(grep -c '^smith: ' "$tmp/install.out")" = 1 ] || { cat "$tmp/install.out"; fail "postinst printed more than one line"; }
[ "$(version_of)" = "$VERSION-1 ii " ] || fail "dpkg-query after install: '$(version_of)'"
for d in "var/lib/smith/spool 700" "var/lib/smith 700" "var/log/smith 750" "etc/smith/smithd.yaml 600" \
	"usr/bin/smithd 755" "usr/bin/smithctl 755" "usr/lib/systemd/system/smithd.service 644"; do
	set -- $d
	[ "$(stat -c %a "$R/$1")" = "$2" ] || fail "/$1 has mode $(stat -c %a "$R/$1" 2>&1), not $2"
done
[ "$(chroot "$R" /usr/bin/smithd --version 2>&1)" = "smithd $VERSION" ] ||
	readelf -l "$R/usr/bin/smithd" | grep -q 'program interpreter' || fail "the installed smithd does not run in the root"
ok "dpkg -i: one dkms line from postinst, files and modes verified"

sed -i 's/^# log_level: info$/log_level: debug/' "$R/etc/smith/smithd.yaml"
grep -qx 'log_level: debug' "$R/etc/smith/smithd.yaml" || fail "could not change the config"
echo spooled >"$R/var/lib/smith/spool/segment-test"
dpkg_r --force-confold -i "$DEB2" >"$tmp/upgrade.out" 2>&1 || { cat "$tmp/upgrade.out"; fail "dpkg -i of release 2 failed"; }
[ "$(version_of)" = "$VERSION-2 ii " ] || fail "dpkg-query after upgrade: '$(version_of)'"
grep -qx 'log_level: debug' "$R/etc/smith/smithd.yaml" || fail "the upgrade replaced the changed config"
grep -qx '# release 2 of this test package' "$R/etc/smith/smithd.yaml.dpkg-dist" ||
	fail "no .dpkg-dist with release 2's config"
[ "$(cat "$R/var/lib/smith/spool/segment-test")" = spooled ] || fail "the upgrade lost the spool"
ok "upgraded to release 2: config kept (.dpkg-dist beside it), spool kept"

dpkg_r -r smith >"$tmp/remove.out" 2>&1 || { cat "$tmp/remove.out"; fail "dpkg -r failed"; }
[ "$(version_of)" = "$VERSION-2 rc " ] || fail "dpkg-query after remove: '$(version_of)'"
for gone in usr/bin/smithd usr/bin/smithctl usr/lib/systemd/system/smithd.service "usr/src/smith-$VERSION"; do
	[ ! -e "$R/$gone" ] || fail "/$gone is still there after remove"
done
grep -qx 'log_level: debug' "$R/etc/smith/smithd.yaml" || fail "remove did not keep the config"
[ "$(cat "$R/var/lib/smith/spool/segment-test")" = spooled ] || fail "remove lost the spool"
ok "removed: files gone, config and spool kept"

dpkg_r -P smith >"$tmp/purge.out" 2>&1 || { cat "$tmp/purge.out"; fail "dpkg -P failed"; }
[ -z "$(version_of)" ] || [ "$(version_of)" = "$VERSION-2 pn " ] || fail "dpkg-query after purge: '$(version_of)'"
for gone in etc/smith/smithd.yaml etc/logrotate.d/smith var/lib/smith/spool var/log/smith; do
	[ ! -e "$R/$gone" ] || fail "/$gone is still there after purge"
done
ok "purged: config, spool and logs gone"
