//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestHelpConventions walks the whole command tree (commands added later included):
// every command's --help has an example, no two subcommands of a command share a
// name (the second would be listed but never run), and --output, wherever it
// exists, is a format (-o, its usage names the formats), never a file.
func TestHelpConventions(t *testing.T) {
	root := newRootCommand()
	var walk func(c *cobra.Command)
	seen := 0
	walk = func(c *cobra.Command) {
		// cobra's own help and completion commands are not ours to document.
		if c.Name() == "help" || c.Name() == "completion" {
			return
		}
		seen++
		t.Run(strings.ReplaceAll(c.CommandPath(), " ", "_"), func(t *testing.T) {
			var out bytes.Buffer
			c.SetOut(&out)
			if err := c.Help(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "Examples:\n  migrator") && !strings.Contains(out.String(), "Examples:\n  sudo") {
				t.Errorf("%s --help has no example:\n%s", c.CommandPath(), out.String())
			}
			f := c.Flags().Lookup("output")
			if f == nil {
				return
			}
			if f.Shorthand != "o" {
				t.Errorf("--output has shorthand %q, want -o", f.Shorthand)
			}
			usage := strings.ToLower(f.Usage)
			if !strings.Contains(usage, "format") || strings.Contains(usage, "file") {
				t.Errorf("--output usage %q: want a format, not a file", f.Usage)
			}
			named := 0
			for _, format := range []string{cli.FormatText, cli.FormatJSON, cli.FormatTable} {
				if strings.Contains(usage, format) {
					named++
				}
			}
			if named == 0 {
				t.Errorf("--output usage %q names no format", f.Usage)
			}
			// A file flag, where a command has one, is not -o.
			c.Flags().VisitAll(func(fl *pflag.Flag) {
				if fl.Name != "output" && fl.Shorthand == "o" {
					t.Errorf("--%s takes -o, which is the output format everywhere", fl.Name)
				}
			})
		})
		names := map[string]bool{}
		for _, sub := range c.Commands() {
			if names[sub.Name()] {
				t.Errorf("%s has two subcommands named %s", c.CommandPath(), sub.Name())
			}
			names[sub.Name()] = true
			walk(sub)
		}
	}
	walk(root)
	if seen < 8 {
		t.Errorf("walked %d commands, want every one", seen)
	}
}

// snapshotDoc takes a snapshot of the emulator's domain with the given extra args
// and returns what the command printed and its error.
func snapshotCmd(t *testing.T, url, id string, args ...string) (string, string, int, error) {
	t.Helper()
	return runMigratorIn(t, context.Background(), "", append([]string{"snapshot", "--domain", id, "--endpoint-url", url, "--region", "us-east-1"}, args...)...)
}

func mustSnapshot(t *testing.T, b []byte, where string) {
	t.Helper()
	if _, err := studio.ReadSnapshot(bytes.NewReader(b)); err != nil {
		t.Errorf("%s does not hold a snapshot: %v\n%s", where, err, b)
	}
}

