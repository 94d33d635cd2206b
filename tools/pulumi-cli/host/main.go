// Command pulumi-language-python is a Pulumi language host for Python programs, for machines that build the
// `pulumi` CLI from source (tools/pulumi-cli/build.sh builds it beside the CLI).
//
// Pulumi's own host is a Go module that is never tagged, so a machine that can reach only the Go module proxy
// cannot build it at a known release. This host is built from the tagged sdk/v3 module's gRPC definitions and
// answers what Pulumi's host answers for a Python program with the `pip` toolchain: Run (through the SDK's
// `pulumi-language-python-exec` script, installed beside this binary), InstallDependencies, About,
// GetProgramDependencies, GetRequiredPackages, RuntimeOptionsPrompts, GetPluginInfo and Cancel.
//
// Two things it does beyond Pulumi's host: it answers only the engine that started it (the caller's socket must
// belong to that process; docs/security.md), and it dies with the engine: once the engine is gone (its parent
// changes, or the stdin pipe the engine holds reads end-of-file) it kills the program's process group and exits,
// so a killed CLI leaves no program behind.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	// The exec script exits 32 after it has shown the user an actionable message; the engine then "bails".
	exitAfterUserMessage = 32
	enginePoll           = 200 * time.Millisecond
	environmentFix       = "run `make venv` (or `pulumi install`) in the project folder"
)

var (
	typecheckers = map[string]bool{"mypy": true, "pyright": true}
	// Packages Pulumi's host knows to have no plugin.
	packagesWithoutPlugins = map[string]bool{"pulumi-policy": true, "pulumi-esc-sdk": true}
	preReleases            = map[string]string{"a": "alpha", "b": "beta", "rc": "rc"}
	pep440                 = regexp.MustCompile(`^(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?$`)
)

// ------------------------------------------------------------------------------------------- runtime options

type options struct {
	root, programDirectory                   string
	virtualenvOption, toolchain, typechecker string
}

func newOptions(info *pulumirpc.ProgramInfo) (*options, error) {
	root := info.GetRootDirectory()
	if root == "" {
		root = info.GetProgramDirectory()
	}
	if root == "" {
		root = "."
	}
	o := &options{root: root, programDirectory: info.GetProgramDirectory(), toolchain: "pip"}
	if o.programDirectory == "" {
		o.programDirectory = root
	}
	given := map[string]any{}
	if info.GetOptions() != nil {
		given = info.GetOptions().AsMap()
	}
	for key, into := range map[string]*string{
		"virtualenv": &o.virtualenvOption, "toolchain": &o.toolchain, "typechecker": &o.typechecker,
	} {
		value, present := given[key]
		if !present {
			continue
		}
		text, isText := value.(string)
		if !isText {
			return nil, fmt.Errorf("the '%s' runtime option in Pulumi.yaml must be a string", key)
		}
		*into = text
	}
	if o.toolchain != "pip" {
		return nil, fmt.Errorf("the 'toolchain' runtime option in Pulumi.yaml is '%s'; this project's language "+
			"host supports only 'pip' (install Pulumi with its usual installer for poetry or uv)", o.toolchain)
	}
	if o.typechecker != "" && !typecheckers[o.typechecker] {
		return nil, fmt.Errorf("unsupported typechecker option: %s", o.typechecker)
	}
	return o, nil
}

func (o *options) virtualenv() string {
	if o.virtualenvOption == "" {
		return ""
	}
	if filepath.IsAbs(o.virtualenvOption) {
		return o.virtualenvOption
	}
	return filepath.Join(o.root, o.virtualenvOption)
}

func (o *options) python() string {
	if venv := o.virtualenv(); venv != "" {
		return filepath.Join(venv, "bin", "python")
	}
	return basePython()
}

func basePython() string {
	if command := os.Getenv("PULUMI_PYTHON_CMD"); command != "" {
		return command
	}
	return "python3"
}

