package emulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultLCCTimeout is how long a lifecycle configuration may run before its app goes
// Failed: Studio's limit is 5 minutes.
const DefaultLCCTimeout = 5 * time.Minute

// LCCRunner makes the emulator run the lifecycle configuration an app's settings
// attach when the app starts (Options.LCC), as Studio does: with bash, in the app's
// home folder, as the home's owner, with a generated resource-metadata file. The app
// goes InService only after the script exited 0. See the package comment.
type LCCRunner struct {
	// Env is extra environment for the script (S3_ENDPOINT_URL, AWS_* test
	// credentials, PATH with the AWS CLI v2 first); it overrides what the emulator
	// sets. The emulator's own environment is not passed on: a container does not
	// see the host's.
	Env []string
	// Timeout is the LCC time limit; 0 = DefaultLCCTimeout, Studio's 5 minutes.
	Timeout time.Duration
	// Run, if set, replaces bash: the demo uses it where no AWS CLI v2 is installed.
	// It must return when ctx is done (timeout, DeleteApp, Close); a non-nil error
	// fails the app (an *exec.ExitError's code is reported as the script's exit).
	Run func(ctx context.Context, r LCCRun) error
}

// LCCRun is one run of a lifecycle configuration, as handed to LCCRunner.Run.
type LCCRun struct {
	DomainID        string
	UserProfileName string // the profile, or the space's owner (OwnershipSettings; "" without one)
	SpaceName       string
	AppType         string
	AppName         string
	LCCArn          string
	LCCName         string
	Script          []byte   // the decoded StudioLifecycleConfigContent
	Home            string   // the app's home folder: HOME_DIR, HOME, and the working directory
	MetadataFile    string   // the generated resource-metadata.json: RESOURCE_METADATA
	UID, GID        int      // the home's owner; -1 when not running as root
	Env             []string // what bash would get
}

// LCCResult is a finished (or still running) lifecycle configuration run, for tests:
// see Emulator.LCCRuns.
type LCCResult struct {
	LCCRun
	AppArn   string
	Started  time.Time
	Finished time.Time // zero while it runs
	ExitCode int       // -1 while it runs, or when it was killed or could not start
	Err      string    // why it failed ("" on exit 0): exit status, timeout, killed
	Output   string    // the tail of its stdout and stderr (the last lccTail bytes)
	LogFile  string    // the whole per-app log the emulator keeps ("" with LCCRunner.Run)
}

// lccTail is how much of a script's output LCCResult.Output and the debug log keep.
const lccTail = 64 << 10

// lccProc is a script the emulator is running: the one exception to "no goroutines".
type lccProc struct {
	res    *LCCResult
	cancel context.CancelFunc
	done   chan struct{}
	killed string // why it was cancelled: "the app was deleted", "the emulator closed"
}

// lccState is the emulator's part for running lifecycle configurations; guarded by
// e.mu except wg.
type lccState struct {
	dir     string // per-emulator folder of scripts, metadata files and logs
	runs    []*LCCResult
	running map[*app]*lccProc
	closed  bool
	wg      sync.WaitGroup
}

// appSettingsMember names the settings member that configures apps of a type.
var appSettingsMember = map[string]string{
	"JupyterServer": "JupyterServerAppSettings",
	"KernelGateway": "KernelGatewayAppSettings",
	"JupyterLab":    "JupyterLabAppSettings",
	"CodeEditor":    "CodeEditorAppSettings",
}

// defaultLCCArn reads <member>.DefaultResourceSpec.LifecycleConfigArn of a settings
// structure ("" when unset).
func defaultLCCArn(settings json.RawMessage, member string) string {
	var s map[string]json.RawMessage
	if len(settings) == 0 || json.Unmarshal(settings, &s) != nil {
		return ""
	}
	var app struct {
		DefaultResourceSpec struct{ LifecycleConfigArn string }
	}
	if len(s[member]) == 0 || json.Unmarshal(s[member], &app) != nil {
		return ""
	}
	return app.DefaultResourceSpec.LifecycleConfigArn
}

