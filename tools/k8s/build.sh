#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
# kubectl into "$1". Called by tools/ensure.sh (which sets GOWORK=off,
# GOFLAGS=-mod=mod, CGO_ENABLED=0, GOTOOLCHAIN=local).
#
# One `go build` for all five packages, so the packages they share
# (client-go, apiserver, grpc, ...) compile once.
set -euo pipefail
out=${1:?usage: build.sh <out-dir>}
mkdir -p "$out"
cd "$(dirname "$0")"

k8s_version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
# Release time of the tag, so buildDate is reproducible.
build_date=$(go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
major=${k8s_version#v}; major=${major%%.*}
minor=${k8s_version#v*.}; minor=${minor%%.*}

# What hack/lib/version.sh stamps in a release build. Without it /version
# says v0.0.0 and the emulation/compatibility version falls back to a default.
ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.buildDate=${build_date:-1970-01-01T00:00:00Z}"
done

echo "build.sh: k8s.io/kubernetes $k8s_version, etcd $etcd_version, $(go version)"
go build -trimpath -ldflags "$ldflags" -o "$out/" \
  go.etcd.io/etcd/server/v3 \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl
# go names the binary of go.etcd.io/etcd/server/v3 after "server".
mv "$out/server" "$out/etcd"

"$out/etcd" --version
"$out/kube-apiserver" --version
"$out/kubectl" version --client
printf '%s\n' "k8s=$k8s_version" "etcd=$etcd_version" >"$out/VERSIONS"
ls -l "$out"
