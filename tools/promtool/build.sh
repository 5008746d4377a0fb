#!/usr/bin/env bash
# Builds Prometheus's promtool into "$1": the tests run `promtool check rules`
# and `promtool test rules` on the PrometheusRule the constructs synthesize.
# Called by tools/ensure.sh (GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
# GOTOOLCHAIN=local).
#
# -tags remove_all_sd: Prometheus's plugins/ package registers every service
# discovery behind `//go:build !remove_all_sd || enable_<name>_sd`; with the
# tag only file and http discovery (plugins/minimum.go) and kubernetes (which
# cmd/promtool imports itself) are compiled in. Rule checks and rule unit
# tests use no service discovery. It drops ~250 of ~1360 packages
# (`go list -deps`), AWS/Azure/GCE/... SDKs among them.
# Version stamped as upstream's .promu.yml does (prometheus/common/version).
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out"
cd "$(dirname "$0")"

mod=github.com/prometheus/prometheus
modversion=$(go list -m -f '{{.Version}}' $mod)
moddir=$(go list -m -f '{{.Dir}}' $mod)
[ -d "$moddir" ] || { go mod download $mod; moddir=$(go list -m -f '{{.Dir}}' $mod); }
version=$(cat "$moddir/VERSION")
v=github.com/prometheus/common/version
ldflags="-s -w -X $v.Version=$version -X $v.Revision=$mod@$modversion -X $v.Branch=release -X $v.BuildUser=flight-operator -X $v.BuildDate=unknown"

echo "build.sh: $mod $modversion (Prometheus $version), $(go version)"
go build -trimpath -tags remove_all_sd -ldflags "$ldflags" -o "$out/" $mod/cmd/promtool

"$out/promtool" --version
printf '%s\n' "prometheus=$version ($mod@$modversion)" >"$out/VERSIONS"
ls -l "$out"