// TestSnapshotOutFileSpecialFiles: --out-file writes into anything that is not a
// regular file in place (a device, a FIFO, a process substitution's /dev/fd/N) and
// through a symlink; only a regular file is replaced (atomically).
func TestSnapshotOutFileSpecialFiles(t *testing.T) {
	url, id := emulatorDomain(t)
	dir := t.TempDir()

	t.Run("character device", func(t *testing.T) {
		null := filepath.Join(dir, "null")
		if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil { // /dev/null's 1:3
			t.Skipf("cannot make a device node here: %v", err)
		}
		if _, stderr, _, err := snapshotCmd(t, url, id, "-f", null); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		fi, err := os.Lstat(null)
		if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Errorf("the device was replaced: %v %v", fi.Mode(), err)
		}
	})

	t.Run("fifo", func(t *testing.T) {
		fifo := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 1)
		go func() {
			f, err := os.Open(fifo) // blocks until the writer opens it
			if err != nil {
				got <- nil
				return
			}
			b, _ := io.ReadAll(f)
			f.Close()
			got <- b
		}()
		if _, stderr, _, err := snapshotCmd(t, url, id, "-f", fifo); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		select {
		case b := <-got:
			mustSnapshot(t, b, "the FIFO")
		case <-time.After(10 * time.Second):
			t.Fatal("nothing read from the FIFO")
		}
		if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("the FIFO was replaced: %v %v", fi.Mode(), err)
		}
	})

	t.Run("process substitution", func(t *testing.T) {
		// What bash's >(wc -c) hands over: /dev/fd/N, the write end of a pipe.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got := make(chan []byte, 1)
		go func() { b, _ := io.ReadAll(r); got <- b }()
		_, stderr, _, err := snapshotCmd(t, url, id, "-f", fmt.Sprintf("/dev/fd/%d", w.Fd()))
		w.Close()
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		mustSnapshot(t, <-got, "the pipe")
	})

	t.Run("symlink", func(t *testing.T) {
		target := filepath.Join(dir, "target.json")
		if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link.json")
		if err := os.Symlink("target.json", link); err != nil {
			t.Fatal(err)
		}
		if _, stderr, _, err := snapshotCmd(t, url, id, "-f", link); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the symlink was replaced: %v %v", fi.Mode(), err)
		}
		b, _ := os.ReadFile(target)
		mustSnapshot(t, b, "the symlink's target")
		if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
			t.Errorf("target mode %v, want its 0600 kept", fi.Mode().Perm())
		}
	})

	t.Run("regular file replaced atomically", func(t *testing.T) {
		sub := t.TempDir()
		file := filepath.Join(sub, "snap.json")
		if err := os.WriteFile(file, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, stderr, _, err := snapshotCmd(t, url, id, "--out-file", file); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		b, _ := os.ReadFile(file)
		mustSnapshot(t, b, file)
		if entries, _ := os.ReadDir(sub); len(entries) != 1 {
			t.Errorf("%d entries beside the snapshot, want none (temporary files left?)", len(entries)-1)
		}
	})

	t.Run("-o is the format", func(t *testing.T) {
		// -o json once wrote a file named "json"; now it is the format, on stdout.
		t.Chdir(t.TempDir())
		stdout, stderr, code, err := snapshotCmd(t, url, id, "-o", "json")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		mustSnapshot(t, []byte(stdout), "stdout")
		if _, err := os.Stat("json"); err == nil {
			t.Error(`-o json wrote a file named "json"`)
		}
		// -o FILE, the old spelling, is refused with the new one named, and
		// writes nothing.
		_, _, code, err = snapshotCmd(t, url, id, "-o", "snap.json")
		if code != cli.ExitUsage || err == nil || !strings.Contains(err.Error(), "--out-file snap.json") {
			t.Errorf("-o snap.json: exit %d, %v", code, err)
		}
		if _, err := os.Stat("snap.json"); err == nil {
			t.Error("-o snap.json wrote a file")
		}
	})
}

