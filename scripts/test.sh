#!/usr/bin/env bash
# `npm test`: everything, in the order that fails fastest. Run through npm so
# node_modules/.bin (and the project's Node 24) come first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== type check"
tsc -p tsconfig.json
echo "== lint"
eslint --max-warnings 0 .
echo "== upstream tools (built from Go modules on first use, then cached)"
# node: the real node's kubelet, kube-proxy, containerd, runc, crictl, CoreDNS
# (its build.sh installs the Debian packages it needs first: tools/node/apt.sh).
bash tools/node/apt.sh
mkdir -p .bench && rm -f .bench/jest-results*.json .bench/tools-background.*
full=$([ $# -eq 0 ] && echo yes || echo no)
# The families only a few test files need (Pulumi: test/pulumi, test/package;
# helm: test/helm; node: the real-node project) are the slowest to build cold.
# A full run builds them in the background, one after the other once k8s is
# built (kubelet and kube-proxy reuse its packages from the Go build cache), at
# the lowest CPU priority, while the other families build and most tests run;
# only the files that need them wait (the second jest run below).
late=(pulumi helm node)
late_tests='/test/(pulumi|package|helm)/'
background=
for family in k8s kwok opm bundle-validate olm olmv1 promtool prometheus-crds etcd "${late[@]}"; do
  if [ "$full" = yes ] && [[ " ${late[*]} " == *" $family "* ]]; then continue; fi
  echo "$family: $(tools/ensure.sh "$family")"
  if [ "$family" = k8s ] && [ "$full" = yes ]; then
    (for f in "${late[@]}"; do echo "$f: $(nice -n 19 tools/ensure.sh "$f")" || exit 1; done) >.bench/tools-background.out 2>.bench/tools-background.log &
    background=$!
  fi
done
echo "== the images the real-node tests push and load (all four into dist/images; infra/*-image.json untouched)"
npm run -s image -- --no-lock

summary() {
  node -e '
    const r = require(process.argv[1]);
    console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  ' "$PWD/$1" || true
}
jest_run() { # output file, then jest's arguments
  local out=$1; shift
  NODE_OPTIONS=--experimental-vm-modules jest --ci --json --outputFile="$out" "$@"
}
set +e
if [ "$full" = no ]; then
  echo "== jest $*"
  jest_run .bench/jest-results.json "$@"
  status=$?
  summary .bench/jest-results.json
  exit $status
fi
echo "== jest: unit, and integration against a real control plane but for $late_tests (${late[*]} build meanwhile)"
jest_run .bench/jest-results.json --selectProjects unit integration --testPathIgnorePatterns /node_modules/ /test/real-node/ "$late_tests"
status=$?
echo "== jest: $late_tests and the real-node project (one real node: containerd, kubelet, real containers)"
wait "$background"
built=$?
cat .bench/tools-background.log >&2
cat .bench/tools-background.out
if [ $built -ne 0 ]; then
  echo "tools: a background build failed (exit $built)"
  status=1
else
  jest_run .bench/jest-results-late.json --selectProjects integration real-node --testPathPatterns "$late_tests" /test/real-node/
  late_status=$?
  [ $late_status -ne 0 ] && status=$late_status
fi
# Plain closing lines that CI reads whatever the runner.
summary .bench/jest-results.json
[ -f .bench/jest-results-late.json ] && summary .bench/jest-results-late.json
exit $status
