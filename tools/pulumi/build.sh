#!/usr/bin/env bash
# Builds the Pulumi toolchain into "$1": the CLI/engine (pulumi/pkg/v3
# cmd/pulumi), the Kubernetes provider (pulumi-kubernetes/provider/v4, as
# pulumi-resource-kubernetes) and our Node.js language host
# (cmd/pulumi-language-nodejs, see its main.go for why it exists). Called by
# tools/ensure.sh (GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local).
#
# The CLI and the language host are one module and one `go build`; the
# provider is a module of its own (provider/go.mod: it needs pulumi pkg/v3
# v3.215.0 and does not compile against v3.259.0). The go build cache shares
# the packages the two graphs have in common.
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out"
cd "$(dirname "$0")"
# The checksum database answers 404 for the provider's pseudo-version (and a
# few of its pulumi dependencies) while the proxy serves them; go.sum pins them.
export GONOSUMDB=github.com/pulumi

# The provider's main embeds generated files: build from a copy so the
# family folder (whose hash keys the cache) stays as committed.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r . "$work/src"
cd "$work/src"

provider_mod=github.com/pulumi/pulumi-kubernetes/provider/v4
provider_version=4.25.0 # the module's pseudo-version is the v4.25.0 tag's commit
pulumi_version=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)
provider_dir=$(cd provider && go list -m -f '{{.Dir}}' $provider_mod)
[ -d "$provider_dir" ] || { (cd provider && go mod download $provider_mod); provider_dir=$(cd provider && go list -m -f '{{.Dir}}' $provider_mod); }

echo "build.sh: pulumi $pulumi_version, kubernetes provider $provider_version ($(cd provider && go list -m -f '{{.Version}}' $provider_mod)), $(go version)"
go run ./internal/genschema "$provider_dir/cmd/pulumi-resource-kubernetes" "$provider_version" provider

ldflags="-s -w"
ldflags+=" -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pulumi_version"
ldflags+=" -X main.version=${pulumi_version#v}"
go build -trimpath -ldflags "$ldflags" -o "$out/" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ./cmd/pulumi-language-nodejs
(cd provider && go build -trimpath -ldflags "-s -w -X $provider_mod/pkg/version.Version=$provider_version" -o "$out/pulumi-resource-kubernetes" .)

"$out/pulumi" version
printf '%s\n' "pulumi=$pulumi_version" "pulumi-kubernetes=$provider_version" >"$out/VERSIONS"
ls -l "$out"
