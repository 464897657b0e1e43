package sftptest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// SSHDPath is where Debian's openssh-server installs sshd.
const SSHDPath = "/usr/sbin/sshd"

// SSHDInstallHint says how to get sshd.
const SSHDInstallHint = "apt-get install openssh-server"

// SSHD is a real OpenSSH sshd on a free 127.0.0.1 port, run as this process's user
// (root in the tests: then it logs in as root and can chown) with its own host
// key, sshd_config and authorized_keys in a temporary directory. Its settings are
// sshd's defaults (MaxSessions 10, MaxStartups 10:30:100) except what a test server
// needs: key authentication only, no PAM, StrictModes off (the files are in /tmp),
// and the stock sftp-server as the sftp subsystem. It is what a copy meets in
// production, unlike the in-process Server.
type SSHD struct {
	tmp     string
	dir     string
	port    int
	cmd     *exec.Cmd
	log     *bytes.Buffer
	logMu   *sync.Mutex
	hostKey ssh.PublicKey
	done    chan struct{}
	// shellRC is the login shell's rc file hidden from sshd's sessions ("" when
	// not hidden); noHide says why it is not.
	shellRC, noHide string
}

// SSHDOptions configure StartSSHD. Every field is optional.
type SSHDOptions struct {
	// Dir is a directory the test works in (returned by Dir); default: a new
	// temporary directory, removed by Close.
	Dir string
	// ExtraConfig lines are appended to sshd_config.
	ExtraConfig []string
}

// StartSSHD starts sshd and waits until it accepts connections.
func StartSSHD(opts SSHDOptions) (*SSHD, error) {
	if _, err := os.Stat(SSHDPath); err != nil {
		return nil, fmt.Errorf("no %s (%s)", SSHDPath, SSHDInstallHint)
	}
	sftpServer, err := FindSFTPServer()
	if err != nil {
		return nil, err
	}
	// sshd refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("creating /run/sshd for sshd: %w", err)
	}
	tmp, err := os.MkdirTemp("", "sshdtest-")
	if err != nil {
		return nil, err
	}
	s := &SSHD{tmp: tmp, dir: opts.Dir, log: &bytes.Buffer{}, logMu: &sync.Mutex{}, done: make(chan struct{})}
	s.shellRC, s.noHide = shellRCToHide()
	if s.dir == "" {
		s.dir = filepath.Join(tmp, "root")
		if err := os.Mkdir(s.dir, 0o755); err != nil {
			os.RemoveAll(tmp)
			return nil, err
		}
	}
	fail := func(err error) (*SSHD, error) {
		os.RemoveAll(tmp)
		return nil, err
	}
	host, hostPEM, err := newKey()
	if err != nil {
		return fail(err)
	}
	client, clientPEM, err := newKey()
	if err != nil {
		return fail(err)
	}
	s.hostKey = host.PublicKey()
	files := map[string][]byte{
		"ssh_host_ed25519_key": hostPEM,
		"id_ed25519":           clientPEM,
		"authorized_keys":      ssh.MarshalAuthorizedKey(client.PublicKey()),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o600); err != nil {
			return fail(err)
		}
	}
	// A free port: bind, note, release. Another process could take it in between;
	// then sshd exits at once and we try another.
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fail(err)
		}
		s.port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		err = s.start(sftpServer, opts.ExtraConfig)
		if err == nil {
			break
		}
		if attempt == 3 {
			return fail(err)
		}
	}
	if err := writeKnownHosts(s.KnownHostsFile(), s.Addr(), s.hostKey); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *SSHD) start(sftpServer string, extra []string) error {
	cfg := []string{
		"Port " + strconv.Itoa(s.port),
		"ListenAddress 127.0.0.1",
		"HostKey " + filepath.Join(s.tmp, "ssh_host_ed25519_key"),
		"PidFile none",
		"AuthorizedKeysFile " + filepath.Join(s.tmp, "authorized_keys"),
		"AuthenticationMethods publickey",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"PermitRootLogin prohibit-password",
		"Subsystem sftp " + sftpServer,
		"LogLevel ERROR",
	}
	cfg = append(cfg, extra...)
	empty := filepath.Join(s.tmp, "empty-rc")
	if s.shellRC != "" {
		if err := os.WriteFile(empty, nil, 0o644); err != nil {
			return err
		}
	}
	conf := filepath.Join(s.tmp, "sshd_config")
	if err := os.WriteFile(conf, []byte(strings.Join(cfg, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	// Check the configuration first: a mistake is then an error, not a timeout.
	if out, err := exec.Command(SSHDPath, "-t", "-f", conf).CombinedOutput(); err != nil {
		return fmt.Errorf("sshd -t: %v: %s", err, out)
	}
	s.done = make(chan struct{})
	cmd := exec.Command(SSHDPath, "-D", "-e", "-f", conf)
	if s.shellRC != "" {
		// unshare execs sh, which execs sshd: one process, s.cmd's.
		cmd = exec.Command(unsharePath, append(hideArgs(empty, s.shellRC), SSHDPath, "-D", "-e", "-f", conf)...)
	}
	cmd.Stdout = lockedWriter{s.logMu, s.log}
	cmd.Stderr = lockedWriter{s.logMu, s.log}
	// The per-connection sshd processes inherit the log pipe: with a client still
	// connected, Wait would block on the pipe after sshd itself was killed. Close
	// then waits at most this long for their last log lines.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting sshd: %w", err)
	}
	s.cmd = cmd
	go func() { cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("sshd exited: %s", s.Log())
		default:
		}
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-s.done
	return fmt.Errorf("sshd did not listen on %s within 10s: %s", s.Addr(), s.Log())
}

// NewSSHD starts sshd for a test and stops it at the end. It skips the test (or
// fails it under MIGRATOR_STRICT_TESTS=1) when sshd or sftp-server is missing, and
// needs root (sshd drops privileges, and copies chown).
func NewSSHD(t testing.TB, opts SSHDOptions) *SSHD {
	t.Helper()
	testutil.RequireBinary(t, SSHDInstallHint, SSHDPath)
	testutil.RequireBinary(t, InstallHint, SFTPServerPaths...)
	testutil.RequireRoot(t)
	s, err := StartSSHD(opts)
	if err != nil {
		t.Fatal(err)
	}
	if s.noHide != "" {
		t.Logf("sshd: every SSH session runs the login shell's rc file (slow ones make the test slow): %s", s.noHide)
	}
	t.Cleanup(func() {
		s.Close()
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.Log())
		}
	})
	return s
}

