#!/usr/bin/env bash
# build-static-deps.sh: the static libraries Debian does not ship in a form a fully static
# smithd/smithctl can link, built from Debian's own source packages.
#
#   packaging/build-static-deps.sh --out DIR
#
#   - librdkafka without Cyrus SASL/GSSAPI and libcurl. Debian's librdkafka.a needs libsasl2,
#     whose static archive needs libdb and GSSAPI, and Debian has no static krb5. Kafka's own
#     SASL mechanisms (PLAIN, SCRAM, OAUTHBEARER) stay, and so do TLS (OpenSSL), zstd, lz4,
#     zlib and snappy.
#   - simdjson (for smithctl): Debian ships only the shared library.
#   - fmt and spdlog: Debian ships only shared libraries. Used header-only instead, they compiled
#     into every file that logs, which took more than half of a static build's time.
#
# Writes DIR/lib/{librdkafka.a,libsimdjson.a,libfmt.a,libspdlog.a} and
# DIR/include/{librdkafka/rdkafka.h,simdjson.h} (fmt's and spdlog's headers are Debian's, at the
# same version), and DIR/versions with the source versions. Does nothing when DIR/versions already
# names the source versions of the installed librdkafka-dev, libsimdjson-dev, libfmt-dev and
# libspdlog-dev. Needs deb-src entries: when none is configured it adds
# /etc/apt/sources.list.d/smith-deb-src.sources (bookworm, main) and runs apt-get update,
# which needs root.
set -euo pipefail

die() {
	echo "build-static-deps: error: $*" >&2
	exit 1
}
log() { echo "build-static-deps: $*" >&2; }

OUT=""
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?--out needs a directory}; shift 2 ;;
	--out=*) OUT=${1#*=}; shift ;;
	-h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option '$1'" ;;
	esac
done
[ -n "$OUT" ] || die "usage: $0 --out DIR"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# The source packages, at the versions of the -dev packages installed here: the headers the
# rest of the build compiles against.
DEV_PACKAGES=(librdkafka-dev libsimdjson-dev libfmt-dev libspdlog-dev)
want=$(dpkg-query -W -f='${source:Package} ${source:Version}\n' "${DEV_PACKAGES[@]}") ||
	die "${DEV_PACKAGES[*]} must be installed (packaging/install-build-deps.sh)"
if [ -f "$OUT/versions" ] && [ "$(cat "$OUT/versions")" = "$want" ] &&
	[ -f "$OUT/lib/librdkafka.a" ] && [ -f "$OUT/lib/libsimdjson.a" ] &&
	[ -f "$OUT/lib/libfmt.a" ] && [ -f "$OUT/lib/libspdlog.a" ]; then
	exit 0
fi
mapfile -t sources < <(awk '{ print $1 "=" $2 }' <<<"$want")

if ! apt-get source --print-uris -qq "${sources[0]}" >/dev/null 2>&1; then
	[ "$(id -u)" -eq 0 ] || die "apt has no deb-src entries; as root this script adds them (or add deb-src for bookworm main yourself)"
	. /etc/os-release
	log "adding deb-src for ${VERSION_CODENAME:-bookworm} main (/etc/apt/sources.list.d/smith-deb-src.sources)"
	cat >/etc/apt/sources.list.d/smith-deb-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: ${VERSION_CODENAME:-bookworm}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -qq
	apt-get source --print-uris -qq "${sources[0]}" >/dev/null || die "apt-get source still finds no ${sources[0]}"
fi

SRC="$OUT/src"
rm -rf "$SRC" "$OUT/lib" "$OUT/include" "$OUT/versions"
mkdir -p "$SRC" "$OUT/lib" "$OUT/include/librdkafka"
# apt verifies the downloads against the signed Sources index; dpkg-source applies Debian's patches.
(cd "$SRC" && apt-get source -qq "${sources[@]}" >"$SRC/apt-source.log" 2>&1) ||
	{ tail -n 20 "$SRC/apt-source.log" >&2; die "apt-get source ${sources[*]} failed"; }

jobs=$(nproc)

log "librdkafka: configure and build (about a minute)"
rk=$(find "$SRC" -maxdepth 1 -type d -name 'librdkafka-*' | head -n 1)
[ -d "$rk" ] || die "no librdkafka source tree in $SRC"
(
	cd "$rk"
	./configure --prefix="$OUT" --enable-static --disable-gssapi --disable-curl --disable-lz4-ext \
		--enable-ssl --enable-zstd --enable-zlib >"$SRC/librdkafka-configure.log" 2>&1
	grep -q 'WITH_SASL_CYRUS 1' config.h && exit 2
	make -j"$jobs" -C src librdkafka.a >"$SRC/librdkafka-make.log" 2>&1
) || { tail -n 30 "$SRC"/librdkafka-*.log >&2; die "building librdkafka failed (logs in $SRC)"; }
cp "$rk/src/librdkafka.a" "$OUT/lib/"
cp "$rk/src/rdkafka.h" "$OUT/include/librdkafka/"

log "simdjson: build (about half a minute)"
sj=$(find "$SRC" -maxdepth 1 -type d -name 'simdjson-*' | head -n 1)
[ -f "$sj/singleheader/simdjson.cpp" ] || die "no singleheader/simdjson.cpp in $sj"
c++ -std=c++17 -O2 -fPIE -c "$sj/singleheader/simdjson.cpp" -I"$sj/singleheader" -o "$SRC/simdjson.o" ||
	die "compiling simdjson failed"
ar rcs "$OUT/lib/libsimdjson.a" "$SRC/simdjson.o"
cp "$sj/singleheader/simdjson.h" "$OUT/include/"

# The compiled forms of the header libraries, as Debian builds its shared ones (its default
# standard, spdlog with the external fmt). The build compiles against Debian's headers of the same
# versions, with SPDLOG_COMPILED_LIB (cmake/Dependencies.cmake).
log "fmt and spdlog: build (about half a minute)"
fm=$(find "$SRC" -maxdepth 1 -type d -name 'fmtlib-*' | head -n 1)
sp=$(find "$SRC" -maxdepth 1 -type d -name 'spdlog-*' | head -n 1)
[ -f "$fm/src/format.cc" ] && [ -f "$fm/src/os.cc" ] || die "no src/format.cc and src/os.cc in ${fm:-$SRC (no fmtlib source)}"
[ -f "$sp/src/spdlog.cpp" ] || die "no src/spdlog.cpp in ${sp:-$SRC (no spdlog source)}"
pids=()
for f in format os; do
	c++ -O2 -fPIE -I"$fm/include" -c "$fm/src/$f.cc" -o "$SRC/fmt-$f.o" & pids+=($!)
done
for f in "$sp"/src/*.cpp; do
	c++ -O2 -fPIE -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL -I"$sp/include" -I"$fm/include" \
		-c "$f" -o "$SRC/spdlog-$(basename "$f" .cpp).o" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "compiling fmt or spdlog failed"; done
ar rcs "$OUT/lib/libfmt.a" "$SRC"/fmt-*.o
ar rcs "$OUT/lib/libspdlog.a" "$SRC"/spdlog-*.o

printf '%s\n' "$want" >"$OUT/versions"
rm -rf "$SRC"
log "done: $(paste -sd, "$OUT/versions") in $OUT"