func (o *options) environment() []string {
	venv := o.virtualenv()
	env := []string{}
	for _, pair := range os.Environ() {
		if venv != "" && (strings.HasPrefix(pair, "PATH=") || strings.HasPrefix(pair, "VIRTUAL_ENV=") ||
			strings.HasPrefix(pair, "PYTHONHOME=")) {
			continue
		}
		env = append(env, pair)
	}
	if venv != "" {
		env = append(env, "PATH="+filepath.Join(venv, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
			"VIRTUAL_ENV="+venv)
	}
	return env
}

func (o *options) checkVirtualenv() error {
	venv := o.virtualenv()
	if venv == "" || isFile(filepath.Join(venv, "bin", "python")) {
		return nil
	}
	state := "does not exist"
	if _, err := os.Stat(venv); err == nil {
		state = "is not a virtual environment"
	}
	return fmt.Errorf("the 'virtualenv' option in Pulumi.yaml is '%s', but %s %s; %s",
		o.virtualenvOption, venv, state, environmentFix)
}

func (o *options) command(args ...string) *exec.Cmd {
	cmd := exec.Command(o.python(), args...)
	cmd.Env = o.environment()
	return cmd
}

// output runs the program's interpreter with args: what it printed on stdout, and on stderr.
func (o *options) output(args ...string) ([]byte, string, error) {
	var out, errOut bytes.Buffer
	cmd := o.command(args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.Bytes(), errOut.String(), err
}

func (o *options) notRunnable(stderr string) error {
	return fmt.Errorf("%s could not be run: %s", o.python(), strings.TrimSpace(stderr))
}

func isFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}

// ------------------------------------------------------------------------------- what the interpreter has

// interpreterFacts runs in the program's interpreter, with the standard library only.
const interpreterFacts = `import json, sys
try:
    import importlib.metadata as metadata
    pip = metadata.version("pip")
except Exception:
    pip = ""
print(json.dumps({"executable": sys.executable, "version": sys.version.split()[0], "pip": pip}))
`

type facts struct {
	Executable string `json:"executable"`
	Version    string `json:"version"`
	Pip        string `json:"pip"`
}

func (o *options) facts() (*facts, error) {
	if found := o.virtualenvFacts(); found != nil {
		return found, nil
	}
	out, stderr, err := o.output("-c", interpreterFacts)
	if err != nil {
		return nil, o.notRunnable(stderr)
	}
	found := &facts{}
	if err := json.Unmarshal(out, found); err != nil {
		return nil, fmt.Errorf("%s could not be run: %v", o.python(), err)
	}
	return found, nil
}

// virtualenvFacts reads the facts of a virtualenv from its files, as its interpreter would tell them: the
// version in pyvenv.cfg, pip's from its dist-info (nil: not a virtualenv made by `venv`).
func (o *options) virtualenvFacts() *facts {
	venv := o.virtualenv()
	if venv == "" {
		return nil
	}
	config, err := os.ReadFile(filepath.Join(venv, "pyvenv.cfg"))
	if err != nil {
		return nil
	}
	found := &facts{}
	for _, line := range strings.Split(string(config), "\n") {
		key, value, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(key) == "version" {
			found.Version = strings.TrimSpace(value)
		}
	}
	if found.Version == "" {
		return nil
	}
	executable, err := filepath.Abs(o.python())
	if err != nil {
		return nil
	}
	found.Executable = executable
	folders, _ := o.sitePackages()
	for _, dist := range installed(folders) {
		if dist.name == "pip" {
			found.Pip = dist.version
		}
	}
	return found
}

type distribution struct {
	name, version string
	plugin        map[string]any
}

// sitePackages are the folders the program's interpreter installs packages in: the virtualenv's, found on disk,
// else what the interpreter on PATH says.
func (o *options) sitePackages() ([]string, error) {
	if venv := o.virtualenv(); venv != "" {
		return filepath.Glob(filepath.Join(venv, "lib", "python*", "site-packages"))
	}
	out, stderr, err := o.output("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
	if err != nil {
		return nil, o.notRunnable(stderr)
	}
	return []string{strings.TrimSpace(string(out))}, nil
}

// installed lists the distributions of the site-packages folders, each with the pulumi-plugin.json of its
// package, read from disk (no interpreter started for a virtualenv: this answers every command's first
// question).
func installed(folders []string) []distribution {
	found := []distribution{}
	for _, site := range folders {
		infos, _ := filepath.Glob(filepath.Join(site, "*.dist-info"))
		for _, info := range infos {
			name, version := metadataNameVersion(filepath.Join(info, "METADATA"))
			if name == "" {
				continue
			}
			name = strings.ReplaceAll(strings.ToLower(name), "_", "-")
			found = append(found, distribution{
				name: name, version: version,
				plugin: pluginFile(filepath.Join(site, strings.ReplaceAll(name, "-", "_"), "pulumi-plugin.json")),
			})
		}
	}
	return found
}

func metadataNameVersion(path string) (name, version string) {
	file, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer file.Close()
	lines := bufio.NewScanner(file)
	for lines.Scan() {
		line := lines.Text()
		if line == "" {
			break
		}
		if value, ok := strings.CutPrefix(line, "Name:"); ok && name == "" {
			name = strings.TrimSpace(value)
		} else if value, ok := strings.CutPrefix(line, "Version:"); ok && version == "" {
			version = strings.TrimSpace(value)
		}
	}
	return name, version
}

func pluginFile(path string) map[string]any {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	plugin := map[string]any{}
	if json.Unmarshal(data, &plugin) != nil {
		return nil
	}
	return plugin
}

// pluginVersion is a PEP 440 package version as the plugin's semver, as Pulumi's host converts it ("": cannot
// tell).
func pluginVersion(packageVersion string) string {
	match := pep440.FindStringSubmatch(packageVersion)
	if match == nil {
		return ""
	}
	release, pre, preNumber, post, dev := match[1], match[2], match[3], match[4], match[5]
	parts := strings.Split(release, ".")
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	version := strings.Join(parts, ".")
	if pre != "" {
		version += "-" + preReleases[pre] + "." + preNumber
	}
	build := ""
	if post != "" {
		build += "post" + post
	}
	if dev != "" {
		build += "dev" + dev
	}
	if build != "" {
		version += "+" + build
	}
	return version
}

func text(plugin map[string]any, key string) string {
	value, _ := plugin[key].(string)
	return value
}

// requiredPackages are the resource plugins of the installed Pulumi packages, as Pulumi's host reports them.
func requiredPackages(dists []distribution) []*pulumirpc.PackageDependency {
	packages := []*pulumirpc.PackageDependency{}
	for _, dist := range dists {
		if packagesWithoutPlugins[dist.name] || (dist.plugin == nil && !strings.HasPrefix(dist.name, "pulumi-")) {
			continue
		}
		if dist.plugin != nil {
			if resource, _ := dist.plugin["resource"].(bool); !resource {
				continue
			}
		}
		version := text(dist.plugin, "version")
		if version == "" {
			version = pluginVersion(dist.version)
		}
		if version == "" {
			continue
		}
		if !strings.HasPrefix(version, "v") {
			version = "v" + version
		}
		name := text(dist.plugin, "name")
		if name == "" {
			name = strings.TrimPrefix(dist.name, "pulumi-")
		}
		packages = append(packages, &pulumirpc.PackageDependency{
			Kind: "resource", Name: name, Version: version, Server: text(dist.plugin, "server"),
		})
	}
	return packages
}

// ------------------------------------------------------------------------------------------------- the host

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	execScript    string
	mu            sync.Mutex
	running       map[*exec.Cmd]bool
	stopping      bool
}

func invalid(err error) error { return status.Error(codes.InvalidArgument, err.Error()) }

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	// The version of the Pulumi SDK the program runs with: that of the virtualenv in the folder the engine
	// started this host in.
	folders, _ := (&options{root: ".", virtualenvOption: ".venv"}).sitePackages()
	for _, dist := range installed(folders) {
		if dist.name == "pulumi" {
			return &pulumirpc.PluginInfo{Version: dist.version}, nil
		}
	}
	return &pulumirpc.PluginInfo{}, nil
}

