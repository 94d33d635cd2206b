# Sourced by tools/*/build.sh before any `go` command: every module is fetched from Google's module proxy and
# checked against the Go checksum database, whatever the caller's environment or `go env -w` settings say.
# A module that is not in the database, or does not match it, stops the build: nothing falls back to fetching
# from the origin server (`direct`), and nothing is exempted from the check.

# `go env -w` settings (the user's go/env file) are not read: an empty variable below would fall back to them.
export GOENV=off
# proxy.golang.org serves every public module; `direct` would fetch from the origin, unchecked by the proxy.
export GOPROXY=https://proxy.golang.org
export GOSUMDB=sum.golang.org
# Builds use go.mod and go.sum as they are (`go get` and `go mod tidy` still write them, as they must).
export GOFLAGS=-mod=readonly
# Each of these exempts matching modules from the checksum database, or allows plain http.
unset GONOSUMDB GONOSUMCHECK GOPRIVATE GONOPROXY GOINSECURE
# The Go installed here builds: no other toolchain is downloaded and run because a module asks for a newer one.
export GOTOOLCHAIN=local
