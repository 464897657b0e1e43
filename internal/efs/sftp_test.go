//go:build linux

package efs_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/efs/sftptest"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

func newSFTPServer(t *testing.T) *sftptest.Server {
	t.Helper()
	testutil.RequireBinary(t, sftptest.InstallHint, "/usr/lib/openssh/sftp-server", "/usr/lib/sftp-server")
	return sftptest.New(t)
}

func sftpConfig(srv *sftptest.Server) efs.SFTPConfig {
	return efs.SFTPConfig{
		Addr:           srv.Addr(),
		User:           "tester",
		Root:           srv.Dir(),
		KnownHostsFile: srv.KnownHostsFile(),
		IdentityFiles:  []string{srv.ClientKeyFile()},
		Server:         efs.SFTPServerStock, // the in-process server has only the sftp subsystem
	}
}

// sshdConfig reaches root on the real sshd, with server mode mode; the migrator
// binary is built once for the test binary.
func sshdConfig(t *testing.T, sshd *sftptest.SSHD, root, mode string) efs.SFTPConfig {
	cfg := efs.SFTPConfig{
		Addr:           sshd.Addr(),
		User:           sshd.User(),
		Root:           root,
		KnownHostsFile: sshd.KnownHostsFile(),
		IdentityFiles:  []string{sshd.ClientKeyFile()},
		Server:         mode,
	}
	if mode == efs.SFTPServerMigrator {
		cfg.RemoteCommand = sftptest.MigratorBinary(t) + " sftp-server"
	}
	return cfg
}

func dialSFTP(t *testing.T, cfg efs.SFTPConfig) *efs.SFTP {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := efs.DialSFTP(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func writeFile(t *testing.T, f efs.FS, name string, data []byte, attr efs.Attr) {
	t.Helper()
	w, err := f.Create(context.Background(), name, attr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func lstatSys(t *testing.T, p string) (os.FileInfo, *syscall.Stat_t) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi, fi.Sys().(*syscall.Stat_t)
}

// TestSFTPFeatures checks what the SFTP backend reports about itself against
// OpenSSH's sftp-server; the FS behaviour is checked by TestConformance/SFTP.
func TestSFTPFeatures(t *testing.T) {
	srv := newSFTPServer(t)
	f := dialSFTP(t, sftpConfig(srv))
	feat := f.Features()
	if feat.Inodes || !feat.Hardlinks || !feat.SymlinkOwner || !feat.SymlinkTimes || feat.TimeGranularity != time.Second {
		t.Errorf("Features = %+v", feat)
	}
	if !strings.HasPrefix(f.String(), "sftp://tester@127.0.0.1:") || !strings.HasSuffix(f.String(), srv.Dir()) {
		t.Errorf("String = %q", f.String())
	}
	// Mtimes are whole seconds: the fraction is dropped, not rounded.
	attr := efs.Attr{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Perm: 0o644, ModTime: time.Unix(1e9, 999999999)}
	writeFile(t, f, "f", []byte("x"), attr)
	if fi, _ := lstatSys(t, filepath.Join(srv.Dir(), "f")); !fi.ModTime().Equal(time.Unix(1e9, 0)) {
		t.Errorf("mtime on disk = %v, want %v", fi.ModTime(), time.Unix(1e9, 0))
	}
}

func TestSFTPNoSymlinkInParents(t *testing.T) {
	srv := newSFTPServer(t)
	f := dialSFTP(t, sftpConfig(srv))
	ctx := context.Background()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o600)
	if err := f.Symlink(ctx, outside, "esc"); err != nil {
		t.Fatal(err)
	}
	attr := efs.Attr{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Perm: 0o644, ModTime: time.Unix(1e9, 0)}
	if _, err := f.Lstat(ctx, "esc/secret"); !errors.Is(err, efs.ErrUnsafePath) {
		t.Errorf("Lstat through a symlink: %v", err)
	}
	if _, err := f.Create(ctx, "esc/new", attr); !errors.Is(err, efs.ErrUnsafePath) {
		t.Errorf("Create through a symlink: %v", err)
	}
	if _, err := f.ReadDir(ctx, "esc"); err == nil {
		t.Error("ReadDir followed a symlink")
	}
	// A directory this FS knew, replaced by a symlink through this FS.
	if err := f.Mkdir(ctx, "d", 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, f, "d/x", nil, attr)
	if err := f.Remove(ctx, "d/x"); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if err := f.Symlink(ctx, outside, "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Create(ctx, "d/new", attr); !errors.Is(err, efs.ErrUnsafePath) {
		t.Errorf("Create through a replaced dir: %v", err)
	}
	if err := f.Setattr(ctx, "d/secret", efs.Attr{UID: 999}, efs.SetOwner); !errors.Is(err, efs.ErrUnsafePath) {
		t.Errorf("Setattr through a symlink: %v", err)
	}
	assertEmptyExcept(t, outside, "secret")
}

func assertEmptyExcept(t *testing.T, dir, name string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != name {
		t.Errorf("%s holds %v", dir, ents)
	}
}

func TestSFTPUnknownHostKey(t *testing.T) {
	srv := newSFTPServer(t)
	cfg := sftpConfig(srv)
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "known_hosts")
	// A known_hosts that knows some other host only.
	other := newSigner(t)
	os.WriteFile(cfg.KnownHostsFile, []byte("otherhost "+string(ssh.MarshalAuthorizedKey(other.PublicKey()))), 0o600)
	_, err := efs.DialSFTP(context.Background(), cfg)
	if !errors.Is(err, efs.ErrUnknownHostKey) {
		t.Fatalf("err = %v, want ErrUnknownHostKey", err)
	}
	fp := ssh.FingerprintSHA256(srv.HostKey())
	for _, want := range []string{fp, "ssh-keyscan", srv.Addr()[:strings.LastIndex(srv.Addr(), ":")], cfg.KnownHostsFile} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	assertEmpty(t, srv.Dir())

	// No known_hosts file at all.
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "missing")
	if _, err := efs.DialSFTP(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "ssh-keyscan") {
		t.Errorf("missing known_hosts: %v", err)
	}
}