// effectiveLCC is the lifecycle configuration ARN an app starts with: the one its
// CreateApp ResourceSpec names, else the app type's DefaultResourceSpec of the first
// settings that name one: the space's, its owner's (private spaces) or the profile's
// UserSettings, the domain's DefaultSpaceSettings (spaces), the domain's
// DefaultUserSettings. "None" (which the API accepts) means none and stops the search.
func (e *Emulator) effectiveLCC(d *domain, a *app) string {
	var spec struct{ LifecycleConfigArn string }
	if len(a.resourceSpec) > 0 {
		_ = json.Unmarshal(a.resourceSpec, &spec)
	}
	chain := []json.RawMessage{}
	if s := d.spaces[a.space]; a.space != "" && s != nil {
		chain = append(chain, s.settings)
		// A private space is its owner's: the owner's defaults apply to it.
		if p := d.profiles[s.owner]; s.sharingType == "Private" && p != nil {
			chain = append(chain, p.settings)
		}
		chain = append(chain, d.defaultSpaceSettings)
	} else if p := d.profiles[a.profile]; p != nil {
		chain = append(chain, p.settings)
	}
	chain = append(chain, d.defaultUserSettings)
	arn := spec.LifecycleConfigArn
	for _, s := range chain {
		if arn != "" {
			break
		}
		arn = defaultLCCArn(s, appSettingsMember[a.appType])
	}
	if arn == "None" {
		return ""
	}
	return arn
}

// lccByArn finds a stored lifecycle configuration by ARN.
func (e *Emulator) lccByArn(arn string) *studioLCC {
	_, name, ok := strings.Cut(arn, ":studio-lifecycle-config/")
	if !ok {
		return nil
	}
	if l := e.lccs[name]; l != nil && l.arn == arn {
		return l
	}
	return nil
}

// appHome is the folder an app's home is in: the EBS folder of a JupyterLab or Code
// Editor space, else the owner's /<uid> on the domain's EFS. "" when the emulator
// keeps no folder for it (EBSRoot or EFSRoot unset, no EFS).
func (e *Emulator) appHome(d *domain, a *app) string {
	uid := ""
	if s := d.spaces[a.space]; a.space != "" && s != nil {
		if onEBS(s.settings) {
			return e.ebsHome(d, s)
		}
		uid = s.uid
	} else if p := d.profiles[a.profile]; p != nil {
		uid = p.uid
	}
	if e.opts.EFSRoot == "" || d.fsID == "" || uid == "" {
		return ""
	}
	return filepath.Join(e.opts.EFSRoot, d.fsID, uid)
}

// executionRole is the role the app's session would get (for resource-metadata.json).
func executionRole(chain ...json.RawMessage) string {
	for _, s := range chain {
		var v struct{ ExecutionRole string }
		if len(s) > 0 && json.Unmarshal(s, &v) == nil && v.ExecutionRole != "" {
			return v.ExecutionRole
		}
	}
	return ""
}

// resourceMetadata is /opt/ml/metadata/resource-metadata.json as Studio writes it in
// an app's container (the scripts read DomainId, UserProfileName and SpaceName).
type resourceMetadata struct {
	AppType          string `json:"AppType"`
	DomainId         string `json:"DomainId"`
	UserProfileName  string `json:"UserProfileName"`
	SpaceName        string `json:"SpaceName,omitempty"`
	ResourceArn      string `json:"ResourceArn"`
	ResourceName     string `json:"ResourceName"`
	AppImageVersion  string `json:"AppImageVersion"`
	ExecutionRoleArn string `json:"ExecutionRoleArn,omitempty"`
}

