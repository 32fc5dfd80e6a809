#!/usr/bin/env bash
# build-packages.sh --bin-dir DIR --out DIR [--version V] [--release N] [--config FILE]
#
# Packages prebuilt smithd and smithctl (from --bin-dir, normally a SMITH_STATIC=ON build) into
#   OUT/smith-<version>-<release>.x86_64.rpm   (packaging/smith.spec, rpmbuild)
#   OUT/smith_<version>-<release>_amd64.deb    (packaging/debian/, dpkg-deb)
# with the same files and modes: the .deb's tree is the RPM's payload, unpacked.
#
#   --version V    default: the project version in CMakeLists.txt (project(smith VERSION x.y.z))
#   --release N    default: 1
#   --config FILE  the smithd.yaml to ship as /etc/smith/smithd.yaml (default packaging/smithd.yaml)
#   SMITH_MAINTAINER (environment): the .deb's Maintainer field (default "smith <root@localhost>")
#
# Compiles nothing. The binaries are copied and stripped; rpmbuild runs in a temporary _topdir
# (never ~/rpmbuild). Needs rpmbuild, rpm2cpio, cpio, dpkg-deb and strip.
set -euo pipefail

die() {
	echo "build-packages: error: $*" >&2
	exit 1
}

top="$(cd "$(dirname "$0")/.." && pwd)"
bin_dir="" out_dir="" version="" release=1 config="$top/packaging/smithd.yaml"
while [ $# -gt 0 ]; do
	case "$1" in
	--bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift 2 ;;
	--out) out_dir=${2:?--out needs a directory}; shift 2 ;;
	--version) version=${2:?--version needs a version}; shift 2 ;;
	--release) release=${2:?--release needs a number}; shift 2 ;;
	--config) config=${2:?--config needs a file}; shift 2 ;;
	-h | --help)
		sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done
[ -n "$bin_dir" ] || die "--bin-dir DIR is required (the directory holding smithd and smithctl)"
[ -n "$out_dir" ] || die "--out DIR is required"
for b in smithd smithctl; do
	[ -x "$bin_dir/$b" ] || die "$bin_dir/$b is missing or not executable: build it first (cmake --build <dir> --target smithd smithctl)"
done
[ -f "$config" ] || die "config file $config does not exist"
if [ -z "$version" ]; then
	version=$(sed -n 's/^project(smith VERSION \([0-9][0-9.]*\).*/\1/p' "$top/CMakeLists.txt")
	[ -n "$version" ] || die "cannot read the project version from $top/CMakeLists.txt; give --version"
fi
[[ $version =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || die "version '$version' is not a package version"
[[ $release =~ ^[0-9][0-9A-Za-z.]*$ ]] || die "release '$release' is not a package release"
for tool in rpmbuild rpm2cpio cpio dpkg-deb strip; do
	command -v "$tool" >/dev/null || die "$tool is not installed (packaging/build-deps.txt lists the packages)"
done

mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
config="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
work=$(mktemp -d "${TMPDIR:-/tmp}/smith-packages.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The shipped binaries: stripped copies.
mkdir -p "$work/bin"
for b in smithd smithctl; do
	cp "$bin_dir/$b" "$work/bin/$b"
	strip "$work/bin/$b"
done

# RPM.
rpm_name="smith-$version-$release.x86_64.rpm"
rpmbuild -bb "$top/packaging/smith.spec" --target x86_64 --quiet \
	--define "_topdir $work/rpmbuild" \
	--define "smith_version $version" --define "smith_release $release" \
	--define "smith_bindir $work/bin" --define "smith_srcdir $top" --define "smith_config $config" \
	>"$work/rpmbuild.log" 2>&1 || {
	cat "$work/rpmbuild.log" >&2
	die "rpmbuild failed"
}
built_rpm="$work/rpmbuild/RPMS/x86_64/$rpm_name"
[ -f "$built_rpm" ] || die "rpmbuild did not write $rpm_name (log: $(cat "$work/rpmbuild.log"))"
cp "$built_rpm" "$out_dir/$rpm_name"

# .deb: the RPM's payload as its tree, so that files and modes are the same.
deb_name="smith_${version}-${release}_amd64.deb"
root="$work/deb"
mkdir -p "$root"
(cd "$root" && rpm2cpio "$built_rpm" | cpio -idm --quiet --no-absolute-filenames)
mkdir -p "$root/DEBIAN"
installed_kb=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
maintainer=${SMITH_MAINTAINER:-smith <root@localhost>}
sed -e "s/@VERSION@/$version/g" -e "s/@RELEASE@/$release/g" -e "s/@INSTALLED_SIZE@/$installed_kb/g" \
	-e "s|@MAINTAINER@|$maintainer|g" \
	"$top/packaging/debian/control.in" >"$root/DEBIAN/control"
printf '%s\n' /etc/smith/smithd.yaml /etc/logrotate.d/smith >"$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
	# #SMITH_DKMS# becomes packaging/dkms-scriptlet.sh, as debhelper does with #DEBHELPER#.
	awk -v snippet="$top/packaging/dkms-scriptlet.sh" -v version="$version" '
		$0 == "#SMITH_DKMS#" { while ((getline line < snippet) > 0) print line; next }
		{ gsub(/@VERSION@/, version); print }
	' "$top/packaging/debian/$script" >"$root/DEBIAN/$script"
	chmod 0755 "$root/DEBIAN/$script"
done
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out_dir/$deb_name" >/dev/null

echo "build-packages: smith $version-$release"
for f in "$out_dir/$rpm_name" "$out_dir/$deb_name"; do
	printf '  %s  %s bytes\n' "$f" "$(stat -c %s "$f")"
done
