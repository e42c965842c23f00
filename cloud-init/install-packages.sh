#!/bin/sh
# Installs what Minecraft needs beside the agent, run by cloud-init's runcmd
# right after install-agent.sh started the agent: these installs overlap the
# world's restore and the mods' download instead of coming before them
# (docs/coldstart.md). The firewall first, its ruleset loaded, then Java:
# the agent starts Minecraft only once `java` exists, so Minecraft never runs
# without the ruleset. On the prebuilt image (`mc-gitops image build`) the
# packages are there already and apt is not run at all; there Java exists
# before the agent starts, so runcmd first calls this script with
# `--firewall-if-installed`, which loads the ruleset before anything else.
set -eu
export DEBIAN_FRONTEND=noninteractive
updated=no

apt_install() {
    if [ "$updated" = no ]; then
        apt-get update -q
        updated=yes
    fi
    apt-get install -y -q --no-install-recommends "$@"
}

firewall() {
    install -m 0644 /etc/mc-gitops/nftables.conf /etc/nftables.conf
    systemctl enable nftables.service
    systemctl restart nftables.service
}

if [ "${1:-}" = --firewall-if-installed ]; then
    if command -v nft >/dev/null 2>&1; then
        firewall
    fi
    exit 0
fi

if ! command -v nft >/dev/null 2>&1 || ! command -v zstd >/dev/null 2>&1; then
    apt_install nftables zstd
fi
firewall

if ! command -v java >/dev/null 2>&1; then
    apt_install openjdk-17-jre-headless
fi
