#!/bin/sh
# Runs inside the systemd guest of systemd_vm.sh, as a oneshot unit once multi-user.target is up:
# the user's whole deployment story with the real package manager and the real systemd.
# Each step prints "STORY: <step>" and its output; systemd_vm.sh checks the console.
echo "STORY: begin"
echo "STORY: dpkg -i"
dpkg -i /root/smith.deb 2>&1
echo "STORY: dpkg rc=$?"

echo "STORY: systemctl enable --now"
# Type=notify: this returns once smithd has sent READY=1 (hooks attached, socket listening).
timeout 600 systemctl enable --now smithd 2>&1
echo "STORY: enable rc=$?"
systemctl show -p Type -p ActiveState -p SubState -p StatusText -p NRestarts -p NoNewPrivileges smithd

echo "STORY: smithctl status"
smithctl status 2>&1
echo "STORY: smithctl rc=$?"

/bin/true smith-story-marker
sleep 5
echo "STORY: event"
events=/var/log/smith/events.jsonl
grep -F '"argv":["/bin/true","smith-story-marker"]' $events | head -n 1
echo "STORY: events file mode $(stat -c %a $events)"
echo "STORY: events in the journal: $(journalctl -u smithd -o cat --no-pager | grep -c '^{"schema"')"

echo "STORY: logrotate"
logrotate -f /etc/logrotate.d/smith 2>&1
echo "STORY: logrotate rc=$?"
sleep 2
/bin/true smith-story-after-rotation
sleep 5
echo "STORY: after rotation: new file $(grep -cF '"smith-story-after-rotation"' $events)," \
	"rotated $(grep -cF '"smith-story-after-rotation"' $events.1)," \
	"marker in rotated $(grep -cF '"smith-story-marker"' $events.1), mode $(stat -c %a $events)"

echo "STORY: systemctl reload"
systemctl reload smithd 2>&1
echo "STORY: reload rc=$?"
sleep 1
systemctl show -p ActiveState -p NRestarts smithd

echo "STORY: systemctl stop"
systemctl stop smithd 2>&1
echo "STORY: stop rc=$?"
systemctl show -p ActiveState -p Result smithd
journalctl -u smithd -o cat --no-pager | grep -E 'smithd stopped after [0-9]+ events' | tail -n 1
echo "STORY: end"
systemctl poweroff -ff
