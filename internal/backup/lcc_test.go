//go:build linux

package backup_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/backup/backuptest"
	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// The LCC tests run the real scripts with bash and the real AWS CLI v2 (/usr/bin/aws,
// Debian awscli; an `aws` earlier in PATH may be v1) against the in-process S3 server.

var scriptsDir = filepath.Join("..", "..", "scripts", "lcc")

// lcc is backuptest.LCC with this package's bucket, prefix and scripts.
type lcc struct {
	*backuptest.LCC
	srv *s3test.Server
	tmp string
}

func newLCC(t *testing.T) (*lcc, backup.Store) {
	testutil.RequireBinary(t, "apt-get install awscli", "/usr/bin/aws")
	srv, st := newStore(t)
	l := &backuptest.LCC{T: t, Server: srv, Scripts: scriptsDir, Bucket: "backups", Prefix: "studio", Tmp: t.TempDir()}
	return &lcc{LCC: l, srv: srv, tmp: l.Tmp}, st
}

func (l *lcc) metadata(domain, space, profile string) string {
	return l.Metadata(domain, space, profile)
}

func (l *lcc) cmd(script, home, metadata string, env ...string) *exec.Cmd {
	return l.Cmd(script, home, metadata, env...)
}

func (l *lcc) run(script, home, metadata string, env ...string) string {
	l.T.Helper()
	return l.Run(script, home, metadata, env...)
}

// TestLCCRoundTrip: backup-home.sh then restore-home.sh into an empty home of a new
// domain gives back every entry (content, mode, link, hardlink, mtime to the
// nanosecond), the invalid-UTF-8 name included; a rerun uploads nothing.
func TestLCCRoundTrip(t *testing.T) {
	t.Parallel() // most of the time goes to starting the AWS CLI
	l, st := newLCC(t)
	src := t.TempDir()
	makeHome(t, src)
	out := l.run("backup-home.sh", src, l.metadata("d-old", "team", ""))
	m, err := backup.Latest(ctxBG, st, "d-old", backup.Space, "team")
	if err != nil {
		t.Fatalf("no marker after backup-home.sh: %v\n%s", err, out)
	}
	if m.Writer != "lcc" || m.Files != 10 || m.Encoded != 2 || m.Errors != 0 || m.Uploaded != 10 {
		t.Errorf("marker %+v: want writer lcc, 10 files all uploaded, 2 encoded names, no errors\n%s", m, out)
	}
	dst := t.TempDir()
	out = l.run("restore-home.sh", dst, l.metadata("d-new", "team", ""), "BACKUP_SOURCE_DOMAIN=d-old")
	diffTrees(t, snapshot(t, src, false), snapshot(t, dst, false))
	if _, err := os.Stat(filepath.Join(dst, invalidName)); err != nil {
		t.Errorf("the invalid-UTF-8 name was not restored: %v", err)
	}
	a, _ := os.Lstat(filepath.Join(src, "dangling"))
	b, _ := os.Lstat(filepath.Join(dst, "dangling"))
	if !a.ModTime().Equal(b.ModTime()) {
		t.Errorf("symlink mtime %v, want %v", b.ModTime(), a.ModTime())
	}
	var restored int
	st2 := st
	keys := listKeys(t, st2, "studio/d-new/space/team/restored/")
	restored = len(keys)
	if restored != 1 {
		t.Errorf("restore markers under d-new: %v, want one\n%s", keys, out)
	}

	// Rerun: nothing changed, nothing uploaded.
	l.run("backup-home.sh", src, l.metadata("d-old", "team", ""))
	m2, _ := backup.Latest(ctxBG, st, "d-old", backup.Space, "team")
	if m2.Run == m.Run || m2.Uploaded != 0 || m2.Files != 10 {
		t.Errorf("rerun marker %+v: want a new run that uploaded nothing", m2)
	}
	// A home that is not empty is left alone.
	os.WriteFile(filepath.Join(dst, "notebook.ipynb"), []byte("local work"), 0o644)
	out = l.run("restore-home.sh", dst, l.metadata("d-new", "team", ""), "BACKUP_SOURCE_DOMAIN=d-old")
	if b, _ := os.ReadFile(filepath.Join(dst, "notebook.ipynb")); string(b) != "local work" || !strings.Contains(out, "not empty") {
		t.Errorf("restore into a non-empty home: notebook %q, output %s", b, out)
	}
}

func listKeys(t *testing.T, st backup.Store, prefix string) []string {
	t.Helper()
	var keys []string
	out, err := st.Client.ListObjectsV2(ctxBG, listInput(st.Bucket, prefix))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}

