#!/bin/bash
# Seed 004's DB server (DSR): ARP off for the VIP, the VIP on lo:0 (a loopback alias), persisted
# the Debian way (ifupdown stanza) and the sysctls in /etc/sysctl.conf.
set -eu
cat >> /etc/sysctl.conf <<'CONF'
net.ipv4.conf.all.arp_ignore = 1
net.ipv4.conf.all.arp_announce = 2
net.ipv4.conf.eth0.arp_ignore = 1
net.ipv4.conf.eth0.arp_announce = 2
CONF
sysctl -p
mkdir -p /etc/network
cat >> /etc/network/interfaces <<'CONF'
auto lo:0
iface lo:0 inet static
    address 198.19.169.200
    netmask 255.255.255.255
CONF
ip addr add 198.19.169.200/32 dev lo label lo:0
