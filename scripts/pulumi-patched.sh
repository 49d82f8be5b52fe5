#!/usr/bin/env bash
# Builds the Pulumi CLI this project runs (scripts/setup-pulumi.sh's version) with one proposed upstream change applied
# (a patch in docs/upstream/), into a directory of its own next to the stock build, and prints that directory. It is
# for measuring an upstream proposal side by side: `npm run bench -- --pulumi-bin DIR`. The tests, the demo and the
# default bench never use it: they run Pulumi as users have it.
#   bash scripts/env.sh bash scripts/pulumi-patched.sh docs/upstream/pulumi-coalesce-snapshot-saves.patch
set -euo pipefail

[ $# -eq 1 ] && [ -f "$1" ] || { echo "usage: $0 docs/upstream/<change>.patch" >&2; exit 2; }
PATCH="$(realpath "$1")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PULUMI_VERSION="${SFTPJAIL_PULUMI_VERSION:-v3.274.1}"
CACHE="${SFTPJAIL_CACHE:-/var/cache/sftp-jail}"
STOCK="$(bash "$ROOT/scripts/setup-pulumi.sh")"
NAME="$(basename "$PATCH" .patch)"
OUT="$CACHE/pulumi-$PULUMI_VERSION-$NAME/bin"
STAMP="$OUT/.patch.$(sha256sum <"$PATCH" | cut -c1-16)"

log() { echo "[pulumi-patched] $*" >&2; }

if [ ! -x "$OUT/pulumi" ] || [ ! -e "$STAMP" ]; then
  log "building pulumi $PULUMI_VERSION with $NAME"
  mkdir -p "$OUT"
  export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=auto
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cat >"$work/go.mod" <<MOD
module sftpjail.local/pulumicli

go 1.24

require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
  src="$(cd "$work" && go mod download -json "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src/backend" ] || { log "no pkg/v3 source for $PULUMI_VERSION"; exit 1; }
  cp -r "$src" "$work/pkg"
  chmod -R u+w "$work/pkg"
  # The patch names files as the pulumi repository does (a/pkg/...): applied in $work, where pkg/ is that module.
  (cd "$work" && git apply --unsafe-paths -p1 "$PATCH")
  echo "replace github.com/pulumi/pulumi/pkg/v3 => ./pkg" >>"$work/go.mod"
  cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
GO
  (cd "$work" && go mod tidy >&2 && go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" -o "$OUT/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2)
  mv "$OUT/pulumi.tmp" "$OUT/pulumi"
  rm -f "$OUT"/.patch.*
  touch "$STAMP"
fi

# The language hosts and the dynamic-provider launcher are the stock ones (the engine looks next to its own binary).
for f in "$STOCK"/*; do
  b="$(basename "$f")"
  [ "$b" = pulumi ] || ln -sfn "$f" "$OUT/$b"
done
echo "$OUT"
