#!/usr/bin/env bash
# Builds OLM's olm and catalog operators into "$1", copies OLM's CRDs
# (deploy/chart/crds/ of the module) into "$1/crds/" and OLM's whole upstream
# Helm chart (deploy/chart/) into "$1/chart/": the Pulumi `olm` stack installs
# OLM from it, offline. Called by
# tools/ensure.sh (GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local).
#
# As upstream's Makefile: CGO off, tag json1, version stamped into
# pkg/version. Apply the CRDs server-side: the ClusterServiceVersion CRD is
# too large for client-side apply's last-applied annotation.
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out/crds"
cd "$(dirname "$0")"

mod=github.com/operator-framework/operator-lifecycle-manager
version=$(go list -m -f '{{.Version}}' $mod)
moddir=$(go list -m -f '{{.Dir}}' $mod)
[ -d "$moddir" ] || { go mod download $mod; moddir=$(go list -m -f '{{.Dir}}' $mod); }
commit=$(go mod download -json $mod@"$version" | sed -n 's/.*"Hash": "\([0-9a-f]*\)".*/\1/p' | head -1)
registry_version=$(go list -m -f '{{.Version}}' github.com/operator-framework/operator-registry)
api_version=$(go list -m -f '{{.Version}}' github.com/operator-framework/api)
ldflags="-s -w -X '$mod/pkg/version.OLMVersion=$version' -X '$mod/pkg/version.GitCommit=${commit:-unknown}'"

echo "build.sh: $mod $version ($commit), $(go version), CGO_ENABLED=${CGO_ENABLED:-}"
# One go build for both, so the packages they share compile once.
go build -trimpath -tags json1 -ldflags "$ldflags" -o "$out/" $mod/cmd/olm $mod/cmd/catalog

cp "$moddir"/deploy/chart/crds/*.yaml "$out/crds/"
cp -r "$moddir"/deploy/chart "$out/chart"
chmod -R u+w "$out/crds" "$out/chart"

"$out/olm" --version
"$out/catalog" --version
printf '%s\n' "operator-lifecycle-manager=$version" "operator-registry=$registry_version" "operator-framework/api=$api_version" >"$out/VERSIONS"
ls -l "$out" "$out/crds"
