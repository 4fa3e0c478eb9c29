#!/bin/bash
# Seed 002 (KLab DSAS: LVS from NAT to DSR with fwmark policy routing), by hand on one LB (lv1,
# lv2), as the post writes it. Lab: lv1 198.19.167.11, lv2 .12, w101 .13, w102 .14 on eth0 (the
# post's eth0/eth1 are one segment here); service VIP .100 (the post's 10.10.31.100), which no
# host owns; VRRP carries only the gateway address .10 the real servers and the client route via
# (the series' part 3).
# Usage: lb.sh PRIORITY   (the post's comments: keep vrrp_instance identical except priority)
# Lab adaptations: Debian's keepalived in /etc/keepalived instead of /usr/klab, started by its
# init script with DAEMON_ARGS="--vrrp" (the post runs -n -f ... --check --vrrp; no IPVS here).
set -eu
PRIORITY=$1
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
apt-get install -y -q keepalived

# ちょっとしたおまじない
iptables -t mangle -A PREROUTING -d 198.19.167.100 -j MARK --set-mark 1
ip rule add prio 100 fwmark 1 table 100
ip route add local 0/0 dev lo table 100
echo 0 > /proc/sys/net/ipv4/conf/eth0/rp_filter

cat > /etc/keepalived/keepalived.conf <<'CONF'
global_defs {
    router_id DSAS_LV
}

vrrp_instance VI_GW {
    state BACKUP
    interface eth0
    virtual_router_id 31
    priority @PRIORITY@
    advert_int 1
    virtual_ipaddress {
        198.19.167.10/24
    }
}

virtual_server fwmark 1 {
    delay_loop 5
    lb_algo rr
    lvs_method DR
    protocol TCP

    real_server 198.19.167.13 80 {
        weight 1
        HTTP_GET {
            url {
                path /
            }
            connect_timeout 3
        }
    }
    real_server 198.19.167.14 80 {
        weight 1
        HTTP_GET {
            url {
                path /
            }
            connect_timeout 3
        }
    }
}
CONF
sed -i "s/@PRIORITY@/$PRIORITY/" /etc/keepalived/keepalived.conf
sed -i 's/^DAEMON_ARGS=.*/DAEMON_ARGS="--vrrp"/' /etc/default/keepalived
/etc/init.d/keepalived start
