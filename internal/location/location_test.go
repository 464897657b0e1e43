package location

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Location
		str  string
	}{
		{"sftp://root@host:2222/mnt/efs/1", Location{User: "root", Addr: "host:2222", Path: "/mnt/efs/1"}, "sftp://root@host:2222/mnt/efs/1"},
		{"sftp://host/mnt/efs/1/", Location{Addr: "host", Path: "/mnt/efs/1"}, "sftp://host/mnt/efs/1"},
		// scp-style, as administrators type it for scp and rsync.
		{"root@host:/mnt/efs/1", Location{User: "root", Addr: "host", Path: "/mnt/efs/1"}, "sftp://root@host/mnt/efs/1"},
		{"efs-host:/mnt/efs//200001/", Location{Addr: "efs-host", Path: "/mnt/efs/200001"}, "sftp://efs-host/mnt/efs/200001"},
		{"admin@[fd00::1]:/mnt/x", Location{User: "admin", Addr: "[fd00::1]", Path: "/mnt/x"}, "sftp://admin@[fd00::1]/mnt/x"},
		{"/mnt/efs/1", Location{Local: "/mnt/efs/1"}, "/mnt/efs/1"},
		{"/mnt/a:b", Location{Local: "/mnt/a:b"}, "/mnt/a:b"}, // a colon after a slash is a local path
	}
	for _, tc := range tests {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tc.in, diff)
		}
		if s := got.String(); s != tc.str || strings.Contains(s, "//@") {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, s, tc.str)
		}
	}
	if rel, err := Parse("./a:b"); err != nil || rel.IsSFTP() || !filepath.IsAbs(rel.Local) {
		t.Errorf("Parse(./a:b) = %+v, %v; want a local path", rel, err)
	}
	for _, bad := range []string{"host:relative/path", "host:", "root@host:/", "sftp://u:pw@h/x", "s3://b/k", ""} {
		if l, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", bad, l)
		}
	}
}

func TestSSHConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfg := `# comment
Host *.internal !bastion.internal
    User admin
    IdentityFile ~/.ssh/internal_key

Host efs
  HostName 10.0.1.5
  Port=2222
  User root
  IdentityFile "%d/keys/efs key"
  IdentityFile ~/.ssh/second

Match host efs
  User nobody

Host jump-me
  ProxyJump bastion

Host *
  User fallback
  Port 22
`
	file := filepath.Join(home, "config")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]SSHHost{
		"efs": {HostName: "10.0.1.5", Port: "2222", User: "root",
			IdentityFiles: []string{filepath.Join(home, "keys/efs key"), filepath.Join(home, ".ssh/second")}},
		"a.internal":       {User: "admin", Port: "22", IdentityFiles: []string{filepath.Join(home, ".ssh/internal_key")}},
		"bastion.internal": {User: "fallback", Port: "22"},
		"other":            {User: "fallback", Port: "22"},
		"jump-me":          {User: "fallback", Port: "22", ProxyJump: "proxyjump bastion"},
	}
	for alias, want := range tests {
		got, err := LookupSSHConfig(file, alias)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", alias, diff)
		}
	}
	if h, err := LookupSSHConfig(filepath.Join(home, "missing"), "efs"); err != nil || h.HostName != "" {
		t.Errorf("missing file: %+v, %v", h, err)
	}

	// SFTPConfig: the location's own user and port win, then the config, then defaults.
	l, _ := Parse("sftp://efs/mnt/efs")
	c, err := SFTPConfig(l, Options{SSHConfigFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "10.0.1.5:2222" || c.User != "root" || len(c.IdentityFiles) != 2 || c.DefaultIdentities {
		t.Errorf("SFTPConfig(efs) = %+v", c)
	}
	l, _ = Parse("sftp://ops@efs:22/mnt/efs")
	if c, _ := SFTPConfig(l, Options{SSHConfigFile: file, IdentityFiles: []string{"/k"}}); c.Addr != "10.0.1.5:22" || c.User != "ops" || c.IdentityFiles[0] != "/k" {
		t.Errorf("explicit user and port: %+v", c)
	}
	l, _ = Parse("jump-me:/x")
	if _, err := SFTPConfig(l, Options{SSHConfigFile: file}); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("ProxyJump: %v, want a clear refusal", err)
	}
}

// TestDefaultIdentities: with no --identity and no IdentityFile, OpenSSH's default
// keys that exist are tried, and marked as defaults (a passphrase-protected one is
// then skipped, not fatal).
func TestDefaultIdentities(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(home, ".ssh"), 0o700))
	for _, n := range []string{"id_ecdsa", "id_rsa"} {
		must(os.WriteFile(filepath.Join(home, ".ssh", n), []byte("x"), 0o600))
	}
	l, _ := Parse("root@somehost:/mnt/efs")
	c, err := SFTPConfig(l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(home, ".ssh", "id_ecdsa"), filepath.Join(home, ".ssh", "id_rsa")}
	if diff := cmp.Diff(want, c.IdentityFiles); diff != "" || !c.DefaultIdentities {
		t.Errorf("default identities (-want +got):\n%s (defaults %v)", diff, c.DefaultIdentities)
	}
	if c.Addr != "somehost:22" || c.User != "root" || c.Server != "" {
		t.Errorf("config = %+v", c)
	}
}
