#!/bin/bash
# Seed 000 (WESEEK, keepalived + LVS-DR on the application boxes), by hand on one node, as the
# post writes it. Lab: nodes 198.19.165.11-.13 on eth0, VIP 198.19.165.5 (the post's 10.0.0.5).
# Usage: node.sh PRIORITY   (the post: "change only priority per node")
# Lab adaptations: no IPVS in the lab kernel (DAEMON_ARGS="--vrrp"); `netplan apply` cannot run in
# a host without systemd, so the address it would add is added with `ip`; `sysctl -p FILE`
# (`sysctl -p` alone reads only /etc/sysctl.conf, not the post's file); busybox httpd is the app.
set -eu
PRIORITY=$1
export DEBIAN_FRONTEND=noninteractive

sudo apt-get update -q
sudo apt-get install -y -q keepalived
keepalived --version

cat > /etc/keepalived/keepalived.conf <<'CONF'
global_defs {
    enable_script_security
}

vrrp_instance LVS_SETTINGS {
    state BACKUP # state は priority を見て自動で MASTER BACKUP 切り替えをしてくれるので全て BACKUP で指定
    interface eth0 # 受け付けるインターフェースを指定
    virtual_router_id 50 # VRRP に属するグループをユニークに指定する id
    priority @PRIORITY@ # Master state にするノードの優先度(ノードごとに変更してください)
    advert_int 1 # VRRP による生存確認パケットの間隔
    notify_master "/etc/keepalived/notify_master.sh" # 後述
    notify_backup "/etc/keepalived/notify_backup.sh" # 後述
    virtual_ipaddress {
        198.19.165.5 # VIP を指定してください
    }
}

include virtualserver-backup.conf # 後述
CONF
sed -i "s/@PRIORITY@/$PRIORITY/" /etc/keepalived/keepalived.conf

# 空で ok
: > /etc/keepalived/virtualserver-backup.conf

cat > /etc/keepalived/virtualserver-master.conf <<'CONF'
virtual_server 198.19.165.5 8000 { # 対象の VIP を指定
    delay_loop 6 # アプリの生存確認間隔
    lb_algo rr # 負荷分散手法
    lb_kind DR # パケット転送方式
    protocol TCP # 対象のプロトコル

    real_server 198.19.165.11 8000 {
        weight 1 # 負荷分散で使う重み
        HTTP_GET { # 生存確認のプロトコル
            url {
                path /health # 生存確認のパス
            }
            connect_timeout 10
        }
    }
    real_server 198.19.165.12 8000 {
        weight 1
        HTTP_GET {
            url {
                path /health
            }
            connect_timeout 10
        }
    }
    real_server 198.19.165.13 8000 {
        weight 1
        HTTP_GET {
            url {
                path /health
            }
            connect_timeout 10
        }
    }
}
CONF

cat > /etc/keepalived/notify_master.sh <<'SH'
#!/bin/bash -u

sudo sed -i -e "s/include virtualserver-backup.conf/include virtualserver-master.conf/g" /etc/keepalived/keepalived.conf
sudo service keepalived reload
SH

cat > /etc/keepalived/notify_backup.sh <<'SH'
#!/bin/bash -u

RELOAD_FLG=0
grep "include virtualserver-backup.conf" /etc/keepalived/keepalived.conf > /dev/null # Normally the exit status is 0 if a line is selected, 1 if no lines were selected, and 2 if an error occurred. see: man grep
if [ $? -ne 0 ] ; then
  RELOAD_FLG=1
fi
sudo sed -i -e "s/include virtualserver-master.conf/include virtualserver-backup.conf/g" /etc/keepalived/keepalived.conf

# reload のタイミングで BACKUP state に移行して再度このスクリプトが実行されるため、無限実行を防ぐためにチェックを行う
if [ ${RELOAD_FLG} -eq 1 ] ; then
  sudo service keepalived reload
fi
SH

sudo useradd keepalived_script
echo 'keepalived_script ALL=(ALL:ALL) NOPASSWD: ALL' | sudo EDITOR='tee -a' visudo >/dev/null

cd /etc/keepalived
sudo chmod u+x notify_backup.sh notify_master.sh
sudo chown keepalived_script:keepalived_script notify_backup.sh notify_master.sh

cat > /etc/sysctl.d/98-keepalived.conf <<'CONF'
# Do not rename this file so it is run at the end of /etc/sysctl.d/*.conf files load.
# Run `sysctl -p` to apply

# パケットを転送するために IP フォーワードを許可
net.ipv4.ip_forward = 1

# ARP リクエストが eth0 に来たときに eth0 に vip が設定されていなかったとしても、
# lo に vip が設定されていると ARP レスポンスを返してしまうため、
# それを防ぐために eth0 に設定されていないアドレスに対する ARP リクエストには応答しないようにしている
net.ipv4.conf.eth0.arp_ignore = 1
net.ipv4.conf.eth0.arp_announce = 2

# LVS 間での通信とクライアントとの通信で異なる NIC を使用する場合は rp_filter を無効化(0)に
# net.ipv4.conf.eth0.rp_filter = 0
CONF
sudo sysctl -p /etc/sysctl.d/98-keepalived.conf

cat > /etc/netplan/99_lo_config.yaml <<'CONF'
# This config is used for applying vip to lo interface.
# By this, each real server is able to use vip as its own ip address.
# Run `netplan apply` to apply
network:
  version: 2
  renderer: networkd
  ethernets:
    lo:
      addresses:
      - 198.19.165.5/32
CONF
chmod 600 /etc/netplan/99_lo_config.yaml
sudo netplan generate
sudo ip addr add 198.19.165.5/32 dev lo

# keepalived の DR 用 virtual_server はこのカーネルに IPVS がないので VRRP だけで動かす
sudo sed -i 's/^DAEMON_ARGS=.*/DAEMON_ARGS="--vrrp"/' /etc/default/keepalived

sudo systemctl restart keepalived
