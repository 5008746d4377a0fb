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
  hash=$(cd "$src" && find . -type f ! -path './bin/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
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
      export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=${CGO_ENABLED:-0} GOTOOLCHAIN=local
      bash ./build.sh "$tmp/bin" >"$tmp/build.log" 2>&1
    ) || { echo "tools/ensure.sh: building $family failed; last lines of $tmp/build.log:" >&2; tail -40 "$tmp/build.log" >&2; exit 1; }
    echo "$(( $(date +%s) - start ))" >"$tmp/build-seconds"
    touch "$tmp/.complete"
    rm -rf "$out" && mv "$tmp" "$out"
    echo "tools/ensure.sh: built $family in $(cat "$out/build-seconds")s" >&2
  fi
  echo "$out/bin"
}

main "$@"
