#!/usr/bin/env bash
# Called by tools/ensure.sh (GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local).
# Same build tags as opm: containers_image_openpgp keeps the containers/image
# signature code pure Go (no gpgme/cgo).
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out"
go version
go build -trimpath -tags json1,containers_image_openpgp -ldflags '-s -w' -o "$out/bundle-validate" .
