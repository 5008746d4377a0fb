#!/usr/bin/env bash
# Builds kwok (fake nodes: it plays the kubelet's part in the API so that
# Deployments become Available) into "$1", plus the Stage objects it needs.
# Called by tools/ensure.sh (GOWORK=off, GOFLAGS=-mod=mod, CGO_ENABLED=0).
#
# The plain kwok binary exits "no stages found" unless its --config holds
# Stage objects. They ship in the module's kustomize/stage directory; we copy
# the ones a single fast node needs into "$1/stages/" at build time and join
# them into "$1/kwok-stages.yaml", which the launcher passes as --config.
set -euo pipefail
out=${1:?usage: build.sh <out-dir>}
mkdir -p "$out/stages"
cd "$(dirname "$0")"

version=$(go list -m -f '{{.Version}}' sigs.k8s.io/kwok)
moddir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
[ -d "$moddir" ] || { go mod download sigs.k8s.io/kwok; moddir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok); }

echo "build.sh: sigs.k8s.io/kwok $version, $(go version)"
go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$version" -o "$out/" sigs.k8s.io/kwok/cmd/kwok

stages=(
  node/fast/node-initialize.yaml
  node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml
  pod/fast/pod-complete.yaml
  pod/fast/pod-delete.yaml
)
: >"$out/kwok-stages.yaml"
for s in "${stages[@]}"; do
  src="$moddir/kustomize/stage/$s"
  [ -f "$src" ] || { echo "build.sh: $s is missing from sigs.k8s.io/kwok@$version" >&2; exit 1; }
  install -m 0644 "$src" "$out/stages/$(basename "$s")"
  { echo "---"; cat "$src"; } >>"$out/kwok-stages.yaml"
done

"$out/kwok" --version
printf '%s\n' "kwok=$version" >"$out/VERSIONS"
ls -l "$out" "$out/stages"
