module flight-operator/tools/prometheus-crds

// Only a source of files: build.sh copies the prometheus-operator CRDs out of
// this module; nothing is compiled. No Go file imports it, so `go mod tidy`
// would drop the requirement: edit the version by hand.
go 1.26.0

require github.com/prometheus-operator/prometheus-operator v0.85.0