func (h *host) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	o, err := newOptions(req.GetInfo())
	if err != nil {
		return nil, invalid(err)
	}
	if err := o.checkVirtualenv(); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	folders, err := o.sitePackages()
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: requiredPackages(installed(folders))}, nil
}

func (h *host) GetProgramDependencies(
	_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	o, err := newOptions(req.GetInfo())
	if err != nil {
		return nil, invalid(err)
	}
	args := []string{"-m", "pip", "list", "--format", "json"}
	if !req.GetTransitiveDependencies() {
		args = append(args, "--not-required")
	}
	out, stderr, err := o.output(args...)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "failed to get python dependencies: %s", stderr)
	}
	var listed []struct{ Name, Version string }
	if err := json.Unmarshal(out, &listed); err != nil {
		return nil, status.Errorf(codes.Internal, "failed to get python dependencies: %v", err)
	}
	response := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range listed {
		response.Dependencies = append(response.Dependencies, &pulumirpc.DependencyInfo{
			Name: strings.ReplaceAll(strings.ToLower(p.Name), "_", "-"), Version: p.Version,
		})
	}
	return response, nil
}

func (h *host) About(_ context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	info := req.GetInfo()
	if info == nil {
		// Before `info` was sent, Pulumi's host described the default python.
		cwd, _ := os.Getwd()
		info = &pulumirpc.ProgramInfo{RootDirectory: cwd}
	}
	o, err := newOptions(info)
	if err != nil {
		return nil, invalid(err)
	}
	found, err := o.facts()
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	typechecker := o.typechecker
	if typechecker == "" {
		typechecker = "none"
	}
	return &pulumirpc.AboutResponse{
		Executable: found.Executable,
		Version:    found.Version,
		Metadata: map[string]string{
			"toolchain": o.toolchain, "toolchainVersion": found.Pip, "typechecker": typechecker,
		},
	}, nil
}

