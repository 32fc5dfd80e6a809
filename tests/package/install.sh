#!/usr/bin/env bash
# package: rpm install and upgrade — installs the RPM into an alternate root whose /bin/sh is
# busybox, so the scriptlets really run (chrooted, as rpm runs them), then upgrades it to release
# 2 and erases it, checking config, spool and DKMS handling at each step.
#   install.sh PKG_DIR SOURCE_DIR
#
# rpm -i needs --nodeps: the scriptlets require /bin/sh, which no RPM in this bare root provides.
# The .deb is not installed with dpkg --root here: dpkg there needs a dpkg database and its helper
# programs (ldconfig, start-stop-daemon...) inside the root; its scripts share the DKMS snippet
# the RPM's run, and "package: rpm contents" checks its files.
. "$(dirname "$0")/common.sh"
need_root "rpm --root and chroot"
need_tools rpm readelf chroot
load_packages "$1" "$2"
kver=$(uname -r)

# The root: busybox and its applets, an empty rpm database.
make_busybox_root
# Debian's rpm warns on every install, upgrade and erase unless told --force-debian; other rpms
# lack the option.
force_debian=()
if rpm --help 2>&1 | grep -- --force-debian >/dev/null; then force_debian=(--force-debian); fi
rpm --root "$R" --initdb

# Install, no dkms in the root: %post says so in exactly one line.
rpm "${force_debian[@]}" --root "$R" -i --nodeps "$RPM1" >"$tmp/install.out" 2>&1 || { cat "$tmp/install.out"; fail "rpm -i failed"; }
printf '%s\n' "smith: dkms or kernel headers for $kver not found; the kernel module fallback is not built (the eBPF backend does not need it)" |
	same_lines "rpm -i output" - "$tmp/install.out"
[ "$(rpm --root "$R" -q smith)" = "smith-$VERSION-1.x86_64" ] || fail "rpm -q after install: $(rpm --root "$R" -q smith)"
rpm --root "$R" -V --nodeps smith || fail "rpm -V finds the installed files changed"
for d in "var/lib/smith/spool 700" "var/lib/smith 700" "var/log/smith 750" "etc/smith/smithd.yaml 600" "usr/bin/smithd 755"; do
	set -- $d
	[ "$(stat -c %a "$R/$1")" = "$2" ] || fail "/$1 has mode $(stat -c %a "$R/$1"), not $2"
done
ok "installed: one dkms line from %post, files and modes verified"

# The binaries. Static ones run in the root, which has no shared library; dynamic ones (a build
# without SMITH_STATIC) can only run with the host's loader and libraries.
run_bin() { # run_bin NAME ARGS...
	local name=$1
	shift
	if [ "$mode" = static ]; then
		chroot "$R" "/usr/bin/$name" "$@"
	else
		"$R/usr/bin/$name" "$@"
	fi
}
if readelf -l "$R/usr/bin/smithd" | grep 'program interpreter' >/dev/null ||
	readelf -l "$R/usr/bin/smithctl" | grep 'program interpreter' >/dev/null; then
	mode=dynamic
	echo "NOTE: smithd or smithctl is dynamically linked: running them with the host's loader, not in the bare root"
else
	mode=static
	echo "smithd and smithctl are static: running them inside the bare root"
fi
[ "$(run_bin smithd --version)" = "smithd $VERSION" ] || fail "smithd --version: $(run_bin smithd --version 2>&1)"
run_bin smithd --help | grep -- '--backend' >/dev/null || fail "smithd --help"
run_bin smithctl --version | grep -F "$VERSION" >/dev/null || fail "smithctl --version: $(run_bin smithctl --version 2>&1)"
run_bin smithctl --help | grep status >/dev/null || fail "smithctl --help"
# smithd with the installed /etc/smith/smithd.yaml (its default config path), replaying the
# benchmark's recorded records to stdout (--sink=stdout over the config's file sink, whose
# /var/log/smith is the host's when not in the chroot).
cp "$SRC/tests/bench/data/mixed.smithraw" "$R/tmp/records.raw"
if [ "$mode" = static ]; then
	chroot "$R" /usr/bin/smithd --foreground --sink stdout --replay /tmp/records.raw --pid-file /tmp/smithd.pid \
		--socket /tmp/smithd.sock >/dev/null 2>"$tmp/run.out" || { cat "$tmp/run.out"; fail "smithd with the installed config"; }
else
	"$R/usr/bin/smithd" --config "$R/etc/smith/smithd.yaml" --foreground --sink stdout --replay "$R/tmp/records.raw" \
		--pid-file "$tmp/smithd.pid" --socket "$tmp/smithd.sock" >/dev/null 2>"$tmp/run.out" ||
		{ cat "$tmp/run.out"; fail "smithd with the installed config"; }
