#!/bin/bash
# Seed 002's real server (w101, w102), by hand as the post writes it: REDIRECT the VIP locally
# (no VIP address, no ARP games); replies go back through the LBs (the series' default gateway).
set -eu
ip route add default via 198.19.167.10
iptables -t nat -A PREROUTING -d 198.19.167.100 -j REDIRECT
