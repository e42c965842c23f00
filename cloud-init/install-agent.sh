#!/bin/sh
# Installs the mc-gitops agent on first boot (run by cloud-init's runcmd,
# first, so the agent restores the world while install-packages.sh installs
# Java: docs/coldstart.md). Every per-session value comes from a file
# cloud-init wrote, never from text pasted into this script: the release URL
# from agent.url, its checksum from agent.sha256 (a `sha256sum -c` line). A
# download that does not match is never made executable, and the unit is not
# started. An agent already installed (the prebuilt image of `mc-gitops image
# build`) is kept only if it has that same sha256. Minecraft's user owns
# /srv/minecraft and can read nothing in /etc/mc-gitops.
#
# `--binary-only` (the image build): install the checked binary, start nothing.
set -eu

etc=/etc/mc-gitops
bin=/usr/local/bin
mode=${1:-session}

chown -R root:root "$etc"
chmod 0700 "$etc"
if [ "$mode" != --binary-only ]; then
    chmod 0600 "$etc/agent.toml"
fi
install -d -o minecraft -g minecraft -m 0750 /srv/minecraft

if ! command -v curl >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends curl ca-certificates
fi

cd "$bin"
want=$(cut -d ' ' -f 1 "$etc/agent.sha256")
if [ -x mc-gitops ] && [ "$(sha256sum < mc-gitops | cut -d ' ' -f 1)" = "$want" ]; then
    echo "mc-gitops: the installed agent has the pinned sha256; not downloading it again"
else
    url=$(cat "$etc/agent.url")
    curl --fail --silent --show-error --location --proto '=https' --proto-redir '=https' \
        --retry 5 --retry-connrefused --connect-timeout 10 --max-time 300 \
        --output "$bin/mc-gitops.download" --url "$url"
    if ! sha256sum --check --strict --quiet "$etc/agent.sha256"; then
        rm -f "$bin/mc-gitops.download"
        echo "mc-gitops: the downloaded agent does not match its sha256; not installing it" >&2
        exit 1
    fi
    chmod 0755 mc-gitops.download
    mv -f mc-gitops.download mc-gitops
fi

if [ "$mode" = --binary-only ]; then
    exit 0
fi
systemctl daemon-reload
systemctl enable --now mc-gitops-agent.service