// startLCC runs the lifecycle configuration the app's settings attach, if the
// emulator runs them (Options.LCC) and one is attached; the app then stays Pending
// until the script has exited (a.lccHeld). Called by CreateApp under e.mu, after
// a.begin; an app whose creation is armed to fail runs nothing. A configuration that
// cannot be run (missing, of another app type, no home folder) is decided here.
func (e *Emulator) startLCC(d *domain, a *app) {
	if e.opts.LCC == nil || a.target != statusInService {
		return
	}
	arn := e.effectiveLCC(d, a)
	if arn == "" {
		return
	}
	fail := func(format string, args ...any) {
		a.target, a.targetReason = statusFailed, fmt.Sprintf(format, args...)
		e.log.Warn("app fails to start: lifecycle configuration", "app", a.arn, "lcc", arn, "reason", a.targetReason)
	}
	l := e.lccByArn(arn)
	if l == nil {
		fail("Lifecycle configuration %s does not exist.", arn)
		return
	}
	if l.appType != a.appType {
		// Studio offers an app only the configurations of its own type; one of
		// another type that a default names is not run.
		e.log.Debug("not running a lifecycle configuration of another app type", "app", a.arn, "lcc", arn, "lcc_app_type", l.appType, "app_type", a.appType)
		return
	}
	if e.lcc.closed {
		fail("Lifecycle configuration %s was not run: the emulator is closing.", l.name)
		return
	}
	run, logFile, err := e.prepareLCC(d, a, l)
	if err != nil {
		fail("Lifecycle configuration %s could not be started: %v", l.name, err)
		return
	}
	timeout := e.opts.LCC.Timeout
	if timeout <= 0 {
		timeout = DefaultLCCTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &lccProc{
		res:    &LCCResult{LCCRun: run, AppArn: a.arn, Started: e.now(), ExitCode: -1, LogFile: logFile},
		cancel: cancel,
		done:   make(chan struct{}),
	}
	if e.lcc.running == nil {
		e.lcc.running = map[*app]*lccProc{}
	}
	e.lcc.running[a] = p
	e.lcc.runs = append(e.lcc.runs, p.res)
	a.lccHeld = true
	e.lcc.wg.Add(1)
	go e.runLCC(ctx, a, p, timeout, e.opts.LCC.Run)
}

// prepareLCC writes the script and the resource metadata of one run into a folder of
// its own and works out the home, its owner and the environment.
func (e *Emulator) prepareLCC(d *domain, a *app, l *studioLCC) (LCCRun, string, error) {
	script, err := base64.StdEncoding.DecodeString(l.content)
	if err != nil {
		return LCCRun{}, "", fmt.Errorf("decoding its content: %w", err)
	}
	home := e.appHome(d, a)
	if home == "" {
		return LCCRun{}, "", fmt.Errorf("the emulator keeps no home folder for %s (start it with EBSRoot for JupyterLab and Code Editor spaces, EFSRoot otherwise)", a.arn)
	}
	fi, err := os.Stat(home)
	if err != nil {
		return LCCRun{}, "", fmt.Errorf("reading the home folder: %w", err)
	}
	uid, gid := -1, -1
	if o, g, ok := ownerOf(fi); ok && os.Geteuid() == 0 {
		uid, gid = o, g
	}
	if e.lcc.dir == "" {
		dir, err := os.MkdirTemp("", "emulator-lcc-")
		if err != nil {
			return LCCRun{}, "", fmt.Errorf("creating the folder for lifecycle configuration runs: %w", err)
		}
		e.lcc.dir = dir
	}
	dir := filepath.Join(e.lcc.dir, strconv.Itoa(len(e.lcc.runs)+1)+"-"+d.id+"-"+a.profile+a.space+"-"+a.name)
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return LCCRun{}, "", fmt.Errorf("creating the run folder: %w", err)
	}
	// The script runs as the home's owner: it must reach the run folder and own its
	// private /tmp (TMPDIR), as in its container.
	for _, p := range []string{e.lcc.dir, dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			return LCCRun{}, "", fmt.Errorf("opening the run folder to the app's user: %w", err)
		}
	}
	if uid >= 0 {
		if err := os.Chown(tmp, uid, gid); err != nil {
			return LCCRun{}, "", fmt.Errorf("giving the run's TMPDIR to %d:%d: %w", uid, gid, err)
		}
	}
	md := resourceMetadata{
		AppType: a.appType, DomainId: d.id, UserProfileName: a.profile, SpaceName: a.space,
		ResourceArn: a.arn, ResourceName: a.name,
	}
	var chain []json.RawMessage
	if s := d.spaces[a.space]; a.space != "" && s != nil {
		md.UserProfileName = s.owner
		chain = append(chain, s.settings)
		if p := d.profiles[s.owner]; p != nil {
			chain = append(chain, p.settings)
		}
		chain = append(chain, d.defaultSpaceSettings)
	} else if p := d.profiles[a.profile]; p != nil {
		chain = append(chain, p.settings)
	}
	md.ExecutionRoleArn = executionRole(append(chain, d.defaultUserSettings)...)
	mdJSON, _ := json.Marshal(md)
	run := LCCRun{
		DomainID: d.id, UserProfileName: md.UserProfileName, SpaceName: a.space,
		AppType: a.appType, AppName: a.name, LCCArn: l.arn, LCCName: l.name,
		Script: script, Home: home, MetadataFile: filepath.Join(dir, "resource-metadata.json"),
		UID: uid, GID: gid,
	}
	run.Env = mergeEnv([]string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"HOME=" + home,
		"HOME_DIR=" + home,
		"RESOURCE_METADATA=" + run.MetadataFile,
		"TMPDIR=" + tmp,
	}, e.opts.LCC.Env)
	if err := os.WriteFile(run.MetadataFile, mdJSON, 0o644); err != nil {
		return LCCRun{}, "", fmt.Errorf("writing the resource metadata: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "on-start.sh"), script, 0o755); err != nil {
		return LCCRun{}, "", fmt.Errorf("writing the script: %w", err)
	}
	if e.opts.LCC.Run != nil {
		return run, "", nil
	}
	return run, filepath.Join(dir, "lcc.log"), nil
}

