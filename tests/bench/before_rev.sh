# shellcheck shell=bash
# Sourced by the benchmarks that compare smithd with an earlier revision of itself.
#
# build_smithd_before REPO REV PARENT: builds smithd from git revision REV of REPO (Release) in
# PARENT/smith-bench-before-<short rev>, unless it is there already, and sets SMITHD_BEFORE to
# the binary and BEFORE_REV to the short revision. Returns 1, with the reason on stderr, when
# the revision does not exist or does not build.
build_smithd_before() {
	local repo=$1 rev src
	rev=$(git -C "$repo" rev-parse --short "$2^{commit}") || {
		echo "no such revision '$2'" >&2
		return 1
	}
	src="$3/smith-bench-before-$rev"
	if [ ! -x "$src/build/smithd" ]; then
		echo "building smithd at $rev in $src (Release)" >&2
		rm -rf "$src"
		mkdir -p "$src"
		git -C "$repo" archive --prefix=src/ "$rev" | tar -x -C "$src" || {
			echo "cannot export $rev" >&2
			return 1
		}
		cmake -S "$src/src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null &&
			ninja -C "$src/build" smithd >/dev/null || {
			echo "building smithd at $rev failed" >&2
			return 1
		}
	fi
	SMITHD_BEFORE="$src/build/smithd"
	BEFORE_REV=$rev
}
