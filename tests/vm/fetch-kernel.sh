#!/usr/bin/env bash
# fetch-kernel.sh --kernel 6.1|6.12|el7: a kernel image for the VM tests, and its build tree.
#
#   6.1   Debian bookworm: the release the meta package linux-image-amd64 depends on (6.1.0-NN-amd64)
#   6.12  Debian bookworm: 6.12.107+deb12-amd64 (SMITH_VM_KERNEL_6_12 overrides)
#   el7   CentOS 7.9's 3.10.0-1160.el7, from ../shared/kernels/el7 beside the checkout
#         (SMITH_SHARED_DIR overrides ../shared): its bzImage, and its build tree (build.tar.xz),
#         both checked against SHA256SUMS
#
# A Debian image package is downloaded with `apt-get download` (never installed: this host does
# not boot it) and its vmlinuz and config are kept in /var/cache/smith/vm/<release>/
# (SMITH_VM_CACHE overrides). The matching linux-headers-<release> package is installed, so that
# smith.ko and the test module build against /usr/src/linux-headers-<release>. The el7 build tree
# is unpacked once into the cache.
#
# Prints three lines on stdout: RELEASE=<release>, VMLINUZ=<path>, KDIR=<kernel build tree>.
# Needs root to install the headers and to write the cache. Exits 3 when el7 is asked for and
# ../shared/kernels/el7 is not there (the callers report that as a skip, with the reason on stderr).
set -euo pipefail

die() {
	echo "fetch-kernel: error: $*" >&2
	exit 1
}
log() { echo "fetch-kernel: $*" >&2; }

KERNEL=""
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) KERNEL=${2:?--kernel needs 6.1, 6.12 or el7}; shift 2 ;;
	--kernel=*) KERNEL=${1#*=}; shift ;;
	-h | --help)
		sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown option '$1' (usage: $0 --kernel 6.1|6.12|el7)" ;;
	esac
done

CACHE=${SMITH_VM_CACHE:-/var/cache/smith/vm}

if [ "$KERNEL" = el7 ]; then
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	shared=${SMITH_SHARED_DIR:-$here/../../../shared}
	el7=$shared/kernels/el7
	if [ ! -f "$el7/bzImage" ] || [ ! -f "$el7/build.tar.xz" ] || [ ! -f "$el7/SHA256SUMS" ]; then
		echo "fetch-kernel: CentOS 7's kernel is not here: no bzImage, build.tar.xz and SHA256SUMS in $el7" \
			"(../shared/kernels/el7 beside the checkout, or SMITH_SHARED_DIR)" >&2
		exit 3
	fi
	el7=$(cd "$el7" && pwd)
	sums=$(cd "$el7" && grep -E '  (bzImage|build\.tar\.xz)$' SHA256SUMS)
	[ "$(wc -l <<<"$sums")" = 2 ] || die "$el7/SHA256SUMS lists no bzImage and build.tar.xz"
	tree_sum=$(awk '$2 == "build.tar.xz" { print $1 }' <<<"$sums")
	DIR="$CACHE/el7-$tree_sum"
	if [ ! -f "$DIR/build/Makefile" ]; then
		[ "$(id -u)" -eq 0 ] || die "run as root to fill $DIR"
		(cd "$el7" && sha256sum --quiet -c - <<<"$sums") >&2 || die "$el7: checksums differ from SHA256SUMS"
		mkdir -p "$CACHE"
		work=$(mktemp -d "$CACHE/.el7.XXXXXX")
		trap 'rm -rf "$work"' EXIT
		tar -xJf "$el7/build.tar.xz" -C "$work" || die "cannot unpack $el7/build.tar.xz"
		[ -f "$work/build/Makefile" ] || die "$el7/build.tar.xz holds no build/Makefile"
		rm -rf "$DIR"
		mv "$work" "$DIR"
		trap - EXIT
		log "unpacked $el7/build.tar.xz into $DIR/build"
	fi
	echo "RELEASE=3.10.0-1160.el7"
	echo "VMLINUZ=$el7/bzImage"
	echo "KDIR=$DIR/build"
	exit 0
