#!/usr/bin/env bash
# Builds etcdctl and etcdutl (take and restore etcd snapshots, for the
# backup/restore tests) into "$1", at the etcd version tools/k8s builds the
# server from (v3.6.8), so the snapshot format is the server's own. Called by
# tools/ensure.sh (GOWORK=off, GOFLAGS=-mod=mod, CGO_ENABLED=0). A family of
# its own: adding them to tools/k8s would change that folder's hash and
# rebuild every Kubernetes component on every machine.
set -euo pipefail
out=${1:?usage: build.sh <out-dir>}
mkdir -p "$out"
cd "$(dirname "$0")"

version=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/etcdctl/v3)
echo "build.sh: go.etcd.io/etcd/etcdctl/v3 and etcdutl/v3 $version, $(go version)"
go build -trimpath -ldflags "-s -w" -o "$out/" go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
# go names the binaries after the last path element that is not a major version: "etcdctl", "etcdutl".
"$out/etcdctl" version
"$out/etcdutl" version
printf '%s\n' "etcd=$version" >"$out/VERSIONS"
ls -l "$out"
