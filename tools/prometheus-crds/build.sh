#!/usr/bin/env bash
# Copies the prometheus-operator CRDs (monitoring.coreos.com/v1:
# ServiceMonitor, PrometheusRule, ...) from its Go module's
# example/prometheus-operator-crd/ into "$1/crds/". Tests install them into the
# test cluster so the synthesized ServiceMonitor and PrometheusRule are checked
# by a real API server against upstream's schemas. Nothing is compiled.
# Called by tools/ensure.sh (GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=local).
#
# `go mod download` checks the module zip against go.sum. Apply the CRDs
# server-side: some are too large for client-side apply's annotation.
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out/crds"
cd "$(dirname "$0")"

mod=github.com/prometheus-operator/prometheus-operator
version=$(sed -n "s#^require $mod \(v[^ ]*\)\$#\1#p" go.mod)
[ -n "$version" ] || { echo "build.sh: no 'require $mod vX' line in go.mod" >&2; exit 1; }
moddir=$(go mod download -json "$mod@$version" | sed -n 's/.*"Dir": "\(.*\)",$/\1/p')
[ -d "$moddir/example/prometheus-operator-crd" ] || { echo "build.sh: $mod@$version has no example/prometheus-operator-crd" >&2; exit 1; }

echo "build.sh: $mod $version"
cp "$moddir"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml "$out/crds/"
chmod -R u+w "$out/crds"
printf '%s\n' "prometheus-operator=$version" >"$out/VERSIONS"
ls -l "$out/crds"
