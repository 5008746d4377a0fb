#!/usr/bin/env bash
# Builds opm from github.com/operator-framework/operator-registry into "$1",
# and grpc_health_probe (grpc-health-probe/, its own module): OLM v0.46's
# registry pods exec-probe `grpc_health_probe -addr=:50051`, so the catalog
# image ships it in /bin beside opm (image/catalog-image.ts).
# Called by tools/ensure.sh (GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
# GOTOOLCHAIN=local).
#
# Tags as upstream's Makefile: json1 (sqlite JSON functions) and
# containers_image_openpgp (pure-Go signature code instead of gpgme/cgo).
# CGO stays off: mattn/go-sqlite3 then compiles to a stub, which only the
# deprecated sqlite paths use (opm index/registry, render of a .db or sqlite
# index image). File-Based Catalog commands (render of a bundle or FBC
# directory, validate, serve, generate, alpha) never open sqlite.
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
mkdir -p "$out"
cd "$(dirname "$0")"

mod=github.com/operator-framework/operator-registry
version=$(go list -m -f '{{.Version}}' $mod)
build_date=$(go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' $mod)
commit=$(go mod download -json $mod@"$version" | sed -n 's/.*"Hash": "\([0-9a-f]*\)".*/\1/p' | head -1)
ldflags="-s -w -X '$mod/cmd/opm/version.opmVersion=$version'"
ldflags+=" -X '$mod/cmd/opm/version.gitCommit=${commit:-unknown}'"
ldflags+=" -X '$mod/cmd/opm/version.buildDate=${build_date:-1970-01-01T00:00:00Z}'"

echo "build.sh: $mod $version ($commit), $(go version), CGO_ENABLED=${CGO_ENABLED:-}"
go build -trimpath -tags json1,containers_image_openpgp -ldflags "$ldflags" -o "$out/opm" $mod/cmd/opm
"$out/opm" version
probe=github.com/grpc-ecosystem/grpc-health-probe
(cd grpc-health-probe && go build -trimpath -ldflags "-s -w" -o "$out/grpc_health_probe" $probe)
probe_version=$(cd grpc-health-probe && go list -m -f '{{.Version}}' $probe)
"$out/grpc_health_probe" -version
printf '%s\n' "operator-registry=$version" "grpc_health_probe=$probe_version" >"$out/VERSIONS"
ls -l "$out"