// HiddenShellRC is the rc file (root's ~/.bashrc) that sshd's sessions see empty,
// or "" when none is hidden.
func (s *SSHD) HiddenShellRC() string { return s.shellRC }

// Addr is 127.0.0.1:port.
func (s *SSHD) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Dir is the directory the test works in.
func (s *SSHD) Dir() string { return s.dir }

// KnownHostsFile holds the host key.
func (s *SSHD) KnownHostsFile() string { return filepath.Join(s.tmp, "known_hosts") }

// ClientKeyFile is the unencrypted private key authorized_keys accepts.
func (s *SSHD) ClientKeyFile() string { return filepath.Join(s.tmp, "id_ed25519") }

// User is the user to log in as: this process's.
func (s *SSHD) User() string {
	if os.Geteuid() == 0 {
		return "root"
	}
	return os.Getenv("USER")
}

// Log is what sshd wrote (errors only).
func (s *SSHD) Log() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// Close stops sshd (and with it every connection) and removes its files.
func (s *SSHD) Close() error {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.done
		s.cmd = nil
	}
	return os.RemoveAll(s.tmp)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// MigratorBinary builds cmd/migrator once per test binary (without -race, for
// speed) and returns its path: the remote end sshd runs. The build goes to a
// directory named after this process; directories of processes that are gone are
// removed on the way.
func MigratorBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		base := filepath.Join(os.TempDir(), "sftptest-migrator")
		if ents, err := os.ReadDir(base); err == nil {
			for _, e := range ents {
				if pid, err := strconv.Atoi(e.Name()); err == nil {
					if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
						os.RemoveAll(filepath.Join(base, e.Name()))
					}
				}
			}
		}
		dir := filepath.Join(base, strconv.Itoa(os.Getpid()))
		if buildErr = os.MkdirAll(dir, 0o755); buildErr != nil {
			return
		}
		buildPath = filepath.Join(dir, "migrator")
		cmd := exec.Command("go", "build", "-o", buildPath, "github.com/studio-migrator/studio-migrator/cmd/migrator")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build cmd/migrator: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

func writeKnownHosts(file, addr string, key ssh.PublicKey) error {
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	return os.WriteFile(file, []byte(line), 0o600)
}

// unsharePath is util-linux's unshare (Debian: essential package util-linux).
const unsharePath = "/usr/bin/unshare"

var (
	hideOnce   sync.Once
	hideFile   string
	hideReason string
)

// shellRCToHide decides, once per process, whether sshd's sessions can be kept from
// running the user's ~/.bashrc, and returns that file, or "" and why not.
//
// sshd runs every session's command (the sftp subsystem, an exec channel) through the
// user's login shell, and bash reads ~/.bashrc when sshd starts it. On the dev
// machine and in CI, root's .bashrc runs `pyenv init`: 2-3 s per session, far more
// under load, which dominated the time of every test that opens SSH sessions. A
// production SSH server pays whatever its users' rc files cost, but that is not what
// the tests measure. So sshd runs in a private mount namespace (slave: mounts made
// later outside still reach it) where an empty file is bind-mounted over the rc
// file; the real file and every other process are untouched. Where the namespace or
// the mount is not possible (no CAP_SYS_ADMIN, no unshare or mount), sshd runs as
// before and NewSSHD says so in the test log.
func shellRCToHide() (string, string) {
	hideOnce.Do(func() { hideFile, hideReason = probeShellRC() })
	return hideFile, hideReason
}

func probeShellRC() (string, string) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Sprintf("looking up this user's home directory: %v", err)
	}
	rc := filepath.Join(u.HomeDir, ".bashrc")
	if fi, err := os.Stat(rc); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return "", "" // nothing to hide
	}
	tmp, err := os.MkdirTemp("", "sshdtest-probe-")
	if err != nil {
		return "", fmt.Sprintf("creating a probe directory: %v", err)
	}
	defer os.RemoveAll(tmp)
	empty := filepath.Join(tmp, "empty-rc")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		return "", fmt.Sprintf("writing %s: %v", empty, err)
	}
	// The same command sshd will run under, with a check of its effect in place of sshd.
	out, err := exec.Command(unsharePath, append(hideArgs(empty, rc), "/usr/bin/test", "!", "-s", rc)...).CombinedOutput()
	if err != nil {
		return "", fmt.Sprintf("cannot hide %s in a private mount namespace (%s -m, then mount --bind): %v %s", rc, unsharePath, err, bytes.TrimSpace(out))
	}
	return rc, ""
}

// hideArgs are the arguments of unshare that run the command appended to them in a
// new mount namespace where empty is bind-mounted over rc.
func hideArgs(empty, rc string) []string {
	return []string{"-m", "--propagation", "slave", "/bin/sh", "-c", `mount --bind "$1" "$2" && shift 2 && exec "$@"`, "sh", empty, rc}
}
