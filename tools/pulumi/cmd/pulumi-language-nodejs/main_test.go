package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func runRequest(t *testing.T, options map[string]any) *pulumirpc.RunRequest {
	t.Helper()
	opts, err := structpb.NewStruct(options)
	if err != nil {
		t.Fatal(err)
	}
	return &pulumirpc.RunRequest{
		Project:          "flight-operator",
		Stack:            "manifests",
		Pwd:              "/repo",
		MonitorAddress:   "127.0.0.1:4000",
		Organization:     "organization",
		DryRun:           true,
		Parallel:         8,
		Config:           map[string]string{"flight-operator:namespace": "flights", "flight-operator:bookingToken": "s3cret"},
		ConfigSecretKeys: []string{"flight-operator:bookingToken"},
		Info:             &pulumirpc.ProgramInfo{RootDirectory: "/repo", ProgramDirectory: "/repo", EntryPoint: "infra/pulumi/index.ts", Options: opts},
	}
}

func envValue(env []string, key string) (string, bool) {
	for _, kv := range slices.Backward(env) { // the last assignment wins, as in exec
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// GIVEN a preview of a TypeScript program with nodeargs
// WHEN the host builds the node invocation
// THEN the harness gets every flag the engine passed, the entry point last,
// and the config (secrets named) in the environment.
func TestBuildInvocationPassesEngineFlagsAndConfig(t *testing.T) {
	inv, err := buildInvocation(runRequest(t, map[string]any{"nodeargs": "--import tsx", "typescript": false}), "127.0.0.1:5000", []string{"PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Dir != "/repo" {
		t.Errorf("dir = %q, want /repo", inv.Dir)
	}
	if !slices.Equal(inv.NodeArgs, []string{"--import", "tsx"}) {
		t.Errorf("node args = %q", inv.NodeArgs)
	}
	want := []string{"--monitor", "127.0.0.1:4000", "--engine", "127.0.0.1:5000", "--organization", "organization",
		"--project", "flight-operator", "--stack", "manifests", "--pwd", "/repo", "--root-directory", "/repo",
		"--dry-run", "--parallel", "8", "infra/pulumi/index.ts"}
	if !slices.Equal(inv.HarnessArgs, want) {
		t.Errorf("harness args =\n %q\nwant\n %q", inv.HarnessArgs, want)
	}
	config, _ := envValue(inv.Env, "PULUMI_CONFIG")
	var got map[string]string
	if err := json.Unmarshal([]byte(config), &got); err != nil || got["flight-operator:namespace"] != "flights" {
		t.Errorf("PULUMI_CONFIG = %q (%v)", config, err)
	}
	if keys, _ := envValue(inv.Env, "PULUMI_CONFIG_SECRET_KEYS"); keys != `["flight-operator:bookingToken"]` {
		t.Errorf("PULUMI_CONFIG_SECRET_KEYS = %q", keys)
	}
	if ts, _ := envValue(inv.Env, "PULUMI_NODEJS_TYPESCRIPT"); ts != "false" {
		t.Errorf("PULUMI_NODEJS_TYPESCRIPT = %q, want false (typescript: false in Pulumi.yaml)", ts)
	}
	if path, _ := envValue(inv.Env, "PATH"); path != "/bin" {
		t.Errorf("the host's environment is not passed on: PATH = %q", path)
	}
}

// GIVEN an `up` (no dry run) with serial execution and no options
// THEN no --dry-run or --parallel flag, TypeScript on (upstream's default),
// and empty config is valid JSON.
func TestBuildInvocationUpDefaults(t *testing.T) {
	req := runRequest(t, map[string]any{})
	req.DryRun, req.Parallel, req.Config, req.ConfigSecretKeys = false, 1, nil, nil
	inv, err := buildInvocation(req, "e", nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(inv.HarnessArgs, "--dry-run") || slices.Contains(inv.HarnessArgs, "--parallel") {
		t.Errorf("harness args = %q", inv.HarnessArgs)
	}
	if c, _ := envValue(inv.Env, "PULUMI_CONFIG"); c != "{}" {
		t.Errorf("PULUMI_CONFIG = %q, want {}", c)
	}
	if k, _ := envValue(inv.Env, "PULUMI_CONFIG_SECRET_KEYS"); k != "[]" {
		t.Errorf("PULUMI_CONFIG_SECRET_KEYS = %q, want []", k)
	}
	if ts, _ := envValue(inv.Env, "PULUMI_NODEJS_TYPESCRIPT"); ts != "true" {
		t.Errorf("PULUMI_NODEJS_TYPESCRIPT = %q, want true", ts)
	}
}

// A request without a monitor address cannot run anything: say so.
func TestBuildInvocationRejectsMissingMonitor(t *testing.T) {
	req := runRequest(t, map[string]any{})
	req.MonitorAddress = ""
	if _, err := buildInvocation(req, "e", nil); err == nil || !strings.Contains(err.Error(), "monitor") {
		t.Fatalf("err = %v, want one naming the monitor address", err)
	}
}

// Exit code 32 means the program failed and @pulumi/pulumi already printed
// why: the engine must "bail" (no second error message); other failures are
// errors; success is an empty response.
func TestRunResult(t *testing.T) {
	exitWith := func(code string) error {
		return exec.Command("sh", "-c", "exit "+code).Run()
	}
	if r := runResult(nil); r.GetBail() || r.GetError() != "" {
		t.Errorf("success: %v", r)
	}
	if r := runResult(exitWith("32")); !r.GetBail() || r.GetError() != "" {
		t.Errorf("exit 32: %v, want bail", r)
	}
	if r := runResult(exitWith("1")); r.GetBail() || !strings.Contains(r.GetError(), "code 1") {
		t.Errorf("exit 1: %v, want an error naming the code", r)
	}
	if r := runResult(errors.New("boom")); r.GetError() != "boom" {
		t.Errorf("start failure: %v", r)
	}
}