// TestLCCKilledMidway kills backup-home.sh while it uploads: no new marker, a restore
// gives back the previous backup exactly, and the next run completes.
func TestLCCKilledMidway(t *testing.T) {
	t.Parallel() // most of the time goes to starting the AWS CLI
	l, st := newLCC(t)
	src := t.TempDir()
	makeHome(t, src)
	meta := l.metadata("d-1", "", "alice")
	l.run("backup-home.sh", src, meta)
	want := snapshot(t, src, false)
	os.WriteFile(filepath.Join(src, "notebook.ipynb"), []byte("changed, not yet backed up"), 0o644)
	for i := range 40 {
		os.WriteFile(filepath.Join(src, "envs", fmt.Sprintf("new-%02d", i)), bytes.Repeat([]byte{'n'}, 1000), 0o644)
	}
	c := l.cmd("backup-home.sh", src, meta)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := c.Process.Pid // read here, not in the server's goroutine
	var puts atomic.Int32
	killed := make(chan struct{})
	l.srv.SetHook(func(r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/data/") && puts.Add(1) == 3 {
			syscall.Kill(-pgid, syscall.SIGKILL) // the script and its aws processes
			close(killed)
		}
	})
	c.Wait()
	l.srv.SetHook(nil)
	select {
	case <-killed:
	default:
		t.Fatalf("the backup finished before it could be killed:\n%s", out.String())
	}
	runs, err := backup.CompleteRuns(ctxBG, st, "d-1", backup.Profile, "alice")
	if err != nil || len(runs) != 1 {
		t.Fatalf("complete runs after the kill: %v (%v); want only the first", runs, err)
	}
	dst := t.TempDir()
	l.run("restore-home.sh", dst, meta)
	diffTrees(t, want, snapshot(t, dst, false))

	os.RemoveAll(filepath.Join(l.tmp, "backup-home.sh.lock")) // what a container restart does to /tmp
	l.run("backup-home.sh", src, meta)
	if runs, _ := backup.CompleteRuns(ctxBG, st, "d-1", backup.Profile, "alice"); len(runs) != 2 {
		t.Fatalf("complete runs after the rerun: %v, want 2", runs)
	}
	dst2 := t.TempDir()
	l.run("restore-home.sh", dst2, meta)
	diffTrees(t, snapshot(t, src, false), snapshot(t, dst2, false))
}

// TestLCCAndGoReadEachOther: a backup by the LCC restores with the Go worker (re-owned
// to a new UID), and a backup by the worker restores with the LCC.
func TestLCCAndGoReadEachOther(t *testing.T) {
	t.Parallel() // most of the time goes to starting the AWS CLI
	testutil.RequireRoot(t)
	l, st := newLCC(t)
	src := t.TempDir()
	makeHome(t, src)
	want := snapshot(t, src, false)

	l.run("backup-home.sh", src, l.metadata("d-a", "", "carol"))
	dst := t.TempDir()
	if _, err := backup.Restore(ctxBG, st, "d-a", backup.Profile, "carol", local(t, dst), 200777, 1001, backup.Options{}); err != nil {
		t.Fatal(err)
	}
	diffTrees(t, want, snapshot(t, dst, false))
	for p, d := range snapshot(t, dst, true) {
		if d.UID != 200777 {
			t.Errorf("%s owned by %d after the worker's restore, want 200777", p, d.UID)
		}
	}

	if _, err := backup.Backup(ctxBG, local(t, src), st, "d-b", backup.Space, "shared", backup.Options{}); err != nil {
		t.Fatal(err)
	}
	dst2 := t.TempDir()
	os.Chown(dst2, 200888, 1001)
	l.run("restore-home.sh", dst2, l.metadata("d-c", "shared", ""), "BACKUP_SOURCE_DOMAIN=d-b")
	diffTrees(t, want, snapshot(t, dst2, false))
	for p, d := range snapshot(t, dst2, true) {
		if d.UID != 200888 {
			t.Errorf("%s owned by %d after the LCC restore, want the home's owner 200888", p, d.UID)
		}
	}
	// The worker's rerun after an LCC backup of the same home uploads nothing.
	l.run("backup-home.sh", src, l.metadata("d-b", "shared", ""))
	m, err := backup.Backup(ctxBG, local(t, src), st, "d-b", backup.Space, "shared", backup.Options{})
	if err != nil || m.Uploaded != 0 {
		t.Errorf("worker backup after an LCC backup: uploaded %v, err %v; want 0", m, err)
	}
}

