#!/usr/bin/env bash
# Builds the real node's binaries into "$1": kubelet and kube-proxy (the
# control plane's k8s.io/kubernetes version), containerd 2.x with its runc
# shim and ctr, runc (cgo + libseccomp), crictl, CoreDNS (the plugins the
# node's Corefile uses: coredns/main.go) and the pause
# program of the sandbox image (static C from the k8s module).
# Called by tools/ensure.sh (GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
# GOTOOLCHAIN=local). Debian packages first (tools/node/apt.sh), since runc
# links libseccomp. Each part's seconds go to "$1/part-seconds".
set -euo pipefail

main() {
  out=${1:?usage: build.sh <out-dir>}
  mkdir -p "$out"
  cd "$(dirname "$0")"
  here=$(pwd)
  bash ./apt.sh
  : >"$out/part-seconds"

  # Smallest first; kube last, when tools/k8s (built by the same callers) has
  # usually filled the shared Go build cache with most of its packages.
  part pause build_pause
  part runc build_runc
  part crictl build_crictl
  part containerd build_containerd
  part coredns build_coredns
  part kube build_kube

  "$out/kubelet" --version
  "$out/containerd" --version
  "$out/runc" --version
  "$out/crictl" --version
  "$out/coredns" -version
  {
    echo "k8s=$(cd kube && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
    echo "containerd=$(cd containerd && go list -m -f '{{.Version}}' github.com/containerd/containerd/v2)"
    echo "runc=$(cd runc && go list -m -f '{{.Version}}' github.com/opencontainers/runc)"
    echo "crictl=$(cd crictl && go list -m -f '{{.Version}}' sigs.k8s.io/cri-tools)"
    echo "coredns=$(cd coredns && go list -m -f '{{.Version}}' github.com/coredns/coredns)"
  } >"$out/VERSIONS"
  cat "$out/part-seconds"
  ls -l "$out"
}

part() {
  local name=$1 fn=$2 start
  start=$(date +%s)
  echo "build.sh: == $name"
  (cd "$here/$([ "$name" = pause ] && echo kube || echo "$name")" && "$fn")
  echo "$name $(( $(date +%s) - start ))" >>"$out/part-seconds"
}

modver() { go list -m -f '{{.Version}}' "$1"; }

build_pause() {
  # The sandbox image's program, from the same k8s.io/kubernetes release.
  local dir tag
  dir=$(go list -m -f '{{.Dir}}' k8s.io/kubernetes)
  [ -d "$dir" ] || { go mod download k8s.io/kubernetes; dir=$(go list -m -f '{{.Dir}}' k8s.io/kubernetes); }
  tag=$(sed -n 's/^TAG ?= *//p' "$dir/build/pause/Makefile")
  gcc -Os -Wall -Werror -static -DVERSION="v$tag-flight" -o "$out/pause" "$dir/build/pause/linux/pause.c"
  strip "$out/pause"
}

build_runc() {
  local v
  v=$(modver github.com/opencontainers/runc)
  CGO_ENABLED=1 go build -trimpath -tags seccomp -ldflags "-s -w -X main.version=${v#v}" -o "$out/runc" github.com/opencontainers/runc
}

build_crictl() {
  go build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$(modver sigs.k8s.io/cri-tools)" \
    -o "$out/crictl" sigs.k8s.io/cri-tools/cmd/crictl
}

build_containerd() {
  local v m=github.com/containerd/containerd/v2
  v=$(modver $m)
  go build -trimpath -tags "no_btrfs no_devmapper no_zfs" \
    -ldflags "-s -w -X $m/version.Version=$v -X $m/version.Package=$m" \
    -o "$out/" $m/cmd/containerd $m/cmd/containerd-shim-runc-v2 $m/cmd/ctr
}

build_coredns() {
  # coredns/main.go: CoreDNS with the plugins the node's Corefile uses, not all of them.
  go build -trimpath -ldflags "-s -w" -o "$out/coredns" .
}

build_kube() {
  # The same stamping as tools/k8s/build.sh (hack/lib/version.sh's).
  local v major minor date ldflags="-s -w"
  v=$(modver k8s.io/kubernetes)
  date=$(go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.buildDate=${date:-1970-01-01T00:00:00Z}"
  done
  go build -trimpath -ldflags "$ldflags" -o "$out/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
}

main "$@"
