#!/bin/bash
# Seed 001 (keepalived + LVS-DR MASTER/BACKUP pair, Debian), by hand on one LB, as the post writes
# it. Lab: lb1 198.19.166.11 (MASTER), lb2 .12 (BACKUP), real servers .13 .14, VIP .100 (the
# post's xxx.xxx.xxx.100/24), eth0.
# Usage: lb.sh master|backup   (the post gives one file for the Master and one for the Slave)
# Lab adaptations: bypass_ipvs.sh is not downloaded (no route out) but written here with the same
# behaviour (add/del the VIP's REDIRECT); no IPVS in the lab kernel (DAEMON_ARGS="--vrrp").
set -eu
ROLE=$1
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
apt-get install -y -q keepalived

if [ "$ROLE" = master ]; then
cat > /etc/keepalived/keepalived.conf <<'CONF'
# Global Configuration
global_defs {
notification_email {
notification@domain.org
}
notification_email_from keepalived@domain.org
smtp_server localhost
smtp_connect_timeout 30
router_id LVS_MASTER # string identifying the machine
}
# describe virtual service ip
vrrp_instance VI_1 {
# initial state
state MASTER
interface eth0
# arbitary unique number 0..255
# used to differentiate multiple instances of vrrpd
virtual_router_id 1
# for electing MASTER, highest priority wins.
# to be MASTER, make 50 more than other machines.
priority 100
authentication {
auth_type PASS
auth_pass hogehoge
}
virtual_ipaddress {
198.19.166.100/24
}
# Invoked to master transition
notify_master "/etc/keepalived/bypass_ipvs.sh del 198.19.166.100"
# Invoked to slave transition
notify_backup "/etc/keepalived/bypass_ipvs.sh add 198.19.166.100"
# Invoked to fault transition
notify_fault "/etc/keepalived/bypass_ipvs.sh add 198.19.166.100"
}
# describe virtual web server
virtual_server 198.19.166.100 80 {
delay_loop 30
lb_algo rr
lb_kind DR
persistence_timeout 50
protocol TCP
real_server 198.19.166.13 80 {
HTTP_GET {
url {
path /index.html
}
connect_timeout 3
nb_get_retry 3
delay_before_retry 2
}
}
real_server 198.19.166.14 80 {
HTTP_GET {
url {
path /index.html
}
connect_timeout 3
nb_get_retry 3
delay_before_retry 2
}
}
}
CONF
else
cat > /etc/keepalived/keepalived.conf <<'CONF'
# Global Configuration
global_defs {
notification_email {
notification@domain.org
}
notification_email_from keepalived@mailinblack.org
smtp_server localhost
smtp_connect_timeout 30
router_id LVS_MASTER # string identifying the machine
}
# describe virtual service ip
vrrp_instance VI_1 {
# initial state
state BACKUP
interface eth0
# arbitary unique number 0..255
# used to differentiate multiple instances of vrrpd
virtual_router_id 1
# for electing MASTER, highest priority wins.
# to be MASTER, make 50 more than other machines.
priority 50
authentication {
auth_type PASS
auth_pass hogehoge
}
virtual_ipaddress {
198.19.166.100/24
}
# Invoked to master transition
notify_master "/etc/keepalived/bypass_ipvs.sh del 198.19.166.100"
# Invoked to slave transition
notify_backup "/etc/keepalived/bypass_ipvs.sh add 198.19.166.100"
# Invoked to fault transition
notify_fault "/etc/keepalived/bypass_ipvs.sh add 198.19.166.100"
}
# describe virtual web server
virtual_server 198.19.166.100 80 {
delay_loop 30
lb_algo rr
lb_kind DR
persistence_timeout 50
protocol TCP
real_server 198.19.166.13 80 {
HTTP_GET {
url {
path /index.html
}
connect_timeout 3
nb_get_retry 3
delay_before_retry 2
}
}
real_server 198.19.166.14 80 {
HTTP_GET {
url {
path /index.html
}
connect_timeout 3
nb_get_retry 3
delay_before_retry 2
}
}
}
CONF
fi

# cd /etc/keepalived/ && wget http://gcharriere.com/blog/wp-content/uploads/2009/10/bypass_ipvs.sh
cat > /etc/keepalived/bypass_ipvs.sh <<'SH'
#!/bin/sh
# bypass_ipvs.sh add|del VIP: while this director is not MASTER, accept the VIP locally (REDIRECT)
# so the packets the MASTER forwards to it as a real server are answered, not dropped.
VIP=$2
case "$1" in
  add) iptables -t nat -C PREROUTING -d "$VIP" -p tcp -j REDIRECT 2>/dev/null ||
         iptables -t nat -A PREROUTING -d "$VIP" -p tcp -j REDIRECT ;;
  del) while iptables -t nat -D PREROUTING -d "$VIP" -p tcp -j REDIRECT 2>/dev/null; do :; done ;;
  *) echo "usage: $0 add|del VIP" >&2; exit 1 ;;
esac
SH
chmod 755 /etc/keepalived/bypass_ipvs.sh

# sysctl.conf: uncomment net.ipv4.ip_forward = 1, then sysctl -p
sed -i 's/^#net.ipv4.ip_forward=1/net.ipv4.ip_forward=1/' /etc/sysctl.conf
sysctl -p

sed -i 's/^DAEMON_ARGS=.*/DAEMON_ARGS="--vrrp"/' /etc/default/keepalived

/etc/init.d/keepalived restart
