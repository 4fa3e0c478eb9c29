#!/bin/bash
# The unseen setup's real server: the web VIP on lo (ARP off), persisted by netplan.
set -eu
cat > /etc/sysctl.d/90-lvs-dr.conf <<'CONF'
net.ipv4.conf.eth0.arp_ignore = 1
net.ipv4.conf.eth0.arp_announce = 2
CONF
sysctl -p /etc/sysctl.d/90-lvs-dr.conf
cat > /etc/netplan/60-vip.yaml <<'CONF'
network:
  version: 2
  ethernets:
    lo:
      addresses: [198.19.170.100/32]
CONF
chmod 600 /etc/netplan/60-vip.yaml
netplan generate
ip addr add 198.19.170.100/32 dev lo
