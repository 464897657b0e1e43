package sftptest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SFTPServerPaths are where Debian's openssh-sftp-server (and others) install sftp-server.
var SFTPServerPaths = []string{"/usr/lib/openssh/sftp-server", "/usr/lib/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server"}

// InstallHint says how to get sftp-server.
const InstallHint = "apt-get install openssh-sftp-server"

// Options configure Start. Every field is optional.
type Options struct {
	// Dir is the working directory of sftp-server (relative paths resolve there).
	// Default: a new temporary directory, removed by Close.
	Dir string
	// SFTPServer is the sftp-server binary; default: the first of SFTPServerPaths.
	SFTPServer string
	// User is the only user name accepted; default: any.
	User string
	// ServerArgs are extra sftp-server arguments (e.g. "-l", "DEBUG3", "-e").
	ServerArgs []string
	// Log receives connection events; nil discards them.
	Log *slog.Logger
}

// Server is an SSH server on 127.0.0.1 that serves the "sftp" subsystem by running
// the real OpenSSH sftp-server, as this process's user, with its stdin and stdout
// wired to the channel.
type Server struct {
	opts     Options
	ln       net.Listener
	hostKey  ssh.Signer
	client   ssh.Signer
	dir      string
	tmp      string // removed by Close
	keysDir  string
	cfg      *ssh.ServerConfig
	log      *slog.Logger
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	procs    map[*exec.Cmd]struct{}
	closed   bool
	accepted int
}

// FindSFTPServer returns the first sftp-server binary in SFTPServerPaths.
func FindSFTPServer() (string, error) {
	for _, p := range SFTPServerPaths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no sftp-server in %v (%s)", SFTPServerPaths, InstallHint)
}

// Start generates a host key and a client key, writes known_hosts and the client's
// private key to a temporary directory and starts serving.
func Start(opts Options) (*Server, error) {
	if opts.SFTPServer == "" {
		p, err := FindSFTPServer()
		if err != nil {
			return nil, err
		}
		opts.SFTPServer = p
	}
	s := &Server{opts: opts, conns: map[net.Conn]struct{}{}, procs: map[*exec.Cmd]struct{}{}, log: opts.Log}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	tmp, err := os.MkdirTemp("", "sftptest-")
	if err != nil {
		return nil, err
	}
	s.tmp = tmp
	s.keysDir = filepath.Join(tmp, "keys")
	s.dir = opts.Dir
	if s.dir == "" {
		s.dir = filepath.Join(tmp, "root")
	}
	for _, d := range []string{s.keysDir, s.dir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			os.RemoveAll(tmp)
			return nil, err
		}
	}
	if s.hostKey, _, err = newKey(); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	var clientPEM []byte
	if s.client, clientPEM, err = newKey(); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := os.WriteFile(s.ClientKeyFile(), clientPEM, 0o600); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	authorized := string(s.client.PublicKey().Marshal())
	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: func(md ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if opts.User != "" && md.User() != opts.User {
				return nil, fmt.Errorf("unknown user %q", md.User())
			}
			if string(key.Marshal()) != authorized {
				return nil, errors.New("unknown public key")
			}
			return &ssh.Permissions{}, nil
		},
	}
	s.cfg.AddHostKey(s.hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	s.ln = ln
	if err := s.WriteKnownHosts(s.KnownHostsFile(), s.hostKey.PublicKey()); err != nil {
		ln.Close()
		os.RemoveAll(tmp)
		return nil, err
	}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// New starts a server for a test, closed at the end of the test. It skips the test
// (or fails it under MIGRATOR_STRICT_TESTS=1) when sftp-server is not installed.
func New(t testing.TB) *Server {
	t.Helper()
	if _, err := FindSFTPServer(); err != nil {
		if os.Getenv("MIGRATOR_STRICT_TESTS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err.Error() + "; run scripts/test.sh to install and require it")
	}
	s, err := Start(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newKey() (ssh.Signer, []byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, nil, err
	}
	return signer, pem.EncodeToMemory(block), nil
}

// Addr is host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Dir is sftp-server's working directory: point an SFTP FS's Root here.
func (s *Server) Dir() string { return s.dir }

// KnownHostsFile is a known_hosts file that holds the server's host key.
func (s *Server) KnownHostsFile() string { return filepath.Join(s.keysDir, "known_hosts") }

// ClientKeyFile is the unencrypted OpenSSH private key the server accepts.
func (s *Server) ClientKeyFile() string { return filepath.Join(s.keysDir, "id_ed25519") }

// HostKey is the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// ClientKey is the accepted client key.
func (s *Server) ClientKey() ssh.Signer { return s.client }

// WriteKnownHosts writes a known_hosts file that accepts key for this server's address.
func (s *Server) WriteKnownHosts(file string, key ssh.PublicKey) error {
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, key) + "\n"
	return os.WriteFile(file, []byte(line), 0o600)
}

// Connections reports how many SSH connections were accepted so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// DropConnections closes every live connection (and kills their sftp-server
// processes), as a network failure would. The server keeps accepting new ones.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	procs := make([]*exec.Cmd, 0, len(s.procs))
	for p := range s.procs {
		procs = append(procs, p)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	for _, p := range procs {
		if p.Process != nil {
			p.Process.Kill()
		}
	}
}

// Close stops the server, drops every connection and removes its temporary files.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
	os.RemoveAll(s.tmp)
	return err
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[nc] = struct{}{}
		s.accepted++
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(nc)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
			nc.Close()
		}()
	}
}

func (s *Server) handleConn(nc net.Conn) {
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.cfg)
	if err != nil {
		s.log.Debug("sftptest handshake failed", "remote", nc.RemoteAddr(), "err", err)
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handleSession(ch, creqs)
		}()
	}
	sc.Close()
	wg.Wait()
}

func (s *Server) handleSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "subsystem" {
			req.Reply(false, nil)
			continue
		}
		var sub struct{ Name string }
		if err := ssh.Unmarshal(req.Payload, &sub); err != nil || sub.Name != "sftp" {
			req.Reply(false, nil)
			continue
		}
		cmd := exec.Command(s.opts.SFTPServer, s.opts.ServerArgs...)
		cmd.Dir = s.dir
		cmd.Stdin = ch
		cmd.Stdout = ch
		cmd.Stderr = ch.Stderr()
		cmd.WaitDelay = 2 * time.Second
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			req.Reply(false, nil)
			return
		}
		err := cmd.Start()
		if err == nil {
			s.procs[cmd] = struct{}{}
		}
		s.mu.Unlock()
		if err != nil {
			s.log.Warn("sftptest: starting sftp-server", "err", err)
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		go ssh.DiscardRequests(reqs)
		werr := cmd.Wait()
		s.mu.Lock()
		delete(s.procs, cmd)
		s.mu.Unlock()
		code := uint32(0)
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			code = uint32(ee.ExitCode())
		}
		ch.CloseWrite()
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{code}))
		return
	}
}

var _ io.Closer = (*Server)(nil)
