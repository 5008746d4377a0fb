#!/usr/bin/env bash
# Builds OLM v1's operator-controller and catalogd into "$1" and copies their
# CRDs (config/base/*/crd/bases/ of the module: ClusterCatalog and
# ClusterExtension) into "$1/crds/", and upstream's kustomize base (config/)
# into "$1/config/" for reference (RBAC, flags of the Deployments). Called by
# tools/ensure.sh (GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local).
#
# As upstream's Makefile and .goreleaser.yml: CGO off, tag
# containers_image_openpgp (containers/image's pure-Go signature code instead
# of gpgme, which needs cgo and libgpgme: a build without the tag fails in
# containers/image/v5/signature), version stamped into
# internal/shared/version. The proxy serves v1.2.0 of the module only.
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out/crds"
cd "$(dirname "$0")"

mod=github.com/operator-framework/operator-controller
version=$(go list -m -f '{{.Version}}' $mod)
moddir=$(go list -m -f '{{.Dir}}' $mod)
[ -d "$moddir" ] || { go mod download $mod; moddir=$(go list -m -f '{{.Dir}}' $mod); }
ldflags="-s -w -X '$mod/internal/shared/version.version=$version'"

echo "build.sh: $mod $version, $(go version), CGO_ENABLED=${CGO_ENABLED:-}"
# One go build for both, so the packages they share compile once.
go build -trimpath -tags containers_image_openpgp -ldflags "$ldflags" -o "$out/" $mod/cmd/operator-controller $mod/cmd/catalogd

cp "$moddir"/config/base/catalogd/crd/bases/*.yaml "$moddir"/config/base/operator-controller/crd/bases/*.yaml "$out/crds/"
cp -r "$moddir"/config "$out/config"
chmod -R u+w "$out/crds" "$out/config"

"$out/operator-controller" version
"$out/catalogd" version
printf '%s\n' "operator-controller=$version" >"$out/VERSIONS"
ls -l "$out" "$out/crds"
