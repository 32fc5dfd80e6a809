#!/usr/bin/env bash
# package: systemd unit — packaging/smithd.service passes systemd-analyze verify without a
# single warning (verify exits 0 on unknown keys and bad values, so any output fails), and has
# the settings smithd depends on and none of the ones that would break it.
#   unit.sh SOURCE_DIR SMITHD
. "$(dirname "$0")/common.sh"
SRC=$1 SMITHD=$2
need_tools systemd-analyze
unit=$SRC/packaging/smithd.service
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# verify checks that ExecStart's binary exists: point it at the one just built.
sed "s#^ExecStart=/usr/bin/smithd #ExecStart=$SMITHD #" "$unit" >"$tmp/smithd.service"
grep -q "^ExecStart=$SMITHD --foreground --backend=auto\$" "$tmp/smithd.service" || fail "unexpected ExecStart"
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$tmp/smithd.service" 2>&1) || fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
ok "systemd-analyze verify: clean"

for line in Type=notify NotifyAccess=main 'ExecStart=/usr/bin/smithd --foreground --backend=auto' \
	Restart=on-failure LimitMEMLOCK=infinity RuntimeDirectory=smith StateDirectory=smith \
	LogsDirectory=smith NoNewPrivileges=yes WantedBy=multi-user.target; do
	grep -qxF "$line" "$unit" || fail "the unit lacks '$line'"
done
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
for cap in CAP_BPF CAP_PERFMON CAP_SYS_ADMIN CAP_SYS_RESOURCE CAP_SYS_MODULE CAP_SYS_PTRACE CAP_DAC_READ_SEARCH; do
	grep -qw "$cap" <<<"$caps" || fail "CapabilityBoundingSet lacks $cap"
done
for bad in ProtectKernelModules ProtectKernelTunables PrivateDevices ProtectProc PrivateNetwork DynamicUser User; do
	! grep -q "^$bad=" "$unit" || fail "the unit sets $bad=, which stops smithd from working"
done
ok "the settings smithd needs, and none that break it"
