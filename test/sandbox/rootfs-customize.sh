#!/usr/bin/env bash
# mmdebstrap --customize-hook for the sandbox rootfs. Runs on the build machine with $1 = the new rootfs.
# Part of the rootfs recipe: editing this file changes the recipe hash, so the next `sandbox.sh rootfs` rebuilds.
set -euo pipefail
R="$1"
# Host keys are generated per host at its first start (ed25519 + ecdsa only).
rm -f "$R"/etc/ssh/ssh_host_*
# Users every sandbox host has. Keys and the opsudo password are installed per host at start.
# Debian already has a system group "operator" (gid 37), so useradd cannot create a user group of that name.
chroot "$R" useradd --create-home --uid 1000 --gid operator --shell /bin/bash --groups sudo operator
chroot "$R" useradd --create-home --uid 1001 --shell /bin/bash --groups sudo opsudo
printf 'operator ALL=(ALL) NOPASSWD:ALL\n' > "$R/etc/sudoers.d/operator"
chmod 0440 "$R/etc/sudoers.d/operator"
install -d -m 0700 "$R/root/.ssh"
# Reproducible, host-neutral identity files; each host writes its own hostname at start.
: > "$R/etc/machine-id"
echo sandbox > "$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
: > "$R/etc/resolv.conf"
rm -rf "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/* "$R"/var/log/*.log "$R"/var/log/apt/*
