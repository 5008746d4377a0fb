// genschema writes the two files the provider's main embeds, as upstream's
// cmd/pulumi-resource-kubernetes/generate.go does: the module's schema.json
// with "version" set, and terraform-mapping.json, both minified.
//
//	go run ./internal/genschema <module cmd dir> <version> <out dir>
package main

import (
	"encoding/json"
	"log"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: genschema <module cmd dir> <version> <out dir>")
	}
	src, version, out := os.Args[1], os.Args[2], os.Args[3]

	var schema map[string]any
	readJSON(filepath.Join(src, "schema.json"), &schema)
	schema["version"] = version
	writeJSON(filepath.Join(out, "schema-embed.json"), schema)

	var mapping any
	readJSON(filepath.Join(src, "terraform-mapping.json"), &mapping)
	writeJSON(filepath.Join(out, "terraform-mapping-embed.json"), mapping)
}

func readJSON(path string, v any) {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		log.Fatalf("%s: %v", path, err)
	}
}

func writeJSON(path string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		log.Fatal(err)
	}
}