// mergeEnv appends extra to base, a later KEY replacing an earlier one.
func mergeEnv(base, extra []string) []string {
	out := []string{}
	idx := map[string]int{}
	for _, kv := range append(append([]string{}, base...), extra...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// runLCC runs one script to its end (the goroutine startLCC starts) and settles its
// app: InService (after ReadyAfter) on exit 0, Failed otherwise.
func (e *Emulator) runLCC(ctx context.Context, a *app, p *lccProc, timeout time.Duration, runFn func(context.Context, LCCRun) error) {
	defer e.lcc.wg.Done()
	defer close(p.done)
	defer p.cancel()
	run := p.res.LCCRun
	var err error
	var output string
	if runFn != nil {
		err = runFn(ctx, run)
	} else {
		err = bashLCC(ctx, run, p.res.LogFile)
		output = tailOf(p.res.LogFile)
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		code = ee.ExitCode()
	default:
		code = -1
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	res := p.res
	res.Finished, res.ExitCode, res.Output = e.now(), code, output
	what := "Lifecycle configuration " + run.LCCName + " (" + run.LCCArn + ")"
	switch {
	case p.killed != "":
		res.Err = what + " was killed: " + p.killed + "."
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Err = fmt.Sprintf("%s did not finish within the lifecycle configuration time limit of %s and was stopped.", what, timeout)
	case err != nil && code > 0:
		res.Err = fmt.Sprintf("%s exited with a non-zero exit code %d.", what, code)
	case err != nil:
		res.Err = fmt.Sprintf("%s failed: %v.", what, err)
	}
	if res.Err != "" && res.LogFile != "" {
		if last := lastLine(output); last != "" {
			res.Err += " Last output: " + last
		}
	}
	delete(e.lcc.running, a)
	e.log.Debug("lifecycle configuration finished", "app", a.arn, "lcc", run.LCCArn, "exit", code, "err", res.Err, "output", output)
	if !a.lccHeld { // deleted meanwhile: the app has moved on
		return
	}
	a.lccHeld = false
	if res.Err != "" {
		a.target, a.targetReason = statusFailed, res.Err
	}
	if res.Finished.After(a.settleAt) {
		a.settleAt = res.Finished
	}
}

func tailOf(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > lccTail {
		_, _ = f.Seek(-lccTail, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 256 {
		s = s[len(s)-256:]
	}
	return s
}

// killLCC stops the script of an app that is being deleted. Called under e.mu.
func (e *Emulator) killLCC(a *app, why string) {
	p := e.lcc.running[a]
	if p == nil {
		return
	}
	a.lccHeld = false
	p.killed = why
	p.cancel()
}

// LCCRuns lists the lifecycle configuration runs so far, oldest first, finished or not.
func (e *Emulator) LCCRuns() []LCCResult {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]LCCResult, 0, len(e.lcc.runs))
	for _, r := range e.lcc.runs {
		out = append(out, *r)
	}
	return out
}

// Close kills every lifecycle configuration script still running (its app goes
// Failed), waits for them to end and removes the emulator's run folder; later apps
// run none. Work a script left in the background (nohup) is its own business. Serve
// calls Close when its context ends; code that runs LCCs with its own server calls it.
// Calling it again does nothing.
func (e *Emulator) Close() error {
	e.mu.Lock()
	e.lcc.closed = true
	for _, p := range e.lcc.running {
		// The app stays held: runLCC fails it with this reason.
		p.killed = "the emulator closed"
		p.cancel()
	}
	e.mu.Unlock()
	e.lcc.wg.Wait()
	e.mu.Lock()
	dir := e.lcc.dir
	e.lcc.dir = ""
	e.mu.Unlock()
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("removing the lifecycle configuration runs folder %s: %w", dir, err)
		}
	}
	return nil
}
