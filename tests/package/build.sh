#!/usr/bin/env bash
# package: build — the fixture. Builds the packages of smithd and smithctl from this build tree
# into PKG_DIR (release 1) and PKG_DIR/release2 (release 2, whose smithd.yaml has one more
# comment line: the upgrade test needs a changed packaged config).
#   build.sh PKG_DIR SOURCE_DIR SMITHD SMITHCTL
. "$(dirname "$0")/common.sh"
PKG_DIR=$1 SRC=$2 SMITHD=$3 SMITHCTL=$4
need_tools rpmbuild rpm2cpio cpio dpkg-deb strip
rm -rf "$PKG_DIR"
mkdir -p "$PKG_DIR/bin" "$PKG_DIR/release2"
cp "$SMITHD" "$SMITHCTL" "$PKG_DIR/bin/"
"$SRC/packaging/build-packages.sh" --bin-dir "$PKG_DIR/bin" --out "$PKG_DIR" --release 1
cp "$SRC/packaging/smithd.yaml" "$PKG_DIR/release2/smithd.yaml"
echo "# release 2 of this test package" >>"$PKG_DIR/release2/smithd.yaml"
"$SRC/packaging/build-packages.sh" --bin-dir "$PKG_DIR/bin" --out "$PKG_DIR/release2" --release 2 \
	--config "$PKG_DIR/release2/smithd.yaml"
