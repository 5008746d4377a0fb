// pulumi-language-nodejs: a minimal Pulumi language host for Node.js programs.
//
// Why it exists: upstream's host (sdk/nodejs/cmd/pulumi-language-nodejs) is
// not served by the Go module proxy this project builds from, and the npm
// packages that carry the CLI download it at install time. The engine needs a
// language host to run a program, so this is one of our own, on the public
// gRPC contract of sdk/v3 (pulumirpc.LanguageRuntime). It does only what
// `pulumi preview|up|refresh|destroy` of a Node.js program needs:
//
//   - serve LanguageRuntime on 127.0.0.1, print the port on stdout (the
//     engine reads it), exit when the engine (the address given as the last
//     argument) stops answering health checks;
//   - Run: start `node [nodeargs] <@pulumi/pulumi/cmd/run> --monitor ... <entry>`
//     in the program directory, config in PULUMI_CONFIG and
//     PULUMI_CONFIG_SECRET_KEYS, exit code 32 meaning "bail";
//   - GetPluginInfo, GetRequiredPlugins/Packages (none: plugins must already
//     be installed; acquisition is off anyway), InstallDependencies (nothing:
//     `npm install` is the project's job), About.
//
// Not supported (Unimplemented): code generation, packing, linking, running
// plugins written in Node.js, `pulumi new` prompts, debugging.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is stamped at build time (-X main.version=...).
var version = "0.0.0-dev"

// bailExitCode is what @pulumi/pulumi's run harness exits with when the
// program failed and has already reported why.
const bailExitCode = 32

func main() {
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: pulumi-language-nodejs [flags] <engine-address>")
		os.Exit(2)
	}
	engineAddress := args[len(args)-1]

	ctx, cancel := context.WithCancel(context.Background())
	// Exit when the engine goes away, as every Pulumi plugin does.
	go func() {
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel); err != nil {
			fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: engine health check: %v\n", err)
		}
	}()

	host := newHost(engineAddress)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelChannel(ctx),
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
}

func cancelChannel(ctx context.Context) chan bool {
	ch := make(chan bool)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string

	mu      sync.Mutex
	running map[*exec.Cmd]struct{}
}

func newHost(engineAddress string) *host {
	return &host{engineAddress: engineAddress, running: map[*exec.Cmd]struct{}{}}
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// GetRequiredPlugins and GetRequiredPackages answer "none": the project
// installs its plugins ahead of time and turns automatic acquisition off, so
// there is nothing for the engine to pre-install.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// InstallDependencies does nothing: dependencies are installed by the
// project's own `npm install`, never by the engine.
func (h *host) InstallDependencies(*pulumirpc.InstallDependenciesRequest, grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]) error {
	return nil
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: node, Version: strings.TrimSpace(string(out))}, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for cmd := range h.running {
		if cmd.Process != nil {
			_ = cmd.Process.Signal(os.Interrupt)
		}
	}
	return &emptypb.Empty{}, nil
}

// Run starts the program under @pulumi/pulumi's own run harness, which
// connects back to the engine's resource monitor and registers resources.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	inv, err := buildInvocation(req, h.engineAddress, os.Environ())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "node is not on PATH: " + err.Error()}, nil
	}
	runPath, err := resolveRunHarness(node, inv.Dir)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	cmd := exec.Command(node, append(append(append([]string{}, inv.NodeArgs...), runPath), inv.HarnessArgs...)...)
	cmd.Dir = inv.Dir
	cmd.Env = inv.Env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	h.mu.Lock()
	h.running[cmd] = struct{}{}
	h.mu.Unlock()
	err = cmd.Wait()
	h.mu.Lock()
	delete(h.running, cmd)
	h.mu.Unlock()
	return runResult(err), nil
}

// invocation is what Run executes, split out so that it can be unit-tested
// without a node process.
type invocation struct {
	Dir         string
	NodeArgs    []string
	HarnessArgs []string
	Env         []string
}

func buildInvocation(req *pulumirpc.RunRequest, engineAddress string, environ []string) (*invocation, error) {
	info := req.GetInfo()
	dir, entry := req.GetPwd(), req.GetProgram()
	root := dir
	var options map[string]any
	if info != nil {
		if info.GetProgramDirectory() != "" {
			dir = info.GetProgramDirectory()
		}
		if info.GetEntryPoint() != "" {
			entry = info.GetEntryPoint()
		}
		if info.GetRootDirectory() != "" {
			root = info.GetRootDirectory()
		}
		options = info.GetOptions().AsMap()
	}
	if dir == "" {
		return nil, errors.New("no program directory in the run request")
	}
	if entry == "" {
		entry = "."
	}
	if req.GetMonitorAddress() == "" {
		return nil, errors.New("no resource monitor address in the run request")
	}

	var nodeArgs []string
	if s, ok := options["nodeargs"].(string); ok {
		nodeArgs = strings.Fields(s)
	}
	typescript := true // upstream's default
	if b, ok := options["typescript"].(bool); ok {
		typescript = b
	}

	args := []string{"--monitor", req.GetMonitorAddress(), "--engine", engineAddress}
	if req.GetOrganization() != "" {
		args = append(args, "--organization", req.GetOrganization())
	}
	args = append(args, "--project", req.GetProject(), "--stack", req.GetStack(), "--pwd", req.GetPwd(), "--root-directory", root)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if req.GetParallel() > 1 {
		args = append(args, "--parallel", strconv.Itoa(int(req.GetParallel())))
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	config, err := json.Marshal(orEmpty(req.GetConfig()))
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(orEmptySlice(req.GetConfigSecretKeys()))
	if err != nil {
		return nil, err
	}
	env := append([]string{}, environ...)
	env = append(env,
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys),
		"PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(typescript),
	)
	if tsconfig, ok := options["tsconfig"].(string); ok && tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+tsconfig)
	}
	return &invocation{Dir: dir, NodeArgs: nodeArgs, HarnessArgs: args, Env: env}, nil
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orEmptySlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// resolveRunHarness finds @pulumi/pulumi's cmd/run as node would from the
// program directory, so the program runs with the SDK it depends on.
func resolveRunHarness(node, dir string) (string, error) {
	cmd := exec.Command(node, "-e", "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/run'))")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot find @pulumi/pulumi from %s (run npm install): %v", dir, err)
	}
	return filepath.Dir(string(out)), nil
}

// runResult maps the harness's exit to the engine's answer.
func runResult(err error) *pulumirpc.RunResponse {
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if exit.ExitCode() == bailExitCode {
			return &pulumirpc.RunResponse{Bail: true}
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with code %d", exit.ExitCode())}
	}
	return &pulumirpc.RunResponse{Error: err.Error()}
}
