#!/usr/bin/env bash
# Builds one family of upstream Go tools on demand and prints the folder that
# holds its binaries. Families live in tools/<family>/ with a go.mod, go.sum
# and a build.sh that writes binaries into "$1". The result is cached outside
# the clone, keyed by the hash of the family folder, so a warm machine (or CI
# on the same machine) rebuilds nothing.
#
#   tools/ensure.sh k8s        -> prints e.g. ~/.cache/flight-operator/tools/k8s-1a2b3c.../bin
#
# FLIGHT_TOOLS_CACHE overrides the cache root.
set -euo pipefail

# The body is a function, called on the last line: bash reads a script as it
# runs it, so editing this file under a running build would otherwise break it.
main() {
  family=${1:?usage: tools/ensure.sh <family>}
  here=$(cd "$(dirname "$0")" && pwd)
  src="$here/$family"
  [ -f "$src/build.sh" ] || { echo "tools/ensure.sh: no tools/$family/build.sh" >&2; exit 2; }
  cache=${FLIGHT_TOOLS_CACHE:-$HOME/.cache/flight-operator/tools}
  # No DWARF from the compiler: the builds link with -s -w, which drops it
  # anyway; skipping it saved 4% CPU (6% wall) on a cold kwok build.
  gcflags='all=-dwarf=false'
  # Families whose programs only drive the tests (no benchmark measures them)
  # are compiled without optimizations and inlining: about 30% less compile
  # CPU (client-go's clientset and informers: 110 CPU s against 158), for
  # slower code where speed does not matter. The control plane, etcd, kwok
  # and the real node stay optimized.
  case " pulumi helm opm bundle-validate olm olmv1 promtool " in *" $family "*) gcflags+=' -N -l' ;; esac
  hash=$(
    cd "$src"
    find . -type f ! -path './bin/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    # Other compiler flags make other binaries: a family's cache key covers them.
    [ "$gcflags" = 'all=-dwarf=false' ] || echo "gcflags $gcflags"
  )
  hash=$(sha256sum <<<"$hash" | cut -c1-16)
  out="$cache/$family-$hash"
  mkdir -p "$cache"
  # One build per family at a time: a second caller waits, then finds it cached.
  exec 9>"$cache/.$family.lock"
  flock 9
  if [ ! -f "$out/.complete" ]; then
    tmp=$(mktemp -d "$cache/.$family-XXXXXX")
    start=$(date +%s)
    echo "tools/ensure.sh: building $family (cold build; cached afterwards in $out)" >&2
    (
      cd "$src"
      export GOWORK=off GOFLAGS="-mod=mod '-gcflags=$gcflags'" CGO_ENABLED=${CGO_ENABLED:-0} GOTOOLCHAIN=local
      bash ./build.sh "$tmp/bin" >"$tmp/build.log" 2>&1
    ) || { echo "tools/ensure.sh: building $family failed; last lines of $tmp/build.log:" >&2; tail -40 "$tmp/build.log" >&2; exit 1; }
    echo "$(( $(date +%s) - start ))" >"$tmp/build-seconds"
    # CPU seconds (user + system) of the build's processes: what a cold build
    # costs whatever else the machine is doing, unlike the wall seconds.
    # (`times` itself, not in a pipe: a pipe's subshell has no children of its own.)
    times >"$tmp/times"
    tail -1 "$tmp/times" | awk '{ n = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); n += t[1] * 60 + t[2] } printf "%d\n", n }' >"$tmp/build-cpu-seconds"
    rm "$tmp/times"
    touch "$tmp/.complete"
    rm -rf "$out" && mv "$tmp" "$out"
    echo "tools/ensure.sh: built $family in $(cat "$out/build-seconds")s ($(cat "$out/build-cpu-seconds") CPU s)" >&2
  fi
  echo "$out/bin"
}

main "$@"