// TestDashIsStdinAndStdout: "-" means standard input or output for every file flag.
func TestDashIsStdinAndStdout(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s := &studio.Snapshot{
		SchemaVersion: studio.SchemaVersion, Region: "us-east-1",
		Domain: studio.Domain{ID: "d-abcdefghijkl", ARN: "arn:aws:sagemaker:us-east-1:111122223333:domain/d-abcdefghijkl",
			Name: "research", AuthMode: "IAM", HomeEfsFileSystemID: "fs-0123456789abcdef0",
			VpcID: "vpc-0a1b2c3d4e5f60718", SubnetIDs: []string{"subnet-0123456789abcdef0"}},
		UserProfiles: []studio.UserProfile{{Name: "alice", HomeEfsFileSystemUID: "200001", ExecutionRole: "arn:aws:iam::111122223333:role/Alice"}},
	}
	doc, err := studio.MarshalSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code, err := runMigratorIn(t, context.Background(), string(doc), "iam-policy", "--snapshot", "-")
	if err != nil || code != cli.ExitOK {
		t.Fatalf("iam-policy --snapshot -: exit %d, %v\n%s", code, err, stderr)
	}
	if !strings.Contains(stdout, "role/Alice") {
		t.Errorf("policy from stdin lacks the snapshot's role:\n%s", stdout)
	}

	stdout, stderr, code, err = runMigratorIn(t, context.Background(), string(doc), "plan", "--snapshot", "-", "-o", "json")
	if err != nil || code != cli.ExitOK {
		t.Fatalf("plan --snapshot -: exit %d, %v\n%s", code, err, stderr)
	}
	// Plan JSON keeps "->" as it is (it was escaped as -\u003e).
	if strings.Contains(stdout, `\u003e`) || !strings.Contains(stdout, "/200001 on fs-0123456789abcdef0 -> the new profile's UID") {
		t.Errorf("plan JSON escapes or lacks ->:\n%s", stdout)
	}

	// Two flags cannot both read stdin.
	_, _, code, err = runMigratorIn(t, context.Background(), string(doc), "plan", "--snapshot", "-", "--auth-mode", "SSO", "--user-mapping", "-")
	if code != cli.ExitUsage || err == nil || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("two stdin flags: exit %d, %v", code, err)
	}

	// copy-home --report -: the JSON report on stdout, the summary on stderr, and
	// no file named "-".
	base := t.TempDir()
	src, to := filepath.Join(base, "old", "200001"), filepath.Join(base, "new", "200007")
	testutil.HomeTree(t, src, 5)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code, err = runMigratorIn(t, context.Background(), "", "copy-home", "--from", src, "--to", to, "--uid", "200007", "--report", "-", "--progress", "none")
	if err != nil || code != cli.ExitOK {
		t.Fatalf("copy-home --report -: exit %d, %v\n%s", code, err, stderr)
	}
	var res struct {
		Copy *struct{ Files int }
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Copy == nil || res.Copy.Files != 5 {
		t.Errorf("stdout is not the report (%v):\n%s", err, stdout)
	}
	if !strings.Contains(stderr, "copy-home "+src+" -> "+to+": 5 files") {
		t.Errorf("summary not on stderr:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "-")); err == nil {
		t.Error(`--report - made a file named "-"`)
	}
}

// TestExitCodes: each outcome has its own documented code, per command.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "errors.json")
	s := &studio.Snapshot{
		SchemaVersion: studio.SchemaVersion, Region: "us-east-1",
		Domain: studio.Domain{ID: "d-abcdefghijkl", Name: "research", AuthMode: "IAM", HomeEfsFileSystemID: "fs-0123456789abcdef0",
			VpcID: "vpc-0a1b2c3d4e5f60718", SubnetIDs: []string{"subnet-0123456789abcdef0"}},
		UserProfiles: []studio.UserProfile{{Name: "alice", HomeEfsFileSystemUID: "200001"}},
	}
	doc, _ := studio.MarshalSnapshot(s)
	if err := os.WriteFile(bad, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	src := filepath.Join(base, "old", "200001")
	testutil.HomeTree(t, src, 3)
	if err := os.MkdirAll(filepath.Join(base, "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		args []string
		want int
	}{
		{"version", nil, []string{"version"}, cli.ExitOK},
		{"unknown command", nil, []string{"nosuch"}, cli.ExitUsage},
		{"unknown flag", nil, []string{"plan", "--bogus"}, cli.ExitUsage},
		{"plan takes no --endpoint-url", nil, []string{"plan", "--snapshot", bad, "--endpoint-url", "garbage"}, cli.ExitUsage},
		{"plan takes no --profile", nil, []string{"plan", "--snapshot", bad, "--profile", "x"}, cli.ExitUsage},
		{"missing required flag", nil, []string{"plan"}, cli.ExitUsage},
		{"stray argument", nil, []string{"iam-policy", "extra"}, cli.ExitUsage},
		{"bad format", nil, []string{"plan", "--snapshot", bad, "-o", "yaml"}, cli.ExitUsage},
		{"bad log level", nil, []string{"version", "--log-level", "loud"}, cli.ExitUsage},
		{"bad concurrency", nil, []string{"snapshot", "--domain", "d-x", "--concurrency", "0"}, cli.ExitUsage},
		{"iam-policy bad auth mode", nil, []string{"iam-policy", "--snapshot", bad, "--new-auth-mode", "x"}, cli.ExitUsage},
		{"copy-home bad uid", nil, []string{"copy-home", "--from", src, "--to", filepath.Join(base, "new", "x"), "--uid", "abc"}, cli.ExitUsage},
		{"copy-home bad progress", nil, []string{"copy-home", "--from", src, "--to", filepath.Join(base, "new", "x"), "--uid", "7", "--progress", "fancy"}, cli.ExitUsage},
		{"demo bad throttle rate", nil, []string{"demo", "--throttle-rate", "2"}, cli.ExitUsage},
		{"emulator bad throttle rate", nil, []string{"emulator", "--throttle-rate", "2"}, cli.ExitUsage},
		{"plan with errors", nil, []string{"plan", "--snapshot", bad, "--auth-mode", "SSO"}, cli.ExitPlanErrors},
		{"plan clean", nil, []string{"plan", "--snapshot", bad, "--domain-name", "research-v2"}, cli.ExitOK},
		{"missing snapshot file", nil, []string{"plan", "--snapshot", filepath.Join(dir, "nope.json")}, cli.ExitFatal},
		{"copy-home missing source", nil, []string{"copy-home", "--from", filepath.Join(base, "nope"), "--to", filepath.Join(base, "new", "x"), "--uid", "7", "--progress", "none"}, cli.ExitFatal},
		{"copy-home interrupted", cancelled, []string{"copy-home", "--from", src, "--to", filepath.Join(base, "new", "y"), "--uid", "7", "--progress", "none"}, cli.ExitInterrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, stderr, code, err := runMigratorIn(t, ctx, "", tc.args...)
			if code != tc.want {
				t.Errorf("migrator %s: exit %d, want %d (%v)\n%s", strings.Join(tc.args, " "), code, tc.want, err, stderr)
			}
		})
	}
}

// TestCopyHomeExitCodes: --verify differences exit 4, failed entries exit 5.
func TestCopyHomeExitCodes(t *testing.T) {
	base := t.TempDir()
	src, to := filepath.Join(base, "old", "200001"), filepath.Join(base, "new", "200007")
	testutil.HomeTree(t, src, 20)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := copyHome(t, "--from", src, "--to", to, "--uid", "200007", "--progress", "none"); err != nil {
		t.Fatal(err)
	}

	// Same size and mtime, other content: the copy's quick check keeps it, and
	// --verify --checksum finds it.
	f := filepath.Join(to, "d03", "f0003")
	fi, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, bytes.Repeat([]byte("X"), int(fi.Size())), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(f, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	_, stderr, code, err := runMigratorIn(t, context.Background(), "", "copy-home", "--from", src, "--to", to, "--uid", "200007", "--verify", "--checksum", "--progress", "none")
	if code != cli.ExitDifferences {
		t.Errorf("verify with a difference: exit %d, want %d (%v)\n%s", code, cli.ExitDifferences, err, stderr)
	}

	// A destination directory where the source has a file, and that directory a
	// mount point: it cannot be removed (EBUSY), so that one entry fails, the rest
	// is copied, exit 5.
	to2 := filepath.Join(base, "new", "200008")
	if _, err := copyHome(t, "--from", src, "--to", to2, "--uid", "200008", "--progress", "none"); err != nil {
		t.Fatal(err)
	}
	busy := filepath.Join(to2, "d05", "f0005")
	if err := os.Remove(busy); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(busy, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", busy, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount here: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(busy, syscall.MNT_DETACH) })
	stdout, stderr, code, err := runMigratorIn(t, context.Background(), "", "copy-home", "--from", src, "--to", to2, "--uid", "200008", "--progress", "none")
	if code != cli.ExitPartial || !errors.Is(err, efs.ErrEntriesFailed) {
		t.Errorf("failed entries: exit %d, want %d (%v)\n%s", code, cli.ExitPartial, err, stderr)
	}
	if !strings.Contains(stdout, `error: "d05/f0005"`) || !strings.Contains(stdout, "1 error\n") {
		t.Errorf("failed entry not listed:\n%s", stdout)
	}
}

// TestErrorMessageAWS: missing credentials and an unreachable endpoint are printed
// as their own message, not behind the SDK's "operation error ... get identity".
func TestErrorMessageAWS(t *testing.T) {
	ce := &awsconfig.CredentialsError{NoneFound: true, Err: errors.New("no EC2 IMDS role found")}
	wrapped := fmt.Errorf("describing domain d-x: operation error SageMaker: DescribeDomain, get identity: get credentials: %w", ce)
	if got := errorMessage(wrapped); got != ce.Error() || !strings.HasPrefix(got, "no AWS credentials found") {
		t.Errorf("errorMessage = %q", got)
	}
	plain := errors.New("x")
	if errorMessage(plain) != "x" {
		t.Error("plain error changed")
	}
}

func TestVersion(t *testing.T) {
	stdout, _, code, err := runMigratorIn(t, context.Background(), "", "version")
	if err != nil || code != 0 || !strings.HasPrefix(stdout, "migrator ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("version: %d %v %q", code, err, stdout)
	}
	stdout, _, _, err = runMigratorIn(t, context.Background(), "", "version", "-o", "json")
	var info cli.BuildInfo
	if err != nil || json.Unmarshal([]byte(stdout), &info) != nil || info.GoVersion == "" || info.Version == "" {
		t.Errorf("version -o json: %v %q", err, stdout)
	}
}

// TestSnapshotAWSErrors: a wrong --endpoint-url fails within seconds naming the
// endpoint; missing credentials say how to provide them; the SDK's own warnings
// land in our log on stderr, not as a stray "SDK <date> WARN" line.
func TestSnapshotAWSErrors(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_SAGEMAKER", "")

	t.Run("closed port", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "x")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		endpoint := "http://" + ln.Addr().String()
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		_, stderr, code, err := runMigratorIn(t, ctx, "", "snapshot", "--domain", "d-x", "--region", "us-east-1", "--endpoint-url", endpoint)
		if took := time.Since(start); took > 8*time.Second {
			t.Errorf("took %v", took)
		}
		if code != cli.ExitFatal || err == nil || !strings.HasPrefix(errorMessage(err), "cannot reach the AWS endpoint "+endpoint) {
			t.Errorf("exit %d, %v\n%s", code, err, stderr)
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE",
			"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_EC2_METADATA_DISABLED"} {
			t.Setenv(v, "")
		}
		imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut {
				w.WriteHeader(http.StatusForbidden) // so the SDK warns about falling back to IMDSv1
				return
			}
			w.WriteHeader(http.StatusNotFound)
		}))
		defer imds.Close()
		t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
		_, stderr, code, err := runMigratorIn(t, context.Background(), "", "snapshot", "--domain", "d-x", "--region", "us-east-1",
			"--endpoint-url", "http://127.0.0.1:9", "--log-level", "debug")
		msg := ""
		if err != nil {
			msg = errorMessage(err)
		}
		if code != cli.ExitFatal || !strings.HasPrefix(msg, "no AWS credentials found") || !strings.Contains(msg, "aws sso login") {
			t.Errorf("exit %d, message %q", code, msg)
		}
		if !strings.Contains(stderr, `level=DEBUG msg="aws sdk: falling back to IMDSv1`) {
			t.Errorf("the SDK's warning is not in our log:\n%s", stderr)
		}
	})
}
