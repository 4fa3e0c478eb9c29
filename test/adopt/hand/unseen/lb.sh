#!/bin/bash
# A hand-built pair no seed describes (the tests' unseen setup): two VRRP instances in a sync
# group, a vrrp_script tracked by both (a failure puts the group in FAULT: weights are ignored in
# sync groups), a track_file (non-zero content: maintenance, FAULT), options haplay does not model
# (garp_master_refresh, per-instance VRRP version 3, vrrp_garp_master_refresh, sorry_server,
# quorum, quorum_up/down), and the instances and virtual server split into conf.d/*.conf pulled
# in by an include glob.
# Lab: lb1 198.19.170.11, lb2 .12, real1 .13; VIPs .100 (web, VRRPv2 with a password) and .101
# (api, VRRPv3); eth0.
# Usage: lb.sh master|backup
set -eu
ROLE=$1
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q keepalived
if [ "$ROLE" = master ]; then STATE=MASTER PRIORITY=200 ID=lb-a; else STATE=BACKUP PRIORITY=180 ID=lb-b; fi

cat > /etc/keepalived/keepalived.conf <<CONF
! front pair, maintained by hand
global_defs {
    router_id $ID
    vrrp_garp_master_refresh 60
    vrrp_garp_master_repeat 2
    enable_script_security
    script_user root
}

vrrp_script chk_front {
    script "/usr/local/sbin/chk-front.sh"
    interval 2
    timeout 2
    fall 3
    rise 2
}

vrrp_track_file front_maint {
    file /etc/keepalived/front.maint
}

vrrp_sync_group SG_FRONT {
    group {
        VI_WEB
        VI_API
    }
    notify "/usr/local/sbin/front-notify.sh"
}

include /etc/keepalived/conf.d/*.conf
CONF

mkdir -p /etc/keepalived/conf.d
cat > /etc/keepalived/conf.d/10-web.conf <<CONF
vrrp_instance VI_WEB {
    state $STATE
    interface eth0
    virtual_router_id 70
    priority $PRIORITY
    advert_int 1
    garp_master_refresh 30
    authentication {
        auth_type PASS
        auth_pass s3cr3tWb
    }
    virtual_ipaddress {
        198.19.170.100/24 dev eth0 label eth0:web
    }
    track_script {
        chk_front
    }
    track_file {
        front_maint weight 0
    }
}
CONF
cat > /etc/keepalived/conf.d/20-api.conf <<CONF
vrrp_instance VI_API {
    state $STATE
    interface eth0
    virtual_router_id 71
    version 3
    priority $PRIORITY
    advert_int 1
    virtual_ipaddress {
        198.19.170.101/24
    }
    track_script {
        chk_front
    }
}
CONF
cat > /etc/keepalived/conf.d/30-web-vs.conf <<'CONF'
virtual_server 198.19.170.100 80 {
    delay_loop 5
    lb_algo wrr
    lb_kind DR
    protocol TCP
    quorum 1
    hysteresis 0
    quorum_up "/usr/bin/logger -t front quorum up"
    quorum_down "/usr/bin/logger -t front quorum down"
    sorry_server 198.19.170.14 80
    real_server 198.19.170.13 80 {
        weight 3
        TCP_CHECK {
            connect_timeout 3
            retry 2
        }
    }
}
CONF

cat > /usr/local/sbin/chk-front.sh <<'SH'
#!/bin/sh
# the front service answers on this LB
exec curl -fsS -m 1 -o /dev/null http://127.0.0.1:8080/
SH
cat > /usr/local/sbin/front-notify.sh <<'SH'
#!/bin/sh
# called by keepalived with: TYPE NAME STATE PRIORITY
logger -t front-notify "$*"
SH
chmod 755 /usr/local/sbin/chk-front.sh /usr/local/sbin/front-notify.sh
echo 0 > /etc/keepalived/front.maint

sed -i 's/^DAEMON_ARGS=.*/DAEMON_ARGS="--vrrp"/' /etc/default/keepalived
/etc/init.d/keepalived start
