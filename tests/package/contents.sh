#!/usr/bin/env bash
# package: rpm contents — the RPM's file list, modes, config flags, version, license and payload
# compression are exactly what they should be, and the .deb holds the same files with the same
# modes.   contents.sh PKG_DIR SOURCE_DIR
. "$(dirname "$0")/common.sh"
need_tools rpm dpkg-deb
load_packages "$1" "$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Expected: path and mode, one a line. The module's sources are the files git tracks in lkm/
# and include/smith/ (no dotfiles, no build products).
src_root=/usr/src/smith-$VERSION
{
	printf '%s %s\n' \
		/etc/logrotate.d/smith 100644 /etc/smith 40755 /etc/smith/smithd.yaml 100600 \
		/usr/bin/smithctl 100755 /usr/bin/smithd 100755 \
		/usr/lib/systemd/system/smithd.service 100644 \
		/usr/share/doc/smith 40755 /usr/share/doc/smith/README.md 100644 \
		"$src_root" 40755 "$src_root/dkms.conf" 100644 \
		"$src_root/include" 40755 "$src_root/include/smith" 40755 \
		"$src_root/lkm" 40755 "$src_root/lkm/conftest" 40755 \
		/var/lib/smith 40700 /var/lib/smith/spool 40700 /var/log/smith 40750
	if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$SRC" ls-files -s lkm include/smith | awk '{print $1, $4}'
	else
		(cd "$SRC" && find lkm include/smith -type f ! -name '.*' ! -name conftest.h ! -name conftest.kdir \
			! -name '*.o' ! -name '*.ko' ! -name '*.mod*' ! -name '*.cmd' ! -name '*.order' ! -name '*.symvers' \
			-printf '%m %p\n' | awk '{print ($1 ~ /7/ ? "100755" : "100644"), $2}')
	fi | awk -v root="$src_root" '$2 !~ /(^|\/)\./ {print root "/" $2, $1}'
} | sort >"$tmp/expected"

rpm -qp --qf '[%{FILENAMES} %{FILEMODES:octal}\n]' "$RPM1" | sort >"$tmp/rpm"
same_lines "rpm -qlp (paths and modes)" "$tmp/expected" "$tmp/rpm"
ok "RPM: $(wc -l <"$tmp/rpm") paths with the expected modes"
rpm -qp --qf '[%{FILEUSERNAME}:%{FILEGROUPNAME}\n]' "$RPM1" | sort -u >"$tmp/owners"
echo root:root | same_lines "file owners" - "$tmp/owners"

# The .deb: the same paths and modes; besides them only the standard parent directories (0755).
dpkg-deb --fsys-tarfile "$DEB1" | tar -tvf - | awk '{
	path = substr($6, 2); sub(/\/$/, "", path); if (path == "") next
	m = $1; mode = 0
	for (i = 2; i <= 10; i++) { mode = mode * 2 + (substr(m, i, 1) != "-") }
	printf "%s %s%o\n", path, (substr(m, 1, 1) == "d" ? "40" : "100"), mode
}' | sort >"$tmp/deb"
grep -vxFf "$tmp/expected" "$tmp/deb" >"$tmp/deb-extra" || :
printf '%s 40755\n' /etc /etc/logrotate.d /usr /usr/bin /usr/lib /usr/lib/systemd /usr/lib/systemd/system \
	/usr/share /usr/share/doc /usr/src /var /var/lib /var/log | sort >"$tmp/parents"
same_lines ".deb paths that the RPM does not list" "$tmp/parents" "$tmp/deb-extra"
grep -xFf "$tmp/expected" "$tmp/deb" >"$tmp/deb-common" || :
same_lines ".deb paths and modes" "$tmp/expected" "$tmp/deb-common"
dpkg-deb --fsys-tarfile "$DEB1" | tar -tvf - | awk '{print $2}' | sort -u >"$tmp/deb-owners"
echo root/root | same_lines ".deb owners" - "$tmp/deb-owners"
ok ".deb: the same paths and modes, plus the parent directories"

# Identity, license, payload.
got=$(rpm -qp --qf '%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE} %{PAYLOADCOMPRESSOR}' "$RPM1")
[ "$got" = "smith $VERSION 1 x86_64 Apache-2.0 AND GPL-2.0-only xz" ] || fail "rpm header: '$got'"
ok "name, version, release, arch, license, xz payload: $got"
got=$(rpm -qp --qf '%{RELEASE}' "$RPM2")
[ "$got" = 2 ] || fail "release of $RPM2: '$got'"

# The configs are %config(noreplace): rpm's file flags CONFIG (1) and NOREPLACE (16).
rpm -qp --configfiles "$RPM1" | sort >"$tmp/config"
printf '%s\n' /etc/logrotate.d/smith /etc/smith/smithd.yaml | same_lines "config files" - "$tmp/config"
rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS}\n]' "$RPM1" | awk '$2 % 2 == 1 {print $1, (int($2 / 16) % 2 ? "noreplace" : "replace")}' | sort >"$tmp/flags"
printf '%s noreplace\n' /etc/logrotate.d/smith /etc/smith/smithd.yaml | same_lines "config flags" - "$tmp/flags"
rpm -qp --docfiles "$RPM1" | grep -x /usr/share/doc/smith/README.md >/dev/null || fail "README.md is not %doc"
ok "config(noreplace): smithd.yaml, logrotate; README.md is %doc"

# Installable by rpm 4.11: no rpmlib feature newer than xz payloads, no automatic requirements.
rpm -qp --requires "$RPM1" | sort -u >"$tmp/requires"
printf '%s\n' /bin/sh 'rpmlib(CompressedFileNames) <= 3.0.4-1' 'rpmlib(FileDigests) <= 4.6.0-1' \
	'rpmlib(PayloadFilesHavePrefix) <= 4.0-1' 'rpmlib(PayloadIsXz) <= 5.2-1' | sort |
	same_lines "requirements" - "$tmp/requires"
[ "$(rpm -qp --recommends "$RPM1")" = dkms ] || fail "Recommends is not dkms"
ok "requires: /bin/sh and rpmlib features rpm 4.11 has; recommends dkms"

# The .deb's control data.
dpkg-deb -f "$DEB1" Package Version Architecture Section Recommends Depends >"$tmp/control"
printf '%s\n' 'Package: smith' "Version: $VERSION-1" 'Architecture: amd64' 'Section: admin' 'Recommends: dkms' |
	same_lines ".deb control fields" - "$tmp/control"
dpkg-deb --ctrl-tarfile "$DEB1" | tar -xOf - ./conffiles >"$tmp/conffiles"
printf '%s\n' /etc/smith/smithd.yaml /etc/logrotate.d/smith | same_lines ".deb conffiles" - "$tmp/conffiles"
ok ".deb control and conffiles"
