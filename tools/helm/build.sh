#!/usr/bin/env bash
# Builds helm from helm.sh/helm/v4 into "$1" with the ldflags of upstream's
# Makefile for a tagged release (version set, empty metadata).
# Called by tools/ensure.sh (GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
# GOTOOLCHAIN=local).
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out"
cd "$(dirname "$0")"

mod=helm.sh/helm/v4
version=$(go list -m -f '{{.Version}}' $mod)
commit=$(go mod download -json $mod@"$version" | sed -n 's/.*"Hash": "\([0-9a-f]*\)".*/\1/p' | head -1)
ldflags="-s -w -X $mod/internal/version.version=$version -X $mod/internal/version.metadata="
ldflags+=" -X $mod/internal/version.gitCommit=${commit:-unknown} -X $mod/internal/version.gitTreeState=clean"

echo "build.sh: $mod $version ($commit), $(go version), CGO_ENABLED=${CGO_ENABLED:-}"
go build -trimpath -ldflags "$ldflags" -o "$out/helm" $mod/cmd/helm
"$out/helm" version
printf '%s\n' "helm=$version" >"$out/VERSIONS"
ls -l "$out"