func (h *host) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

type streamWriter struct {
	stream pulumirpc.LanguageRuntime_InstallDependenciesServer
}

func (w streamWriter) Write(p []byte) (int, error) {
	chunk := append([]byte(nil), p...)
	if err := w.stream.Send(&pulumirpc.InstallDependenciesResponse{Stdout: chunk}); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, stream pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	o, err := newOptions(req.GetInfo())
	if err != nil {
		return invalid(err)
	}
	type step struct {
		title   string
		command []string
	}
	steps := []step{}
	if venv := o.virtualenv(); venv != "" {
		steps = append(steps, step{"Creating virtual environment", []string{basePython(), "-m", "venv", venv}})
	}
	python := o.python()
	steps = append(steps, step{
		"Updating pip, setuptools, and wheel in virtual environment",
		[]string{python, "-m", "pip", "install", "--upgrade", "pip", "setuptools", "wheel"},
	})
	if isFile(filepath.Join(o.programDirectory, "requirements.txt")) {
		steps = append(steps, step{
			"Installing dependencies in virtual environment",
			[]string{python, "-m", "pip", "install", "-r", "requirements.txt"},
		})
	}
	out := streamWriter{stream}
	fmt.Fprint(out, "Installing dependencies...\n\n")
	for _, s := range steps {
		fmt.Fprintf(out, "%s...\n", s.title)
		cmd := exec.Command(s.command[0], s.command[1:]...)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = o.programDirectory, o.environment(), out, out
		if err := cmd.Run(); err != nil {
			code := -1
			if cmd.ProcessState != nil {
				code = cmd.ProcessState.ExitCode()
			}
			return status.Errorf(codes.Internal, "%s failed: `%s` exited %d",
				strings.ToLower(s.title), strings.Join(s.command, " "), code)
		}
	}
	fmt.Fprint(out, "Finished installing dependencies\n\n")
	return nil
}

