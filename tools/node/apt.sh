#!/usr/bin/env bash
# Installs the Debian packages the real node needs, when missing (CI machines
# start fresh): the CNI plugins, iptables/nftables/conntrack (the bridge
# plugin's ipMasq and portmap exec iptables; kube-proxy's nftables mode execs
# nft), the local registry (docker-registry), skopeo (pushes our OCI layouts by
# digest) and libseccomp-dev + pkg-config (runc is built with cgo and seccomp).
# Runs apt-get update at most once, only when something is missing. Needs root.
set -euo pipefail

main() {
  local pkgs=(containernetworking-plugins iptables nftables conntrack docker-registry skopeo libseccomp-dev pkg-config iproute2 util-linux)
  local missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "tools/node/apt.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # One lock for concurrent callers (two test runs starting together).
  exec 8>/var/lib/apt/.flight-operator-node.lock
  flock 8
  apt-get update -qq
  # --no-install-recommends: docker-registry would otherwise pull in its
  # systemd unit helpers; we start it ourselves inside the node's netns.
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

main "$@"
