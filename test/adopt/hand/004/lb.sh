#!/bin/bash
# Seed 004 (LVS on AWS VPC: web via NAT, DB reads via DSR, one active/standby pair, no multicast),
# by hand on one LB with the post's heartbeat + ldirectord replaced by what its digest names as
# today's equivalent: keepalived with unicast VRRP, a notify_master hook moving the cloud address,
# and per-service lb_kind (NAT and DR on one pair).
# Lab: lvs01 198.19.169.11 (the post's 172.18.1.23), lvs02 .12, web1 .13, db1 .14 (one of each of
# the post's pairs), web VIP .199, db read VIP .200, web servers' gateway .254, eth0.
# Usage: lb.sh PRIORITY SELF PEER
# Lab adaptations: the cloud API call is a logged stub (no cloud); DAEMON_ARGS="--vrrp" (no IPVS).
set -eu
PRIORITY=$1 SELF=$2 PEER=$3
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q keepalived

# カーネルパラメータ調整(パケットの転送を許可しルータの機能を持たせる)
echo 'net.ipv4.ip_forward = 1' >> /etc/sysctl.conf
sysctl -p

cat > /usr/local/bin/aws-move-vip.sh <<'SH'
#!/bin/sh
# moves the secondary private IPs / EIP to this instance (aws ec2 assign-private-ip-addresses
# --allow-reassignment ...): a logged stub in the lab
logger -t aws-move-vip "assign $*"
SH
chmod 755 /usr/local/bin/aws-move-vip.sh

cat > /etc/keepalived/keepalived.conf <<CONF
global_defs {
    router_id LVS_AWS
}

vrrp_instance VI_AWS {
    state BACKUP
    interface eth0
    virtual_router_id 42
    priority $PRIORITY
    advert_int 1
    unicast_src_ip $SELF
    unicast_peer {
        $PEER
    }
    authentication {
        auth_type PASS
        auth_pass aws0vpc1
    }
    virtual_ipaddress {
        198.19.169.199/24
        198.19.169.200/24
        198.19.169.254/24
    }
    notify_master "/usr/local/bin/aws-move-vip.sh 198.19.169.199 198.19.169.200 198.19.169.254"
}

# web: NAT (clients over the internet), the LB is the web servers' gateway
virtual_server 198.19.169.199 80 {
    delay_loop 10
    lb_algo wlc
    lb_kind NAT
    protocol TCP
    real_server 198.19.169.13 80 {
        weight 1
        HTTP_GET {
            url {
                path /check.html
            }
            connect_timeout 3
        }
    }
}

virtual_server 198.19.169.199 443 {
    delay_loop 10
    lb_algo wlc
    lb_kind NAT
    persistence_timeout 300
    protocol TCP
    real_server 198.19.169.13 443 {
        weight 1
        TCP_CHECK {
            connect_timeout 3
        }
    }
}

# db read: DSR inside the flat subnet
virtual_server 198.19.169.200 3306 {
    delay_loop 10
    lb_algo wlc
    lb_kind DR
    protocol TCP
    real_server 198.19.169.14 3306 {
        weight 1
        TCP_CHECK {
            connect_timeout 5
        }
    }
}
CONF
sed -i 's/^DAEMON_ARGS=.*/DAEMON_ARGS="--vrrp"/' /etc/default/keepalived
/etc/init.d/keepalived start
