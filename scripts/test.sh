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
for family in k8s kwok opm bundle-validate olm pulumi promtool prometheus-crds etcd node; do
  echo "$family: $(tools/ensure.sh "$family")"
done
echo "== the images the real-node tests push (dist/images/controller, booking-service; infra/controller-image.json untouched)"
npm run -s image -- controller booking-service --no-lock
echo "== jest (unit, then integration against a real control plane, and the real-node project)"
mkdir -p .bench
set +e
NODE_OPTIONS=--experimental-vm-modules jest --ci --json --outputFile=.bench/jest-results.json "$@"
status=$?
set -e
# A plain closing line that CI reads whatever the runner.
node -e '
  const r = require("./.bench/jest-results.json");
  console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit $status
