#!/usr/bin/env bash
# package: rpm scriptlets — the RPM's and the .deb's scripts do the DKMS and systemd steps:
# dkms add/build/install (or the one line saying why not) after install, dkms remove on erase
# only, systemctl preset / disable --now / try-restart, all guarded.
#   scriptlets.sh PKG_DIR SOURCE_DIR
. "$(dirname "$0")/common.sh"
need_tools rpm dpkg-deb
load_packages "$1" "$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One scriptlet's body: rpm --qf tags.
scriptlet() { rpm -qp --qf "%{$1}" "$RPM1"; }
has() { # has WHAT FILE-OR-TEXT PATTERN: a fixed-string match
	grep -qF -- "$3" <<<"$2" || fail "$1 does not contain: $3"
}

post=$(scriptlet POSTIN)
preun=$(scriptlet PREUN)
postun=$(scriptlet POSTUN)
[ "$(scriptlet POSTINPROG)" = /bin/sh ] || fail "%post does not run with /bin/sh"
has %post "$post" 'dkms add -m smith -v "$smith_v"'
has %post "$post" 'dkms build -m smith -v "$smith_v" -k "$smith_k"'
has %post "$post" 'dkms install -m smith -v "$smith_v" -k "$smith_k"'
has %post "$post" 'dkms remove -m smith -v "$smith_old" --all'
has %post "$post" "smith_dkms_install $VERSION"
has %post "$post" 'smith: dkms or kernel headers for $smith_k not found; the kernel module fallback is not built (the eBPF backend does not need it)'
has %post "$post" '[ ! -e "/lib/modules/$smith_k/build" ]'
has %post "$post" 'systemctl preset smithd.service'
has %preun "$preun" 'systemctl --no-reload disable --now smithd.service'
has %preun "$preun" "smith_dkms_remove $VERSION"
has %preun "$preun" 'dkms remove -m smith -v "$1" --all'
has %postun "$postun" 'systemctl try-restart smithd.service'
# Every systemctl call is guarded by "command -v systemctl"; the ones that talk to a running
# manager by /run/systemd/system.
for body in "$post" "$preun" "$postun"; do
	has scriptlet "$body" 'command -v systemctl >/dev/null 2>&1'
done
has %preun "$preun" '[ -d /run/systemd/system ]'
has %postun "$postun" '[ -d /run/systemd/system ]'
# dkms remove in %preun runs on erase ($1 = 0) only: on upgrade it would remove what %post built.
awk '/if \[ \$1 -eq 0 \]; then/ {erase = 1} /smith_dkms_remove [0-9]/ {print erase ? "guarded" : "unguarded"}' \
	<<<"$preun" | grep -qx guarded || fail "%preun removes from dkms outside the erase branch"
# No macro left unexpanded (Debian's rpm has no systemd macros; the spec defines them).
for body in "$post" "$preun" "$postun"; do
	! grep -q '%' <<<"$body" || fail "a scriptlet has an unexpanded macro: $(grep '%' <<<"$body" | head -1)"
	sh -n <<<"$body" || fail "a scriptlet is not valid sh"
done
ok "RPM %post, %preun, %postun"

# The .deb: the same DKMS snippet, the same guards.
dpkg-deb -e "$DEB1" "$tmp/DEBIAN"
for s in postinst prerm postrm; do
	[ -x "$tmp/DEBIAN/$s" ] || fail ".deb has no executable $s"
	sh -n "$tmp/DEBIAN/$s" || fail ".deb $s is not valid sh"
	! grep -q '#SMITH_DKMS#\|@VERSION@' "$tmp/DEBIAN/$s" || fail ".deb $s has an unreplaced token"
done
postinst=$(cat "$tmp/DEBIAN/postinst")
prerm=$(cat "$tmp/DEBIAN/prerm")
postrm=$(cat "$tmp/DEBIAN/postrm")
has postinst "$postinst" 'dkms add -m smith -v "$smith_v"'
has postinst "$postinst" 'dkms install -m smith -v "$smith_v" -k "$smith_k"'
has postinst "$postinst" "smith_dkms_install \"$VERSION\""
has postinst "$postinst" 'systemctl try-restart smithd.service'
has prerm "$prerm" "smith_dkms_remove \"$VERSION\""
has prerm "$prerm" 'systemctl stop smithd.service'
has postrm "$postrm" 'rm -rf /var/lib/smith/spool /var/log/smith'
ok ".deb postinst, prerm, postrm"