func TestSFTPHostKeyMismatch(t *testing.T) {
	srv := newSFTPServer(t)
	cfg := sftpConfig(srv)
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "known_hosts")
	if err := srv.WriteKnownHosts(cfg.KnownHostsFile, newSigner(t).PublicKey()); err != nil {
		t.Fatal(err)
	}
	_, err := efs.DialSFTP(context.Background(), cfg)
	if !errors.Is(err, efs.ErrHostKeyMismatch) {
		t.Fatalf("err = %v, want ErrHostKeyMismatch", err)
	}
	if !strings.Contains(err.Error(), ssh.FingerprintSHA256(srv.HostKey())) || !strings.Contains(err.Error(), "ssh-keygen -R") {
		t.Errorf("error not actionable: %v", err)
	}
	assertEmpty(t, srv.Dir())
}

func TestSFTPInsecureIgnoreHostKey(t *testing.T) {
	srv := newSFTPServer(t)
	cfg := sftpConfig(srv)
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "missing")
	cfg.InsecureIgnoreHostKey = true
	var buf syncBuffer
	cfg.Log = slog.New(slog.NewTextHandler(&buf, nil))
	f := dialSFTP(t, cfg)
	if _, err := f.Lstat(context.Background(), "."); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "host key") {
		t.Errorf("no warning logged: %q", s)
	}
}

func TestSFTPWrongClientKey(t *testing.T) {
	srv := newSFTPServer(t)
	cfg := sftpConfig(srv)
	cfg.IdentityFiles = []string{writeKey(t, newKey(t))}
	_, err := efs.DialSFTP(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("err = %v, want an authentication failure", err)
	}
	assertEmpty(t, srv.Dir())
}

func TestSFTPReconnect(t *testing.T) {
	srv := newSFTPServer(t)
	cfg := sftpConfig(srv)
	cfg.Connections, cfg.Concurrency = 1, 4 // one connection: its redial is counted below
	f := dialSFTP(t, cfg)
	ctx := context.Background()
	attr := efs.Attr{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Perm: 0o644, ModTime: time.Unix(1e9, 0)}
	writeFile(t, f, "a", []byte("a"), attr)

	srv.DropConnections()
	// Concurrent callers after a drop share one redial.
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.Lstat(ctx, "a")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("Lstat after drop: %v", err)
		}
	}
	if n := srv.Connections(); n != 2 {
		t.Errorf("%d connections, want 2 (one redial for all callers)", n)
	}
	writeFile(t, f, "b", []byte("b"), attr)

	// A write interrupted by the drop fails with ErrConnectionLost.
	w, err := f.Create(ctx, "c", attr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 3<<20)); err != nil {
		t.Fatal(err)
	}
	srv.DropConnections()
	_, werr := w.Write(make([]byte, 3<<20))
	cerr := w.Close()
	if !errors.Is(werr, efs.ErrConnectionLost) && !errors.Is(cerr, efs.ErrConnectionLost) {
		t.Errorf("Write = %v, Close = %v; want ErrConnectionLost", werr, cerr)
	}
	if err := f.Remove(ctx, "c"); err != nil {
		t.Errorf("Remove after reconnect: %v", err)
	}
	writeFile(t, f, "c", []byte("c"), attr)
}

func TestSFTPConcurrentWrites(t *testing.T) {
	srv := newSFTPServer(t)
	f := dialSFTP(t, sftpConfig(srv))
	data := make([]byte, 24<<20+12345)
	rand.Read(data)
	attr := efs.Attr{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Perm: 0o600, ModTime: time.Unix(1.5e9, 0)}
	want := sha256.Sum256(data)

	// io.Copy through ReadFrom (concurrent writes), small Writes (buffered) and
	// several files at once.
	var wg sync.WaitGroup
	for i, mode := range []string{"readfrom", "small", "readfrom2", "small2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "big-" + mode
			w, err := f.Create(context.Background(), name, attr)
			if err != nil {
				t.Error(err)
				return
			}
			if strings.HasPrefix(mode, "small") {
				for off := 0; off < len(data); off += 4000 + i {
					end := min(off+4000+i, len(data))
					if _, err := w.Write(data[off:end]); err != nil {
						t.Error(err)
						return
					}
				}
			} else if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
				t.Error(err)
				return
			}
			if err := w.Close(); err != nil {
				t.Error(err)
			}
			got, err := os.ReadFile(filepath.Join(srv.Dir(), name))
			if err != nil || sha256.Sum256(got) != want {
				t.Errorf("%s: %d bytes arrived (want %d), err %v", name, len(got), len(data), err)
			}
			r, err := f.Open(context.Background(), name)
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			var back bytes.Buffer
			if _, err := io.Copy(&back, r); err != nil || sha256.Sum256(back.Bytes()) != want {
				t.Errorf("%s: read back %d bytes, err %v", name, back.Len(), err)
			}
		}()
	}
	wg.Wait()
}

// helpers

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newKey(t *testing.T) ed25519.PrivateKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func newSigner(t *testing.T) ssh.Signer {
	s, err := ssh.NewSignerFromKey(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeKey(t *testing.T, k ed25519.PrivateKey) string {
	block, err := ssh.MarshalPrivateKey(k, "")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("%s is not empty: %v", dir, ents)
	}
}
