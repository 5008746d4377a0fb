package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testAnnotations = `annotations:
  operators.operatorframework.io.bundle.mediatype.v1: registry+v1
  operators.operatorframework.io.bundle.manifests.v1: manifests/
  operators.operatorframework.io.bundle.metadata.v1: metadata/
  operators.operatorframework.io.bundle.package.v1: demo
  operators.operatorframework.io.bundle.channels.v1: stable
  operators.operatorframework.io.bundle.channel.default.v1: stable
`

// A CSV with neither displayName nor a valid capabilities annotation.
const testBadCSV = `apiVersion: operators.coreos.com/v1alpha1
kind: ClusterServiceVersion
metadata:
  name: demo.v0.1.0
  annotations:
    capabilities: Magic
spec:
  version: 0.1.0
  installModes:
    - {type: AllNamespaces, supported: true}
  install:
    strategy: deployment
    spec:
      deployments:
        - name: demo
          spec:
            selector: {matchLabels: {app: demo}}
            template:
              metadata: {labels: {app: demo}}
              spec:
                containers: [{name: manager, image: example.com/demo:v0.1.0}]
`

func writeBundle(t *testing.T, csv string) string {
	t.Helper()
	dir := t.TempDir()
	for path, body := range map[string]string{
		"metadata/annotations.yaml":        testAnnotations,
		"manifests/demo.csv.yaml":          csv,
		"manifests/not-a-bundle-kind.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: stray}\n",
	} {
		p := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func has(findings []Finding, validator, substr string) bool {
	for _, f := range findings {
		if f.Validator == validator && strings.Contains(f.Message, substr) {
			return true
		}
	}
	return false
}

func TestBadBundleReportsNamedErrorsAndExits1(t *testing.T) {
	dir := writeBundle(t, testBadCSV)
	var out, errOut bytes.Buffer
	if code := run([]string{dir}, &out, &errOut); code != 1 {
		t.Fatalf("exit code %d, want 1; stderr: %s", code, errOut.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	for _, want := range []struct{ validator, substr string }{
		{"csv", "Spec.DisplayName"},
		{"capabilities", `"Magic" is not a valid capabilities level`},
		{"bundle-objects", "kind Deployment is not supported"},
	} {
		if !has(rep.Errors, want.validator, want.substr) {
			t.Errorf("no %s error containing %q in %+v", want.validator, want.substr, rep.Errors)
		}
	}
	if !has(rep.Warnings, "good-practices", "resource requests") {
		t.Errorf("no good-practices warning about resource requests in %+v", rep.Warnings)
	}
}

func TestChannelNamesComeFromAnnotations(t *testing.T) {
	dir := writeBundle(t, testBadCSV)
	ann := strings.ReplaceAll(testAnnotations, ": stable", ": beta")
	if err := os.WriteFile(filepath.Join(dir, "metadata/annotations.yaml"), []byte(ann), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := Validate(dir, "1.35", nil)
	if !has(rep.Warnings, "good-practices", `channel(s) ["beta"] are not following the recommended naming convention`) {
		t.Errorf("no good-practices warning about channel beta in %+v", rep.Warnings)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{}, &out, &errOut); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if code := run([]string{"--extra=nope", t.TempDir()}, &out, &errOut); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
}
