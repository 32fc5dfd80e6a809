# smith: the DKMS steps of the package scripts, shared by the RPM (an include line in smith.spec) and the
# .deb (build-packages.sh puts it in place of the SMITH_DKMS token line of packaging/debian/*). POSIX sh: it runs
# under CentOS 7's bash, Debian's dash and busybox. No percent signs: rpm would expand them.
# Nothing here fails the transaction: the eBPF backend does not need the module.

# smith_dkms_install VERSION: after the files are in place (install, upgrade, reinstall).
# Removes every smith version registered with dkms, this one too (same-version upgrades replaced
# its sources), then registers this one and builds and installs it for the running kernel.
# The old package's prerm/preun leaves dkms alone on upgrade (it runs after this, and with the
# same version would remove what was just installed).
smith_dkms_install() {
	smith_v=$1
	smith_k=$(uname -r)
	smith_none="smith: dkms or kernel headers for $smith_k not found; the kernel module fallback is not built (the eBPF backend does not need it)"
	if ! command -v dkms >/dev/null 2>&1; then
		echo "$smith_none"
		return 0
	fi
	# "smith, 0.1.0, ..." (dkms 2.x) or "smith/0.1.0, ..." and "smith/0.1.0: added" (dkms 3.x).
	for smith_old in $(dkms status -m smith 2>/dev/null | sed -n 's/^smith[,/] *\([^,: ]*\).*/\1/p' | sort -u); do
		dkms remove -m smith -v "$smith_old" --all >/dev/null 2>&1 || :
	done
	if ! dkms add -m smith -v "$smith_v" >/dev/null 2>&1; then
		echo "smith: dkms add smith/$smith_v failed; the kernel module fallback is not built (the eBPF backend does not need it)"
		return 0
	fi
	# Registered: AUTOINSTALL builds it for kernels installed later, with their headers.
	if [ ! -e "/lib/modules/$smith_k/build" ]; then
		echo "$smith_none"
		return 0
	fi
	if dkms build -m smith -v "$smith_v" -k "$smith_k" >/dev/null 2>&1 &&
		dkms install -m smith -v "$smith_v" -k "$smith_k" >/dev/null 2>&1; then
		echo "smith: smith.ko $smith_v built and installed by dkms for $smith_k"
	else
		echo "smith: dkms could not build or install smith.ko $smith_v for $smith_k (see /var/lib/dkms/smith/$smith_v/build/make.log); the eBPF backend does not need it"
	fi
	return 0
}

# smith_dkms_remove VERSION: on erase only, before the files go.
smith_dkms_remove() {
	if command -v dkms >/dev/null 2>&1; then
		dkms remove -m smith -v "$1" --all >/dev/null 2>&1 || :
	fi
	return 0
}
