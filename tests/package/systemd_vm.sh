#!/usr/bin/env bash
# vm: the .deb under systemd — the deployment story, literally: a Debian 12 guest booted with its
# own systemd (252) as PID 1 in Debian's 6.1 kernel under QEMU, where a oneshot unit runs
# tests/package/systemd-story.sh: dpkg -i the package, systemctl enable --now smithd (Type=notify:
# returns once smithd is ready), smithctl status, an exec in /var/log/smith/events.jsonl (the
# shipped file sink), systemctl reload and stop. The checks below read the guest's console.
#
# The guest's root is Debian bookworm (debootstrap --variant=minbase, plus systemd and logrotate), cached as a
# cpio archive in /var/cache/smith/vm/; the package and the story ride in a second archive that
# the kernel unpacks over it.
#   systemd_vm.sh PKG_DIR SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/common.sh"
need_root "QEMU, debootstrap"
need_tools debootstrap cpio qemu-system-x86_64
load_packages "$1" "$2"
BUILD_DIR=$3
CACHE=/var/cache/smith/vm
mkdir -p "$CACHE"

eval "$("$SRC/tests/vm/fetch-kernel.sh" --kernel 6.1)"
: "${RELEASE:?}" "${VMLINUZ:?}"

# The base root, built once per machine (about a minute).
base=$CACHE/systemd-root-bookworm-logrotate.cpio
if [ ! -s "$base" ]; then
	r=$(mktemp -d "$CACHE/systemd-root.XXXXXX")
	debootstrap --variant=minbase --include=systemd,systemd-sysv,logrotate bookworm "$r" http://deb.debian.org/debian \
		>"$r.log" 2>&1 || { tail -n 30 "$r.log"; rm -rf "$r"; fail "debootstrap failed (log above)"; }
	rm -rf "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/locale/* "$r"/var/cache/apt/*.bin \
		"$r"/var/lib/apt/lists/*
	# No logins on the console, nothing from the network, no timers.
	for u in serial-getty@ttyS0.service getty@tty1.service systemd-timesyncd.service apt-daily.timer \
		apt-daily-upgrade.timer; do
		ln -sf /dev/null "$r/etc/systemd/system/$u"
	done
	echo smith-systemd-guest >"$r/etc/hostname"
	: >"$r/etc/machine-id"
	(cd "$r" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$base.tmp"
	mv "$base.tmp" "$base"
	rm -rf "$r" "$r.log"
fi

work=$BUILD_DIR/vm/systemd
rm -rf "$work"
mkdir -p "$work/overlay/root" "$work/overlay/etc/systemd/system/multi-user.target.wants"
cp "$DEB1" "$work/overlay/root/smith.deb"
install -m 0755 "$SRC/tests/package/systemd-story.sh" "$work/overlay/root/story.sh"
cat >"$work/overlay/etc/systemd/system/smith-story.service" <<'UNIT'
[Unit]
Description=smith deployment story (tests/package/systemd-story.sh)
After=basic.target systemd-journald.service
[Service]
Type=oneshot
ExecStart=/root/story.sh
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
[Install]
WantedBy=multi-user.target
UNIT
ln -s ../smith-story.service "$work/overlay/etc/systemd/system/multi-user.target.wants/smith-story.service"
(cd "$work/overlay" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$work/overlay.cpio"
cat "$base" "$work/overlay.cpio" >"$work/initramfs.cpio"

console=$work/console.log
rc=0
timeout --signal=KILL 900 qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 2048 -nographic -no-reboot -nic none \
	-kernel "$VMLINUZ" -initrd "$work/initramfs.cpio" \
	-append "console=ttyS0 rdinit=/sbin/init panic=-1 loglevel=4 systemd.show_status=0" </dev/null >"$console" 2>&1 || rc=$?
sed -i 's/\r$//' "$console"

problems=()
expect() { grep -qxF -- "$1" "$console" || problems+=("no line '$1'"); }
expect_re() { grep -qE -- "$1" "$console" || problems+=("nothing matches /$1/"); }
[ "$rc" = 0 ] || problems+=("QEMU exited with $rc (137: killed at the 900 s timeout)")
expect "STORY: end"
expect "Setting up smith ($VERSION-1) ..."
expect "smith: dkms or kernel headers for $RELEASE not found; the kernel module fallback is not built (the eBPF backend does not need it)"
expect "STORY: dpkg rc=0"
expect "STORY: enable rc=0"
expect "Type=notify"
expect "StatusText=backend ebpf, sink file"
expect "SubState=running"
expect "NoNewPrivileges=yes"
expect "STORY: smithctl rc=0"
expect_re '^backend: +ebpf \(auto: kernel has BTF'
expect_re '^execve +attached +fexit +0 +- +- +-$'
expect_re '^connect +attached +fexit +0 +- +- +-$'
expect_re '^\{"schema":1,.*"type":"execve",.*"backend":"ebpf",.*"hostname":"smith-systemd-guest",.*"user":"root",.*"exe":"/usr/bin/true",.*"argv":\["/bin/true","smith-story-marker"\]'
expect "STORY: events file mode 600"
expect "STORY: events in the journal: 0"
expect "STORY: logrotate rc=0"
expect "STORY: after rotation: new file 1, rotated 0, marker in rotated 1, mode 600"
expect "STORY: reload rc=0"
expect "STORY: stop rc=0"
expect "Result=success"
expect "ActiveState=inactive"
expect "NRestarts=0"
expect_re '^\[.*\] \[smithd\] \[info\] smithd stopped after [1-9][0-9]* events$'
! grep -qE 'Oops|BUG:|WARNING:|Call Trace|Kernel panic' "$console" || problems+=("the guest kernel logged an oops, BUG, WARNING or panic")
if [ ${#problems[@]} -gt 0 ]; then
	echo "---- guest console ($console) ----"
	cat "$console"
	echo "---- end of guest console ----"
	for p in "${problems[@]}"; do echo "FAIL: $p" >&2; done
	exit 1
fi
sed -n '/^STORY: begin$/,/^STORY: end$/p' "$console" | grep -v '^{"schema"' | head -n 60
ok "on $RELEASE with systemd: dpkg -i, systemctl enable --now (READY=1), smithctl status, events in /var/log/smith (none in the journal), logrotate, reload, stop"