fi
grep -Eq "stopped after [1-9][0-9]* events" "$tmp/run.out" || { cat "$tmp/run.out"; fail "smithd did not run to the end"; }
ok "smithd and smithctl run ($mode), smithd accepts the installed config"

# Before the upgrade: a changed config, a spooled file, and a dkms (a recorder) with headers
# for this kernel, that has smith 0.0.9 and this version registered already.
sed -i 's/^# log_level: info$/log_level: debug/' "$R/etc/smith/smithd.yaml"
grep -qx 'log_level: debug' "$R/etc/smith/smithd.yaml" || fail "could not change the config"
echo spooled >"$R/var/lib/smith/spool/segment-test"
mkdir -p "$R/lib/modules/$kver/build" "$R/var/lib/fake-dkms"
printf '%s\n' 0.0.9 "$VERSION" >"$R/var/lib/fake-dkms/registered"
cat >"$R/usr/sbin/dkms" <<'FAKE'
#!/bin/sh
# Records its arguments; keeps the registered versions in a file; prints status as dkms 3 does.
echo "$*" >>/var/lib/fake-dkms/calls
case "$1" in
status) while read -r v; do echo "smith/$v: added"; done </var/lib/fake-dkms/registered ;;
add) echo "$5" >>/var/lib/fake-dkms/registered ;;
remove) grep -vx "$5" /var/lib/fake-dkms/registered >/var/lib/fake-dkms/r || :; mv /var/lib/fake-dkms/r /var/lib/fake-dkms/registered ;;
esac
exit 0
FAKE
chmod 0755 "$R/usr/sbin/dkms"

rpm "${force_debian[@]}" --root "$R" -U --nodeps "$RPM2" >"$tmp/upgrade.out" 2>&1 || { cat "$tmp/upgrade.out"; fail "rpm -U failed"; }
printf '%s\n' "smith: smith.ko $VERSION built and installed by dkms for $kver" \
	"warning: /etc/smith/smithd.yaml created as /etc/smith/smithd.yaml.rpmnew" | sort >"$tmp/expected"
sort "$tmp/upgrade.out" | same_lines "rpm -U output" "$tmp/expected" -
[ "$(rpm --root "$R" -q smith)" = "smith-$VERSION-2.x86_64" ] || fail "rpm -q after upgrade: $(rpm --root "$R" -q smith)"
grep -qx 'log_level: debug' "$R/etc/smith/smithd.yaml" || fail "the upgrade replaced the changed config"
grep -qx '# release 2 of this test package' "$R/etc/smith/smithd.yaml.rpmnew" || fail "no .rpmnew with release 2's config"
[ "$(cat "$R/var/lib/smith/spool/segment-test")" = spooled ] || fail "the upgrade lost the spool"
[ ! -e "$R/etc/logrotate.d/smith.rpmnew" ] || fail "an unchanged config got an .rpmnew"
# The new %post removed every registered version and built this one; the old %preun left dkms alone.
printf '%s\n' "status -m smith" "remove -m smith -v 0.0.9 --all" "remove -m smith -v $VERSION --all" \
	"add -m smith -v $VERSION" "build -m smith -v $VERSION -k $kver" "install -m smith -v $VERSION -k $kver" |
	same_lines "dkms calls during the upgrade" - "$R/var/lib/fake-dkms/calls"
ok "upgraded to release 2: config kept (.rpmnew beside it), spool kept, dkms re-registered"

: >"$R/var/lib/fake-dkms/calls"
rpm "${force_debian[@]}" --root "$R" -e smith >"$tmp/erase.out" 2>&1 || { cat "$tmp/erase.out"; fail "rpm -e failed"; }
rpm --root "$R" -q smith >/dev/null 2>&1 && fail "smith is still installed after rpm -e"
echo "remove -m smith -v $VERSION --all" | same_lines "dkms calls during the erase" - "$R/var/lib/fake-dkms/calls"
grep -qx 'log_level: debug' "$R/etc/smith/smithd.yaml.rpmsave" || fail "the changed config was not kept as .rpmsave"
[ ! -e "$R/etc/smith/smithd.yaml" ] || fail "smithd.yaml is still there after erase"
[ "$(cat "$R/var/lib/smith/spool/segment-test")" = spooled ] || fail "the erase removed the spool"
for gone in usr/bin/smithd usr/bin/smithctl usr/lib/systemd/system/smithd.service "usr/src/smith-$VERSION" etc/logrotate.d/smith; do
	[ ! -e "$R/$gone" ] || fail "/$gone is still there after erase"
done
ok "erased: dkms remove, changed config kept as .rpmsave, spool kept, files gone"
