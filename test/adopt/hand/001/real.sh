#!/bin/bash
# Seed 001's real server (web01), by hand as the post writes it: the web server, then accept the
# VIP without owning it (iptables REDIRECT), persisted with iptables-persistent.
# Lab adaptations: busybox httpd instead of nginx (no nginx in the lab's apt repository; the test
# starts it); `netfilter-persistent save` writes what `iptables-save > /etc/iptables/rules` wrote
# on Debian 6 (rules.v4 today); iptables-persistent's two debconf questions answered beforehand.
set -eu
export DEBIAN_FRONTEND=noninteractive

mkdir -p /var/www
echo "hello" > /var/www/index.html

iptables -A PREROUTING -t nat -d 198.19.166.100 -p tcp -j REDIRECT
iptables -t nat --list

echo 'iptables-persistent iptables-persistent/autosave_v4 boolean false' | debconf-set-selections
echo 'iptables-persistent iptables-persistent/autosave_v6 boolean false' | debconf-set-selections
apt-get update -q
apt-get install -y -q iptables-persistent
netfilter-persistent save