// typecheck runs the `typechecker` option's checker on the program, as Pulumi's host does: its failure, or "".
func (h *host) typecheck(o *options) string {
	checker := o.typechecker
	if checker == "" {
		return ""
	}
	probe := o.command("-c", "import "+checker)
	if probe.Run() != nil {
		venv := o.virtualenvOption
		if venv == "" {
			venv = "python3"
		}
		return fmt.Sprintf("The typechecker option is set to %s, but %s is not installed. Please add an entry "+
			"for %s to requirements.txt and run `%s/bin/pip install -r requirements.txt`", checker, checker,
			checker, venv)
	}
	args := []string{"-m", checker}
	if checker == "mypy" && o.virtualenv() != "" {
		if relative, err := filepath.Rel(o.programDirectory, o.virtualenv()); err == nil {
			args = append(args, "--exclude", relative)
		}
	}
	var out, errOut bytes.Buffer
	cmd := o.command(append(args, o.programDirectory)...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = o.programDirectory, &out, &errOut
	err := cmd.Run()
	os.Stdout.Write(out.Bytes())
	os.Stderr.Write(errOut.Bytes())
	if err != nil {
		return fmt.Sprintf("%s failed: exit status %d\n%s%s", checker, cmd.ProcessState.ExitCode(), out.String(),
			errOut.String())
	}
	return ""
}

// execArguments is the exec script's command line, built from the run request the way Pulumi's host builds it.
func execArguments(req *pulumirpc.RunRequest, engineAddress string) []string {
	dryRun := "false"
	if req.GetDryRun() {
		dryRun = "true"
	}
	flags := [][2]string{
		{"monitor", req.GetMonitorAddress()},
		{"engine", engineAddress},
		{"project", req.GetProject()},
		{"root_directory", req.GetInfo().GetRootDirectory()},
		{"stack", req.GetStack()},
		{"pwd", req.GetPwd()},
		{"dry_run", dryRun},
		{"parallel", strconv.Itoa(int(req.GetParallel()))},
		{"organization", req.GetOrganization()},
	}
	args := []string{}
	for _, flag := range flags {
		if flag[1] != "" {
			args = append(args, "--"+flag[0], flag[1])
		}
	}
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	return append(append(args, entry), req.GetArgs()...)
}

func (h *host) Run(_ context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	o, err := newOptions(req.GetInfo())
	if err == nil {
		err = o.checkVirtualenv()
	}
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if failure := h.typecheck(o); failure != "" {
		return &pulumirpc.RunResponse{Error: failure}, nil
	}
	configValues := req.GetConfig()
	if configValues == nil {
		configValues = map[string]string{} // "{}", as the SDK reads it: never "null"
	}
	config, _ := json.Marshal(configValues)
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, _ := json.Marshal(secretKeys)
	cmd := exec.Command(o.python(), append([]string{"-u", h.execScript},
		execArguments(req, h.engineAddress)...)...)
	cmd.Env = append(o.environment(), "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))
	cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = req.GetPwd(), os.Stdin, os.Stdout, os.Stderr
	// A group of its own: the engine's SIGINT to this host's group, when it closes its plugins, is not the
	// program's (Pulumi's host ends the program on Cancel, as below).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	h.mu.Lock()
	if h.stopping {
		h.mu.Unlock()
		return &pulumirpc.RunResponse{Error: "the language host is shutting down"}, nil
	}
	if err := cmd.Start(); err != nil {
		h.mu.Unlock()
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	h.running[cmd] = true
	h.mu.Unlock()
	_ = cmd.Wait()
	h.mu.Lock()
	delete(h.running, cmd)
	h.mu.Unlock()
	state := cmd.ProcessState
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return &pulumirpc.RunResponse{Error: "program ended by signal " + unix.SignalName(ws.Signal())}, nil
	}
	switch code := state.ExitCode(); code {
	case 0:
		return &pulumirpc.RunResponse{}, nil
	case exitAfterUserMessage:
		return &pulumirpc.RunResponse{Bail: true}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", code)}, nil
	}
}

// endPrograms sends the signal to the process group of every running program; no program starts after this.
func (h *host) endPrograms(sig syscall.Signal) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopping = true
	for cmd := range h.running {
		_ = syscall.Kill(-cmd.Process.Pid, sig)
	}
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	// Pulumi's host interrupts the program; SIGTERM ends it as quietly as the SDK's own exit.
	h.endPrograms(syscall.SIGTERM)
	return &emptypb.Empty{}, nil
}

// ------------------------------------------------------------------------------------ only its own engine

// engineOnly admits a caller only when its socket belongs to the engine process (Linux: /proc; elsewhere:
// loopback).
type engineOnly struct {
	enginePid  int
	serverPort int
	canCheck   bool
	mu         sync.Mutex
	admitted   map[string]bool
}

func (g *engineOnly) admits(ctx context.Context) bool {
	caller, ok := peer.FromContext(ctx)
	if !ok {
		return false
	}
	address, ok := caller.Addr.(*net.TCPAddr)
	if !ok || !address.IP.IsLoopback() {
		return false
	}
	key := address.String()
	g.mu.Lock()
	known := g.admitted[key]
	g.mu.Unlock()
	if known || !g.canCheck {
		return true
	}
	inode := socketInode(address.Port, g.serverPort)
	if inode == "" || !processOwnsSocket(g.enginePid, inode) {
		return false
	}
	g.mu.Lock()
	g.admitted[key] = true
	g.mu.Unlock()
	return true
}

// socketInode is the inode of the loopback TCP socket peerPort -> serverPort, from /proc/net/tcp{,6}.
func socketInode(peerPort, serverPort int) string {
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		lines := strings.Split(string(data), "\n")
		for _, line := range lines[1:] {
			fields := strings.Fields(line)
			if len(fields) < 10 {
				continue
			}
			if hexPort(fields[1]) == peerPort && hexPort(fields[2]) == serverPort {
				return fields[9]
			}
		}
	}
	return ""
}

