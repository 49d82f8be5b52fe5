#!/usr/bin/env bash
# Provides the real Pulumi CLI, the Node.js language host and the dynamic-provider launcher in one directory.
# A `pulumi` already on PATH (what real users have) is used as is. Otherwise the CLI is built once per machine from the
# Go module proxy into a cache outside the repo, because the official installer's download site is unreachable here.
# Prints the directory to put on PATH.
set -euo pipefail

PULUMI_VERSION="${SFTPJAIL_PULUMI_VERSION:-v3.274.1}"
# The language host left the sdk/v3 module after v3.68.0 and the separate module is not served by the proxy at any
# version we can name (no tags; pseudo-versions need the commit hash, which the proxy will not resolve). v3.68.0 is the
# last release that carries it inside sdk/v3; its protocol (Run/GetRequiredPlugins) is still served by current CLIs.
LANGHOST_SDK_VERSION="${SFTPJAIL_LANGHOST_SDK_VERSION:-v3.68.0}"
CACHE="${SFTPJAIL_CACHE:-/var/cache/sftp-jail}"
BIN="$CACHE/pulumi-$PULUMI_VERSION/bin"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { echo "[setup-pulumi] $*" >&2; }

# --patch FILE: after the usual set-up, a CLI built with FILE applied (docs/upstream/: a proposed upstream change, to
# measure side by side with `npm run bench -- --pulumi-bin DIR`) in a directory of its own, whose other programs are
# the usual ones; prints that directory. Never used by the tests, the demo or the default bench.
PATCH=""
if [ $# -gt 0 ]; then
  [ "$1" = --patch ] && [ -f "${2:-}" ] || { log "usage: $0 [--patch docs/upstream/<change>.patch]"; exit 2; }
  PATCH="$(realpath "$2")"
  STOCK="$(bash "${BASH_SOURCE[0]}")"
  BIN="$CACHE/pulumi-$PULUMI_VERSION-$(basename "$PATCH" .patch)/bin"
fi

if [ -z "$PATCH" ] && command -v pulumi >/dev/null 2>&1 && command -v pulumi-language-nodejs >/dev/null 2>&1 \
   && [ -z "${SFTPJAIL_FORCE_BUILD:-}" ] && [ "$(dirname "$(command -v pulumi)")" != "$BIN" ]; then
  dirname "$(command -v pulumi)"
  exit 0
fi

mkdir -p "$BIN"
# GOTOOLCHAIN=auto: a Go older than the modules need fetches the right toolchain from the Go module proxy.
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=auto
LDFLAGS="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"

# Builds the CLI at $PULUMI_VERSION into $1/pulumi from the Go module proxy. With $2, a diff of the pulumi repository
# (docs/upstream/), from a copy of its pkg/v3 module with that diff applied: `--patch` below.
build_cli() {
  local out="$1" patch="${2:-}" work src
  command -v go >/dev/null || { log "Go is required to build the Pulumi CLI (apt-get install golang or use the machine's Go)"; exit 1; }
  work="$(mktemp -d)"
  cat >"$work/go.mod" <<MOD
module sftpjail.local/pulumicli

go 1.24

require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
  cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
GO
  if [ -n "$patch" ]; then
    src="$(cd "$work" && go mod download -json "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$src/backend" ] || { log "no pkg/v3 source for $PULUMI_VERSION"; exit 1; }
    cp -r "$src" "$work/pkg"
    chmod -R u+w "$work/pkg"
    # The diff names files as the pulumi repository does (a/pkg/...): applied in $work, where pkg/ is that module.
    (cd "$work" && GIT_CEILING_DIRECTORIES="$(dirname "$work")" git apply -p1 "$patch") || { log "$patch does not apply to pulumi $PULUMI_VERSION"; exit 1; }
    echo "replace github.com/pulumi/pulumi/pkg/v3 => ./pkg" >>"$work/go.mod"
  fi
  (cd "$work" && go mod tidy >&2 && go build -trimpath -tags osusergo,grpcnotrace -ldflags "$LDFLAGS" \
      -o "$out/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2)
  mv "$out/pulumi.tmp" "$out/pulumi"
  rm -rf "$work"
}

if [ -n "$PATCH" ]; then
  stamp="$BIN/.patch.$(sha256sum <"$PATCH" | cut -c1-16)"
  if [ ! -x "$BIN/pulumi" ] || [ ! -e "$stamp" ]; then
    log "building pulumi $PULUMI_VERSION with $(basename "$PATCH")"
    build_cli "$BIN" "$PATCH"
    rm -f "$BIN"/.patch.*
    touch "$stamp"
  fi
  # The language hosts and the dynamic-provider launcher: the usual ones (the engine looks next to its own binary).
  for f in "$STOCK"/*; do
    [ "$(basename "$f")" = pulumi ] || ln -sfn "$f" "$BIN/$(basename "$f")"
  done
  echo "$BIN"
  exit 0
fi

if [ ! -x "$BIN/pulumi" ]; then
  log "building pulumi $PULUMI_VERSION from the Go module proxy (once per machine; takes minutes)"
  build_cli "$BIN"
fi

# Rebuilt when scripts/langhost/runtime_options.go or this script changes (their hash is the stamp), so a machine that
# built the host before gets the current one.
LANGHOST_STAMP="$BIN/.pulumi-language-nodejs.$(cat "$ROOT/scripts/langhost/runtime_options.go" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
if [ ! -x "$BIN/pulumi-language-nodejs" ] || [ ! -e "$LANGHOST_STAMP" ]; then
  log "building pulumi-language-nodejs from sdk $LANGHOST_SDK_VERSION"
  work="$(mktemp -d)"
  # sdk/v3 carries a replace directive, so `go install pkg@version` refuses it: build from a module of our own, which
  # holds a copy of the host's package plus scripts/langhost/runtime_options.go (Pulumi.yaml's runtime options).
  cat >"$work/go.mod" <<MOD
module sftpjail.local/langhost

go 1.24

require github.com/pulumi/pulumi/sdk/v3 $LANGHOST_SDK_VERSION

replace golang.org/x/text => golang.org/x/text v0.3.6
MOD
  src="$(cd "$work" && go mod download -json "github.com/pulumi/pulumi/sdk/v3@$LANGHOST_SDK_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/nodejs/cmd/pulumi-language-nodejs"
  [ -f "$src/main.go" ] || { log "no Node.js language host source in the sdk module ($src)"; exit 1; }
  for f in "$src"/*.go; do
    case "$f" in *_test.go) ;; *) install -m 0644 "$f" "$work/" ;; esac
  done
  install -m 0644 "$ROOT/scripts/langhost/runtime_options.go" "$work/"
  # Run takes the request's runtime options (runtime_options.go says why); without that line the build would drop
  # them again, so a source the sed no longer matches stops the build
  sed -i 's|^func (host \*nodeLanguageHost) Run(ctx context.Context, req \*pulumirpc.RunRequest) (\*pulumirpc.RunResponse, error) {$|&\n\thost = host.withRunOptions(req)|' "$work/main.go"
  grep -q '^	host = host.withRunOptions(req)$' "$work/main.go" || { log "could not patch the language host's Run"; exit 1; }
  (cd "$work" && go mod tidy >&2 && go build -trimpath -ldflags "-s -w" -o "$BIN/pulumi-language-nodejs.$$" . >&2)
  mv "$BIN/pulumi-language-nodejs.$$" "$BIN/pulumi-language-nodejs"
  rm -f "$BIN"/.pulumi-language-nodejs.*
  touch "$LANGHOST_STAMP"
  rm -rf "$work"
fi

# The dynamic-provider launcher: a small sh script inside the @pulumi/pulumi npm package that official Pulumi installs
# also ship next to the `pulumi` binary, where the engine looks for bundled plugins. Found on PATH anywhere else, it
# works but every run warns "using pulumi-resource-pulumi-nodejs from $PATH" (3 times per preview); and `pulumi
# plugin install` refuses it ("bundled with Pulumi"). It resolves @pulumi/pulumi from the project it is started in, so
# one copy serves every project. Copied then renamed: idempotent and safe when several setups run at once.
launcher="$BIN/pulumi-resource-pulumi-nodejs"
if [ ! -x "$launcher" ]; then
  cp "$ROOT/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs" "$launcher.tmp.$$"
  chmod 755 "$launcher.tmp.$$"
  mv -f "$launcher.tmp.$$" "$launcher"
fi

# Python and YAML language hosts and Python's Pulumi SDK, for programs that use the sftpjail provider plugin
# (provider/plugin). Built once per machine like the CLI; a lock keeps parallel first runs from building twice.
PY_SDK_VERSION="${SFTPJAIL_PULUMI_PYTHON_VERSION:-3.272.0}"
YAML_VERSION="${SFTPJAIL_PULUMI_YAML_VERSION:-v1.25.0}"
PYENV="$CACHE/python-pulumi-$PY_SDK_VERSION"
if [ ! -x "$BIN/pulumi-language-python" ] || [ ! -x "$BIN/pulumi-language-yaml" ] || [ ! -f "$PYENV/.done" ] \
   || [ ! -x "$BIN/sftpjail-gen-sdk" ]; then
  exec 9>"$CACHE/.setup-langhosts.lock"
  flock 9
  if [ ! -x "$BIN/pulumi-language-python" ]; then
    log "building pulumi-language-python from sdk $LANGHOST_SDK_VERSION"
    work="$(mktemp -d)"
    # Same module as the Node.js host: v3.68.0 is the last sdk/v3 release that carries the Python host inside it.
    cat >"$work/go.mod" <<MOD
module sftpjail.local/langhostpy

go 1.24

require github.com/pulumi/pulumi/sdk/v3 $LANGHOST_SDK_VERSION

replace golang.org/x/text => golang.org/x/text v0.3.6
MOD
    cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python"
GO
    (cd "$work" && go mod tidy >&2 && go build -trimpath -ldflags "-s -w" -o "$BIN/pulumi-language-python.$$" \
        github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python >&2 \
      && install -m 0755 "$(go env GOMODCACHE)/github.com/pulumi/pulumi/sdk/v3@$LANGHOST_SDK_VERSION/python/cmd/pulumi-language-python-exec" \
           "$BIN/pulumi-language-python-exec")
    mv "$BIN/pulumi-language-python.$$" "$BIN/pulumi-language-python"
    rm -rf "$work"
  fi
  if [ ! -x "$BIN/pulumi-language-yaml" ]; then
    log "building pulumi-language-yaml $YAML_VERSION from the Go module proxy"
    GOBIN="$BIN/.yaml.$$" go install -trimpath -ldflags "-s -w" "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$YAML_VERSION" >&2
    mv "$BIN/.yaml.$$/pulumi-language-yaml" "$BIN/pulumi-language-yaml"
    rm -rf "$BIN/.yaml.$$"
  fi
  if [ ! -x "$BIN/sftpjail-gen-sdk" ]; then
    # `pulumi package gen-sdk` asks the language host to generate, and the v3.68.0 hosts predate that call: this runs
    # the CLI's own generators (pkg/codegen at the CLI's version) directly. Source: scripts/gen-sdk/main.go.
    log "building sftpjail-gen-sdk from pkg $PULUMI_VERSION"
    work="$(mktemp -d)"
    cp "$ROOT/scripts/gen-sdk/main.go" "$work/"
    cat >"$work/go.mod" <<MOD
module sftpjail.local/gensdk

go 1.24

require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
    (cd "$work" && go mod tidy >&2 && go build -trimpath -ldflags "-s -w" -o "$BIN/sftpjail-gen-sdk.$$" . >&2)
    mv "$BIN/sftpjail-gen-sdk.$$" "$BIN/sftpjail-gen-sdk"
    rm -rf "$work"
  fi
  if [ ! -f "$PYENV/.done" ]; then
    command -v python3 >/dev/null || { log "python3 is required for Python programs (apt-get install python3-venv)"; exit 1; }
    log "installing Python's pulumi $PY_SDK_VERSION from PyPI into $PYENV"
    rm -rf "$PYENV"
    python3 -m venv "$PYENV" >&2
    "$PYENV/bin/pip" install -q --disable-pip-version-check "pulumi==$PY_SDK_VERSION" build wheel >&2
    touch "$PYENV/.done"
  fi
  exec 9>&-
fi
# Where scripts and tests find that Python environment (next to the CLI, whose directory they already know).
[ "$(readlink "$BIN/python-venv" 2>/dev/null)" = "$PYENV" ] || ln -sfn "$PYENV" "$BIN/python-venv"

echo "$BIN"
