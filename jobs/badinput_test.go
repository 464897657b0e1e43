//go:build linux

package jobs

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// snapshotTree records every path of a tree with its size, mode and owner, to show
// that a failed job changed nothing there.
func snapshotTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out[p] = fi.Mode().String() + " " + strconv.FormatInt(fi.Size(), 10) + " " + statUID(fi) + " " + fi.ModTime().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	if len(before) != len(after) {
		t.Errorf("%s: %d entries before, %d after", what, len(before), len(after))
	}
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s: %s changed: %q -> %q", what, p, v, after[p])
		}
	}
}

func TestBadInputUnknownDomain(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2, 0, 3)
	c := w.client(t)
	w.startWorker(t, "w1")
	domains := w.em.Calls("CreateDomain")
	sp := w.spec()
	sp.SourceDomainID = "d-doesnotexist1"
	id, err := c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, 30*time.Second)
	if st.State != StateFailed || !strings.Contains(st.Error, "d-doesnotexist1 does not exist") || st.Step != StepSnapshot {
		t.Fatalf("job: %s at %s: %q; want failed at snapshot saying the domain does not exist", st.State, st.Step, st.Error)
	}
	if s := stepOf(st, StepSnapshot); s.State != unitFailed || s.Error == "" {
		t.Errorf("snapshot step: %+v", s)
	}
	if s := stepOf(st, StepPreflight); s.State != unitPending {
		t.Errorf("preflight step: %+v; want pending (never run)", s)
	}
	if n := w.em.Calls("CreateDomain") - domains; n != 0 {
		t.Errorf("CreateDomain called %d times", n)
	}
}

func TestBadInputPlanErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2, 0, 3)
	c := w.client(t)
	w.startWorker(t, "w1")
	domains := w.em.Calls("CreateDomain")
	sp := w.spec()
	sp.Overrides.VpcID = "vpc-nothex"
	sp.Overrides.DomainName = "bad name!"
	id, err := c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, 30*time.Second)
	if st.State != StateFailed || st.Step != StepPreflight || !strings.Contains(st.Error, "the plan has 2 errors") ||
		!strings.Contains(st.Error, "vpc-nothex") {
		t.Fatalf("job: %s at %s: %q; want failed at preflight listing both problems", st.State, st.Step, st.Error)
	}
	if st.Plan == nil || len(st.Plan.Errors()) != 2 {
		t.Fatalf("the record's plan: %+v; want its two errors", st.Plan)
	}
	if n := w.em.Calls("CreateDomain") - domains; n != 0 {
		t.Errorf("CreateDomain called %d times", n)
	}
}

// TestBadInputUnreachableSFTP: the old EFS is behind an SFTP host nobody answers
// on. The control plane is built, each home fails (after its retries) with an error
// that names the host, the old homes are untouched, and the job fails listing them.
func TestBadInputUnreachableSFTP(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2, 0, 3)
	c := w.client(t)
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(knownHosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "id_ed25519")
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	w.startWorker(t, "w1", func(c *WorkerConfig) {
		c.Location.KnownHostsFile = knownHosts
		c.Location.IdentityFiles = []string{key}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	oldRoot := filepath.Join(w.efsRoot, w.old.Domain.HomeEfsFileSystemID)
	before := snapshotTree(t, oldRoot)
	sp := w.spec()
	sp.CopyFrom = "sftp://root@" + addr + oldRoot
	id, err := c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, 60*time.Second)
	if st.State != StateFailed || st.Step != StepVerify || !strings.Contains(st.Error, "2 of 2 homes failed") {
		t.Fatalf("job: %s at %s: %q; want failed at verify listing the two homes", st.State, st.Step, st.Error)
	}
	for _, h := range st.Homes {
		if h.State != HomeFailed || !strings.Contains(h.Reason, addr) || h.Attempts != HomeMaxRetry+1 {
			t.Errorf("home %s: %s after %d runs: %q; want failed naming %s after %d runs", h.Key, h.State, h.Attempts, h.Reason, addr, HomeMaxRetry+1)
		}
	}
	if st.NewDomain == nil || len(st.UIDMap) != 2 {
		t.Errorf("control plane: domain %+v, UID map %v; want both built", st.NewDomain, st.UIDMap)
	}
	sameTree(t, "old EFS", before, snapshotTree(t, oldRoot))
}

// TestBadInputDestinationInUse: one new home directory already holds another
// user's files. That home fails with a clear error and its files stay as they
// were; every other home is moved; the job fails naming it; after the
// administrator clears it, Retry moves just that home and the job succeeds.
func TestBadInputDestinationInUse(t *testing.T) {
	t.Parallel()
	const profiles = 3
	w := newWorld(t, profiles, 0, 3)
	c := w.client(t)
	w.startWorker(t, "w1")
	// The emulator hands out UIDs in order: the new domain's first home gets the
	// one after the old domain's. A fixed copy-to lets the test plant it ahead.
	dest := filepath.Join(t.TempDir(), "new-efs")
	firstNew := strconv.Itoa(emulator.FirstUID + profiles)
	planted := filepath.Join(dest, firstNew)
	if err := os.MkdirAll(planted, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(planted, "someone-elses.txt"), []byte("not yours\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	chownTree(t, planted, 4242)
	before := snapshotTree(t, planted)
	sp := w.spec()
	sp.CopyTo = dest
	id, err := c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, 60*time.Second)
	if st.State != StateFailed || !strings.Contains(st.Error, "1 of 3 homes failed") {
		t.Fatalf("job: %s at %s: %q; want failed with one home", st.State, st.Step, st.Error)
	}
	var bad HomeStatus
	for _, h := range st.Homes {
		if h.NewUID == firstNew {
			bad = h
			continue
		}
		if h.State != HomeSucceeded {
			t.Errorf("home %s: %s (%s); want moved", h.Key, h.State, h.Reason)
		}
	}
	if bad.State != HomeFailed || !strings.Contains(bad.Reason, "owned by another user") || bad.Attempts != 1 {
		t.Fatalf("home with UID %s: %+v; want failed at once, owned by another user", firstNew, bad)
	}
	sameTree(t, "the planted home", before, snapshotTree(t, planted))

	// The administrator moves the stranger's files away; Retry resumes the one home.
	if err := os.RemoveAll(planted); err != nil {
		t.Fatal(err)
	}
	if err := c.Retry(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	st = waitDone(t, c, id, 60*time.Second)
	if st.State != StateSucceeded {
		t.Fatalf("after Retry: %s: %s", st.State, st.Error)
	}
	for _, h := range st.Homes {
		want := 1
		if h.NewUID == firstNew {
			want = 2
		}
		if h.State != HomeSucceeded || h.Attempts != want {
			t.Errorf("after Retry, home %s: %s after %d runs, want succeeded after %d", h.Key, h.State, h.Attempts, want)
		}
	}
	if _, err := os.Stat(filepath.Join(planted, "work")); err != nil {
		t.Errorf("after Retry: %v", err)
	}
}