func hexPort(address string) int {
	_, port, found := strings.Cut(address, ":")
	if !found {
		return -1
	}
	value, err := strconv.ParseInt(port, 16, 32)
	if err != nil {
		return -1
	}
	return int(value)
}

func processOwnsSocket(pid int, inode string) bool {
	wanted := "socket:[" + inode + "]"
	folder := fmt.Sprintf("/proc/%d/fd", pid)
	descriptors, err := os.ReadDir(folder)
	if err != nil {
		return false
	}
	for _, descriptor := range descriptors {
		if target, err := os.Readlink(filepath.Join(folder, descriptor.Name())); err == nil && target == wanted {
			return true
		}
	}
	return false
}

// refusal is the error for a caller the gate does not admit (nil: admitted).
func (g *engineOnly) refusal(ctx context.Context) error {
	if g.admits(ctx) {
		return nil
	}
	return status.Error(codes.PermissionDenied, "this language host answers only its engine")
}

func (g *engineOnly) unary(
	ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler,
) (any, error) {
	if err := g.refusal(ctx); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (g *engineOnly) stream(
	srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler,
) error {
	if err := g.refusal(ss.Context()); err != nil {
		return err
	}
	return handler(srv, ss)
}

// watchEngine runs gone once, when the engine that started this host is gone: its parent changed, or the stdin
// pipe the engine gives each plugin (and keeps the other end of) reads end-of-file.
func watchEngine(enginePid int, gone func()) {
	var once sync.Once
	fire := func() { once.Do(gone) }
	go func() {
		for os.Getppid() == enginePid {
			time.Sleep(enginePoll)
		}
		fire()
	}()
	if info, err := os.Stdin.Stat(); err == nil && info.Mode()&os.ModeNamedPipe != 0 {
		go func() {
			buffer := make([]byte, 4096)
			for {
				if n, err := os.Stdin.Read(buffer); n == 0 || err != nil {
					break
				}
			}
			fire()
		}()
	}
}

func main() {
	// The engine passes its own flags (`-v=9`, `--logtostderr`, `--tracing …`) before its address, always last.
	positional := []string{}
	for _, arg := range os.Args[1:] {
		if !strings.HasPrefix(arg, "-") {
			positional = append(positional, arg)
		}
	}
	if len(positional) == 0 {
		fmt.Fprintln(os.Stderr, "usage: pulumi-language-python [flags] ENGINE_ADDRESS")
		os.Exit(2)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	h := &host{
		engineAddress: positional[len(positional)-1],
		execScript:    filepath.Join(filepath.Dir(self), "pulumi-language-python-exec"),
		running:       map[*exec.Cmd]bool{},
	}
	_, procErr := os.Stat("/proc/net/tcp")
	gate := &engineOnly{enginePid: os.Getppid(), canCheck: procErr == nil, admitted: map[string]bool{}}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	gate.serverPort = listener.Addr().(*net.TCPAddr).Port
	server := grpc.NewServer(grpc.UnaryInterceptor(gate.unary), grpc.StreamInterceptor(gate.stream))
	pulumirpc.RegisterLanguageRuntimeServer(server, h)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		// The engine stops its plugins with SIGINT (then SIGKILL): a program still running ends, quietly.
		h.endPrograms(syscall.SIGTERM)
		server.Stop()
	}()
	watchEngine(gate.enginePid, func() {
		h.endPrograms(syscall.SIGKILL)
		os.Exit(1)
	})
	// The engine reads the port from the first line of stdout.
	fmt.Println(gate.serverPort)
	_ = server.Serve(listener)
}
