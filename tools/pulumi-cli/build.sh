#!/usr/bin/env bash
# Builds the Pulumi CLI from its Go modules, plus what a Python program needs beside it, into a cache folder
# outside the repository: `make pulumi`. For machines with no Pulumi installer (this repository's CI); a user
# installs Pulumi the usual way instead (README, "Getting the Pulumi CLI").
#
#   tools/pulumi-cli/build.sh            build when needed (idempotent: seconds when the cache is warm)
#   tools/pulumi-cli/build.sh --bin-dir  print the folder the CLI is installed in, build nothing
#   tools/pulumi-cli/build.sh --path     print the PATH the Makefile runs with: $PATH as it is when a supported
#                                        Pulumi is installed, else the cache folder first; build nothing
#
# Every module is checked against the Go checksum database, whatever the caller's Go settings: GOPROXY is
# Google's module proxy with no `direct` fallback, GOSUMDB is sum.golang.org, GOFLAGS is -mod=readonly, and the
# variables that exempt modules from checking (GONOSUMDB, GONOSUMCHECK, GOPRIVATE, GONOPROXY, GOINSECURE) are
# unset. A module that fails its check stops the build (docs/security.md, "What the build trusts").
# Two runs at once take turns (flock on a lock file in the cache folder) and each binary is written to a
# temporary name, then renamed: a reader never sees a partial file.
#
# What goes into the folder:
#   pulumi                          go build of github.com/pulumi/pulumi/pkg/v3/cmd/pulumi at PULUMI_VERSION
#   pulumi-language-python          this project's language host (host/, Go): Pulumi's own host is a Go
#                                   module that is never tagged, so no release of it can be asked for here
#   pulumi-language-python-exec     Pulumi's program runner, from the sdk/v3 module's download (python/cmd)
#   pulumi-resource-pulumi-python   Pulumi's dynamic-provider launcher, from the same download (python/dist)
set -euo pipefail

PULUMI_VERSION=3.276.0
# The oldest CLI this program is tested against: one already on PATH at this version or newer is used as it is.
MIN_SUPPORTED_MINOR=272
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${FLEX_PULUMI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flex-unified-profiles}"
BIN_DIR="$CACHE_ROOT/pulumi-v$PULUMI_VERSION/bin"

if [[ "${1:-}" == "--bin-dir" ]]; then
    echo "$BIN_DIR"
    exit 0
fi

say() { echo "make pulumi: $*"; }

supported_version() {  # $1: output of `pulumi version`, e.g. v3.276.0
    [[ "$1" =~ ^v?3\.([0-9]+)\. ]] && (( BASH_REMATCH[1] >= MIN_SUPPORTED_MINOR ))
}

# A Pulumi installed the usual way (not this cache) with its own Python language host: nothing to do.
path_without_cache="$(tr ':' '\n' <<<"$PATH" | grep -vxF "$BIN_DIR" | paste -sd: -)"
installed="$(PATH="$path_without_cache" command -v pulumi || true)"
version=""
usable_installed=false
if [[ -n "$installed" ]]; then
    version="$("$installed" version 2>/dev/null || true)"
    if supported_version "$version" && PATH="$path_without_cache" command -v pulumi-language-python >/dev/null; then
        usable_installed=true
    fi
fi

if [[ "${1:-}" == "--path" ]]; then
    if $usable_installed; then echo "$PATH"; else echo "$BIN_DIR:$path_without_cache"; fi
    exit 0
fi
if $usable_installed; then
    say "using $installed ($version), already on PATH; nothing to build"
    exit 0
fi
if [[ -n "$installed" ]]; then
    say "ignoring $installed (version '${version:-unknown}'; needs v3.$MIN_SUPPORTED_MINOR or newer with pulumi-language-python)"
fi

command -v go >/dev/null || { say "needs Go to build the CLI (or install Pulumi: README, 'Getting the Pulumi CLI')" >&2; exit 1; }
# shellcheck source=tools/go-checked.sh
source "$HERE/../go-checked.sh"
mkdir -p "$BIN_DIR"
exec 9>"$BIN_DIR/../build.lock"
if ! command -v flock >/dev/null; then
    say "no flock here: a second make pulumi started now would build beside this one (each renames its own file)"
elif ! flock -n 9; then
    say "another make pulumi is building into $BIN_DIR: waiting for it"
    flock 9
fi

if [[ -x "$BIN_DIR/pulumi" && "$("$BIN_DIR/pulumi" version 2>/dev/null)" == "v$PULUMI_VERSION" ]]; then
    say "pulumi v$PULUMI_VERSION already built in $BIN_DIR"
else
    say "building pulumi v$PULUMI_VERSION from its Go modules (a cold build takes several minutes)"
    started=$SECONDS
    work="$(mktemp -d)"
    partial="$(mktemp "$BIN_DIR/.pulumi.XXXXXX")"  # beside the binary, so the mv below is an atomic rename
    trap 'rm -rf "$work" "$partial"' EXIT
    # A throwaway module: `go install …@version` refuses pkg/v3 because its go.mod has replace lines.
    (
        cd "$work"
        go mod init flex-unified-profiles/pulumi-cli-build >/dev/null 2>&1
        go get "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
        printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' >tools.go
        go mod tidy
        # Without the version stamp `pulumi version` prints nothing and the Automation API refuses the CLI.
        go build -trimpath \
            -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
            -o "$partial" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    )
    chmod 0755 "$partial"
    mv -f "$partial" "$BIN_DIR/pulumi"
    say "built in $((SECONDS - started)) s"
fi

# The Python scripts are small: refresh them on every run.
sdk_dir="$(cd /tmp && go mod download -json "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$BIN_DIR/pulumi-language-python-exec"
install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$BIN_DIR/pulumi-resource-pulumi-python"
# The language host (host/): built on every run, so a change to it takes effect at once (Go's build cache makes
# an unchanged one a second's work).
host_partial="$(mktemp "$BIN_DIR/.pulumi-language-python.XXXXXX")"
(cd "$HERE/host" && go build -trimpath -ldflags "-s -w" -o "$host_partial" .)
chmod 0755 "$host_partial"
mv -f "$host_partial" "$BIN_DIR/pulumi-language-python"
rm -f "$BIN_DIR/language_host.py"
say "ready: $("$BIN_DIR/pulumi" version) in $BIN_DIR"
