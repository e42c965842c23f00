#!/bin/sh
# Installs the mc-gitops agent on first boot (run by cloud-init's runcmd).
# Every per-session value comes from a file cloud-init wrote, never from text
# pasted into this script: the release URL from agent.url, its checksum from
# agent.sha256 (a `sha256sum -c` line). A download that does not match is
# never made executable, and the unit is not started. Minecraft's user
# owns /srv/minecraft and can read nothing in /etc/mc-gitops.
set -eu

etc=/etc/mc-gitops
bin=/usr/local/bin

chown -R root:root "$etc"
chmod 0700 "$etc"
chmod 0600 "$etc/agent.toml"
install -d -o minecraft -g minecraft -m 0750 /srv/minecraft

url=$(cat "$etc/agent.url")
curl --fail --silent --show-error --location --proto '=https' --proto-redir '=https' \
    --retry 5 --retry-connrefused --connect-timeout 10 --max-time 300 \
    --output "$bin/mc-gitops.download" --url "$url"

cd "$bin"
if ! sha256sum --check --strict --quiet "$etc/agent.sha256"; then
    rm -f "$bin/mc-gitops.download"
    echo "mc-gitops: the downloaded agent does not match its sha256; not installing it" >&2
    exit 1
fi
chmod 0755 mc-gitops.download
mv -f mc-gitops.download mc-gitops

systemctl daemon-reload
systemctl enable --now mc-gitops-agent.service