fi

# The release name of a package "linux-image-<release>" that meta package $1 depends on.
release_of_meta() {
	local dep
	dep=$(apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Depends: .*linux-image-\([^ ,]*-amd64\).*/\1/p' | head -n1)
	[ -n "$dep" ] || return 1
	echo "$dep"
}

case "$KERNEL" in
6.1)
	if ! RELEASE=$(release_of_meta linux-image-amd64); then
		# An empty package list (a fresh machine): refresh it once.
		apt-get update -qq || die "apt-get update failed"
		RELEASE=$(release_of_meta linux-image-amd64) || die "cannot resolve linux-image-amd64 to a kernel release"
	fi
	;;
6.12) RELEASE=${SMITH_VM_KERNEL_6_12:-6.12.107+deb12-amd64} ;;
"") die "--kernel 6.1|6.12|el7 is required" ;;
*) die "unknown kernel '$KERNEL' (expected 6.1, 6.12 or el7)" ;;
esac
case "$RELEASE" in
"$KERNEL".*) ;;
*) die "kernel $KERNEL resolved to release '$RELEASE', which is not a $KERNEL kernel" ;;
esac

DIR="$CACHE/$RELEASE"
VMLINUZ="$DIR/vmlinuz-$RELEASE"
KDIR="/usr/src/linux-headers-$RELEASE"

if [ ! -s "$VMLINUZ" ]; then
	[ "$(id -u)" -eq 0 ] || die "run as root to fill $DIR"
	mkdir -p "$DIR"
	work=$(mktemp -d "$DIR/.download.XXXXXX")
	chmod 0755 "$work"
	chown _apt "$work" 2>/dev/null || true # apt-get download drops privileges to _apt when it can
	trap 'rm -rf "$work"' EXIT
	got=""
	# The signed image is the one Debian ships by default; the unsigned one has the same kernel.
	for pkg in "linux-image-$RELEASE" "linux-image-$RELEASE-unsigned"; do
		if (cd "$work" && apt-get download -q "$pkg" >&2); then
			got=$pkg
			break
		fi
	done
	if [ -z "$got" ]; then
		apt-get update -qq || die "apt-get update failed"
		for pkg in "linux-image-$RELEASE" "linux-image-$RELEASE-unsigned"; do
			if (cd "$work" && apt-get download -q "$pkg" >&2); then
				got=$pkg
				break
			fi
		done
	fi
	[ -n "$got" ] || die "cannot download linux-image-$RELEASE (nor -unsigned) with apt-get download"
	deb=$(ls "$work"/*.deb)
	dpkg-deb -x "$deb" "$work/root" || die "cannot unpack $deb"
	[ -s "$work/root/boot/vmlinuz-$RELEASE" ] || die "$deb has no /boot/vmlinuz-$RELEASE"
	cp "$work/root/boot/config-$RELEASE" "$DIR/config-$RELEASE"
	basename "$deb" >"$DIR/package"
	mv "$work/root/boot/vmlinuz-$RELEASE" "$VMLINUZ.tmp"
	mv "$VMLINUZ.tmp" "$VMLINUZ"
	log "cached $VMLINUZ from $(cat "$DIR/package")"
fi

if [ ! -f "$KDIR/Makefile" ]; then
	[ "$(id -u)" -eq 0 ] || die "run as root to install linux-headers-$RELEASE"
	log "installing linux-headers-$RELEASE"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq --no-install-recommends "linux-headers-$RELEASE" >&2; then
		apt-get update -qq || die "apt-get update failed"
		apt-get install -y -qq --no-install-recommends "linux-headers-$RELEASE" >&2 ||
			die "cannot install linux-headers-$RELEASE"
	fi
	[ -f "$KDIR/Makefile" ] || die "linux-headers-$RELEASE did not provide $KDIR"
fi

echo "RELEASE=$RELEASE"
echo "VMLINUZ=$VMLINUZ"
echo "KDIR=$KDIR"
