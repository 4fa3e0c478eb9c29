#!/bin/bash
# Seed 003 (feedforce: keepalived VRRP-only HA cluster, no LVS), by hand on one node, as the post
# writes it, with its "many VIPs" exercise (past 20, virtual_ipaddress_excluded) and its notify
# hooks. Lab: MASTER 198.19.168.11 (the post's 192.168.1.11), BACKUP .12, VIPs .10 and .101-.122.
# Usage: node.sh master|backup
set -eu
ROLE=$1
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q keepalived

if [ "$ROLE" = master ]; then STATE=MASTER PRIORITY=150; else STATE=BACKUP PRIORITY=100; fi
cat > /etc/keepalived/keepalived.conf <<CONF
# Configuration File for keepalived
global_defs {
    notification_email {
               hogehoge@feedforce.jp
    }
    notification_email_from keepalived@feedforce.jp
    smtp_server localhost
    smtp_connect_timeout 30
}

vrrp_instance VI_1 {
        state $STATE
        interface eth0
        virtual_router_id 51
        priority $PRIORITY
        advert_int 1
        authentication {
                auth_type PASS
                auth_pass 1111
        }
        virtual_ipaddress {
                198.19.168.10
$(for i in $(seq 101 119); do printf '                198.19.168.%s\n' "$i"; done)
        }
        virtual_ipaddress_excluded {
                198.19.168.120
                198.19.168.121
                198.19.168.122
        }
   notify_master /etc/keepalived/hoge.sh
   notify_backup /etc/keepalived/hage.sh
}
CONF

printf '#!/bin/sh\nlogger -t keepalived-notify "VI_1 is MASTER"\n' > /etc/keepalived/hoge.sh
printf '#!/bin/sh\nlogger -t keepalived-notify "VI_1 is BACKUP"\n' > /etc/keepalived/hage.sh
chmod 755 /etc/keepalived/hoge.sh /etc/keepalived/hage.sh

/etc/init.d/keepalived start