// TestLCCRestoreRefusesUnsafeManifest: restore-home.sh refuses a manifest with ".."
// or an absolute path, says why, and writes nothing.
func TestLCCRestoreRefusesUnsafeManifest(t *testing.T) {
	t.Parallel() // most of the time goes to starting the AWS CLI
	l, st := newLCC(t)
	base := backup.Base(st.Prefix, "d-x", backup.Profile, "mallory")
	run := backup.NewRunID(time.Now())
	for _, tc := range []struct{ name, line, want string }{
		{"dotdot", "f\t644\t1.000000000\t3\t-\t" + run + "\tp\tok/../../../etc/x\t", "unsafe path"},
		{"absolute", "f\t644\t1.000000000\t3\t-\t" + run + "\tp\t/etc/passwd\t", "unsafe path"},
		{"hex-dotdot", "f\t644\t1.000000000\t3\t-\t" + run + "\tx\t2e2e2f78\t", "unsafe path"},
		{"below-symlink", "l\t777\t1.000000000\t4\t-\t-\tp\tlnk\t/etc\nf\t644\t1.000000000\t3\t-\t" + run + "\tp\tlnk/passwd\t", "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			put(t, st, base+"manifests/"+run+".tsv", backup.ManifestHeader+"\nd\t755\t1.000000000\t0\t-\t-\tp\tok\t\n"+tc.line+"\n")
			put(t, st, base+"complete/"+run+".json", `{"run":"`+run+`"}`)
			dst := t.TempDir()
			out, err := l.cmd("restore-home.sh", dst, l.metadata("d-x", "", "mallory")).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "nothing restored") {
				t.Fatalf("err %v, output %s; want a failure saying %q", err, out, tc.want)
			}
			if ents, _ := os.ReadDir(dst); len(ents) != 0 {
				t.Errorf("the refused restore wrote %v", ents)
			}
		})
	}
}

// TestLCCReturnsAtOnceAndLocks: without BACKUP_FOREGROUND the script returns at once
// and the backup completes in the background; a live lock holder stops a second run.
func TestLCCReturnsAtOnceAndLocks(t *testing.T) {
	t.Parallel() // most of the time goes to starting the AWS CLI
	l, st := newLCC(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("a"), 0o644)
	meta := l.metadata("d-1", "", "dave")

	lock := filepath.Join(l.tmp, "backup-home.sh.lock")
	os.Mkdir(lock, 0o700)
	os.WriteFile(filepath.Join(lock, "pid"), []byte(fmt.Sprint(os.Getpid())), 0o644)
	out := l.run("backup-home.sh", src, meta)
	if !strings.Contains(out, "another backup") {
		t.Errorf("with the lock held: %s", out)
	}
	if ok, _, _ := backup.HasComplete(ctxBG, st, "d-1", backup.Profile, "dave"); ok {
		t.Fatal("a second run backed up while the lock was held")
	}
	os.RemoveAll(lock)

	start := time.Now()
	out = l.run("backup-home.sh", src, meta, "BACKUP_FOREGROUND=0")
	if took := time.Since(start); took > 20*time.Second || !strings.Contains(out, "background") {
		t.Errorf("backgrounded LCC took %v: %s", took, out)
	}
	if ok, _, _ := backup.HasComplete(ctxBG, st, "d-1", backup.Profile, "dave"); ok {
		t.Error("the marker was there when the LCC returned: it did not work in the background")
	}
	deadline := time.Now().Add(5 * time.Minute) // generous: a loaded machine starts the CLI slowly
	for {
		if ok, _, _ := backup.HasComplete(ctxBG, st, "d-1", backup.Profile, "dave"); ok {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(l.tmp, "backup-home.sh.log"))
			t.Fatalf("no marker 5 minutes after the background backup started; log:\n%s", log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLCCScriptsLintAndFit runs shellcheck on every shell script of the repository and
// checks each LCC fits the service's limit: StudioLifecycleConfigContent is base64
// of at most 16384 characters.
func TestLCCScriptsLintAndFit(t *testing.T) {
	sc := testutil.RequireBinary(t, "apt-get install shellcheck", "shellcheck")
	var scripts []string
	filepath.Walk(filepath.Join("..", ".."), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() && (fi.Name() == ".git" || fi.Name() == "testdata") {
			return filepath.SkipDir
		}
		if err == nil && fi.Mode().IsRegular() && strings.HasSuffix(p, ".sh") {
			scripts = append(scripts, p)
		}
		return nil
	})
	if len(scripts) < 3 {
		t.Fatalf("found only %v", scripts)
	}
	if out, err := exec.Command(sc, scripts...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck %v: %v\n%s", scripts, err, out)
	}
	for _, s := range []string{"backup-home.sh", "restore-home.sh"} {
		b, err := os.ReadFile(filepath.Join(scriptsDir, s))
		if err != nil {
			t.Fatal(err)
		}
		if n := base64.StdEncoding.EncodedLen(len(b)); n > 16384 {
			t.Errorf("%s is %d characters in base64, over the LCC limit of 16384", s, n)
		}
	}
}

// TestDefaultExcludesMatchScript keeps the Go and script defaults the same.
func TestDefaultExcludesMatchScript(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(scriptsDir, "backup-home.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`BACKUP_EXCLUDES=\$\{BACKUP_EXCLUDES-([^}]*)\}`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no BACKUP_EXCLUDES default in backup-home.sh")
	}
	if got, want := string(m[1]), strings.Join(backup.DefaultExcludes, " "); got != want {
		t.Errorf("script excludes %q, Go DefaultExcludes %q", got, want)
	}
}
