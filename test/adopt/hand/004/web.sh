#!/bin/bash
# Seed 004's web server (NAT): the LB pair's floating address is its default gateway.
set -eu
ip route add default via 198.19.169.254
