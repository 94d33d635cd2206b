#!/usr/bin/env bash
# Builds actionlint, the GitHub workflow linter, from its Go module into the cache folder that `make pulumi`
# uses (tools/pulumi-cli/build.sh), outside the repository. tests/workflows runs it on .github/.
#
#   tools/actionlint/build.sh            build when needed (idempotent: instant when the cache is warm)
#   tools/actionlint/build.sh --bin-dir  print the folder actionlint is installed in, build nothing
set -euo pipefail

ACTIONLINT_VERSION=1.7.12
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The cache folder is the one tools/pulumi-cli/build.sh builds the CLI into (it owns where that is).
CACHE_ROOT="$(dirname "$(dirname "$("$HERE/../pulumi-cli/build.sh" --bin-dir)")")"
BIN_DIR="$CACHE_ROOT/actionlint-v$ACTIONLINT_VERSION/bin"

[[ "${1:-}" == "--bin-dir" ]] && { echo "$BIN_DIR"; exit 0; }

say() { echo "actionlint build: $*"; }

if [[ -x "$BIN_DIR/actionlint" && "$("$BIN_DIR/actionlint" -version 2>/dev/null | head -n 1)" == "v$ACTIONLINT_VERSION" ]]; then
    say "actionlint v$ACTIONLINT_VERSION already built in $BIN_DIR"
    exit 0
fi
command -v go >/dev/null || { say "needs Go to build actionlint" >&2; exit 1; }
# shellcheck source=tools/go-checked.sh
source "$HERE/../go-checked.sh"  # every module checked against the Go checksum database
mkdir -p "$BIN_DIR"
started=$SECONDS
work="$(mktemp -d "$CACHE_ROOT/.actionlint-build.XXXXXX")"  # beside BIN_DIR, so the mv below is a rename
trap 'rm -rf "$work"' EXIT
# actionlint's go.mod has no replace lines, so `go install …@version` builds the release as it is; it reads its
# version from the module's build info.
GOBIN="$work" go install -trimpath "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
mv "$work/actionlint" "$BIN_DIR/actionlint"
say "built v$ACTIONLINT_VERSION in $((SECONDS - started)) s into $BIN_DIR"
