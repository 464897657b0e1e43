package efs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// SFTPConfig says how to reach a host that mounts the EFS.
type SFTPConfig struct {
	// Addr is host:port (port 22 when omitted).
	Addr string
	// User to log in as (default: the current user).
	User string
	// Root is the remote directory the FS is rooted at (relative to the login
	// directory when not absolute).
	Root string
	// KnownHostsFile holds the accepted host keys (default ~/.ssh/known_hosts).
	KnownHostsFile string
	// IdentityFiles are private keys (unencrypted; use the agent for others).
	IdentityFiles []string
	// UseAgent also authenticates with the keys of the agent at $SSH_AUTH_SOCK.
	UseAgent bool
	// InsecureIgnoreHostKey accepts any host key. Every connect logs a warning.
	InsecureIgnoreHostKey bool
	// Concurrency is the number of SFTP sessions (one sftp-server process each on
	// the host) the requests are spread over; default 4. OpenSSH's sftp-server
	// handles one request at a time, so on EFS, where each metadata operation costs
	// milliseconds, more sessions mean more operations in flight.
	Concurrency int
	// Log receives connection events; nil discards them.
	Log *slog.Logger
}

// SFTP is an FS on a remote host reached over SSH, rooted at a remote directory.
//
// What SFTP (v3, as spoken by OpenSSH) cannot do, and what this backend does instead:
//   - There are no inode numbers, so hardlinks in an SFTP source cannot be detected:
//     each name of a hardlinked file is copied as a separate file (Features.Inodes is
//     false). As a destination, Link works through hardlink@openssh.com.
//   - Owner and times of a symlink itself can only be set with the OpenSSH
//     extension lsetstat@openssh.com (OpenSSH 8.0 and later). Without it,
//     Features.SymlinkOwner/SymlinkTimes are false and Setattr on a symlink returns
//     ErrNotSupported: setstat would follow the link, so it is never sent for one.
//   - Mtimes are whole seconds (Features.TimeGranularity is 1s), unsigned 32-bit: a
//     time before 1970 or after 2106 is refused with ErrNotSupported (by Create,
//     before anything is written, and by Setattr) instead of being stored wrapped.
//   - The protocol has no O_NOFOLLOW and the server resolves every path itself, so
//     confinement is checked on the client (no "..", no absolute names), Open and
//     Setattr check the type with lstat first, and a symlink that appears in an
//     intermediate component between that check and the operation would be followed
//     by the server. The copier never descends into symlinks it has seen.
//   - New files are created with the server's default mode and chmod-ed to 0600
//     right away when their final mode is not readable by group and others, then
//     to their final mode on Close.
type SFTP struct {
	cfg     SFTPConfig
	log     *slog.Logger
	root    string // absolute, resolved at the first connect
	name    string // sftp://user@host:port/root
	feat    Features
	dirs    dirCache
	packet  int
	perFile int

	mu      sync.Mutex
	cur     *sftpConn
	dialing *dialCall
	closed  bool
	stop    context.CancelFunc
	stopCtx context.Context
	gen     uint64
}

var _ FS = (*SFTP)(nil)

type dialCall struct {
	done chan struct{}
	c    *sftpConn
	err  error
}

// sftpConn is one SSH connection with its SFTP sessions.
type sftpConn struct {
	gen      uint64
	ssh      *ssh.Client
	slots    []*sftpSlot
	next     atomic.Uint32
	dead     chan struct{}
	deadOnce sync.Once
	cleanup  func()
}

type sftpSlot struct {
	conn *sftpConn
	c    *sftp.Client
	ext  *extClient // nil when the server has no extension worth a second session
}

const (
	sftpDialTimeout = 30 * time.Second
	sftpKeepalive   = 20 * time.Second
)

// DialSFTP connects to cfg.Addr, verifies the host key, logs in and checks that
// cfg.Root is a directory. The returned FS reconnects by itself after a dropped
// connection.
func DialSFTP(ctx context.Context, cfg SFTPConfig) (*SFTP, error) {
	if cfg.Addr == "" {
		return nil, errors.New("sftp: no address")
	}
	cfg.Addr = defaultPort(cfg.Addr)
	if cfg.User == "" {
		if u, err := user.Current(); err == nil {
			cfg.User = u.Username
		}
	}
	if cfg.Root == "" {
		cfg.Root = "."
	}
	if strings.IndexByte(cfg.Root, 0) >= 0 {
		return nil, fmt.Errorf("sftp root %q: %w", cfg.Root, ErrUnsafePath)
	}
	cfg.Root = path.Clean(cfg.Root)
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &SFTP{cfg: cfg, log: log.With("sftp", cfg.User+"@"+cfg.Addr)}
	f.stopCtx, f.stop = context.WithCancel(context.Background())
	f.name = "sftp://" + cfg.User + "@" + cfg.Addr + "/" + strings.TrimPrefix(cfg.Root, "/")

	c, err := f.dial(ctx, true)
	if err != nil {
		f.stop()
		return nil, err
	}
	f.cur = c
	return f, nil
}

// String is sftp://user@host:port/root.
func (f *SFTP) String() string { return f.name }

// Features: see the type's comment.
func (f *SFTP) Features() Features { return f.feat }

// Close closes the connection; later calls fail.
func (f *SFTP) Close() error {
	f.mu.Lock()
	f.closed = true
	c := f.cur
	f.cur = nil
	f.mu.Unlock()
	f.stop()
	if c != nil {
		c.close()
	}
	return nil
}

// dial opens a new connection. first is true for the connection made by DialSFTP,
// which also learns the server's features and resolves the root.
func (f *SFTP) dial(ctx context.Context, first bool) (*sftpConn, error) {
	cfg := &f.cfg
	where := fmt.Sprintf("connecting to %s as %s", cfg.Addr, cfg.User)
	hkcb, algos, err := hostKeyConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("sftp: %s: %w", where, err)
	}
	auth, cleanup, err := authMethods(cfg)
	if err != nil {
		return nil, fmt.Errorf("sftp: %s: %w", where, err)
	}
	if cfg.InsecureIgnoreHostKey {
		f.log.Warn("NOT verifying the SSH host key (--insecure-ignore-host-key): anyone on the network path can impersonate the host and read or change the data", "host", cfg.Addr)
	}
	sshCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              auth,
		HostKeyCallback:   hkcb,
		HostKeyAlgorithms: algos,
		Timeout:           sftpDialTimeout,
	}
	ctx, cancel := context.WithTimeout(ctx, sftpDialTimeout)
	defer cancel()
	d := net.Dialer{KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		cleanup()
		return nil, f.dialErr(where, err, first)
	}
	stopWatch := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	sc, chans, reqs, err := ssh.NewClientConn(nc, cfg.Addr, sshCfg)
	stopWatch()
	if err != nil {
		nc.Close()
		cleanup()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, f.dialErr(where, err, first)
	}
	nc.SetDeadline(time.Time{})
	client := ssh.NewClient(sc, chans, reqs)

	c := &sftpConn{ssh: client, dead: make(chan struct{}), cleanup: cleanup}
	fail := func(what string, err error) (*sftpConn, error) {
		c.close()
		return nil, f.dialErr(where+": "+what, err, first)
	}

	// The extension session comes first: its limits size the packets.
	ext0, err := newExtClient(client)
	if err != nil {
		return fail("opening an sftp session", err)
	}
	if first {
		f.packet = 32 * 1024
		if ext0.has(extLimits) {
			if l, err := ext0.limits(); err == nil {
				p := min(l.MaxRead, l.MaxWrite, 256*1024)
				if l.MaxPacket > 1024 {
					p = min(p, l.MaxPacket-1024)
				}
				if p >= 32*1024 {
					f.packet = int(p)
				}
			}
		}
		f.perFile = max(8, min(64, (4<<20)/f.packet))
		f.feat = Features{
			Hardlinks:       ext0.has(extHardlink),
			SymlinkOwner:    ext0.has(extLsetstat),
			SymlinkTimes:    ext0.has(extLsetstat),
			TimeGranularity: time.Second,
		}
	}
	needExt := f.feat.SymlinkOwner
	if !needExt {
		ext0.Close()
		ext0 = nil
	}
	for i := 0; i < f.cfg.Concurrency; i++ {
		sc, err := sftp.NewClient(client,
			sftp.MaxPacketUnchecked(f.packet),
			sftp.MaxConcurrentRequestsPerFile(f.perFile),
			sftp.UseConcurrentWrites(true),
			sftp.UseConcurrentReads(true),
		)
		if err != nil {
			return fail("opening an sftp session", err)
		}
		s := &sftpSlot{conn: c, c: sc}
		if needExt {
			if i == 0 {
				s.ext = ext0
			} else if s.ext, err = newExtClient(client); err != nil {
				sc.Close()
				return fail("opening an sftp session", err)
			}
		}
		c.slots = append(c.slots, s)
		go func() { sc.Wait(); c.markDead() }()
	}
	go func() { client.Wait(); c.markDead() }()
	go c.keepalive()

	if first {
		root, err := c.slots[0].c.RealPath(f.cfg.Root)
		if err != nil {
			return fail("resolving root "+f.cfg.Root, err)
		}
		fi, err := c.slots[0].c.Stat(root)
		if err != nil {
			return fail("checking root "+root, err)
		}
		if !fi.IsDir() {
			return fail("checking root "+root, errors.New("not a directory"))
		}
		f.root = root
		f.name = "sftp://" + cfg.User + "@" + cfg.Addr + root
	}
	f.mu.Lock()
	f.gen++
	c.gen = f.gen
	f.mu.Unlock()
	f.log.Debug("sftp connected", "root", f.root, "sessions", len(c.slots), "packet", f.packet,
		"lsetstat", f.feat.SymlinkOwner, "hardlink", f.feat.Hardlinks, "gen", c.gen)
	return c, nil
}

// dialErr marks network failures on a reconnect as ErrConnectionLost, so callers
// retry them like any other dropped connection. Authentication and host key
// failures are not.
func (f *SFTP) dialErr(where string, err error, first bool) error {
	var ne net.Error
	if !first && (errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("sftp: %s: %w: %w", where, ErrConnectionLost, err)
	}
	return fmt.Errorf("sftp: %s: %w", where, err)
}

// conn returns the live connection, redialling once for all callers when the last
// one died.
func (f *SFTP) conn(ctx context.Context) (*sftpConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", f.name, fs.ErrClosed)
	}
	if c := f.cur; c != nil {
		if !c.isDead() {
			f.mu.Unlock()
			return c, nil
		}
		f.cur = nil
		go c.close()
	}
	call := f.dialing
	if call == nil {
		call = &dialCall{done: make(chan struct{})}
		f.dialing = call
		f.log.Info("sftp reconnecting")
		go func() {
			c, err := f.dial(f.stopCtx, false)
			f.mu.Lock()
			if err == nil && f.closed {
				c.close()
				err = fmt.Errorf("%s: %w", f.name, fs.ErrClosed)
			}
			if err == nil {
				f.cur = c
				f.log.Info("sftp reconnected", "gen", c.gen)
			} else {
				f.log.Warn("sftp reconnect failed", "err", err)
			}
			call.c, call.err = c, err
			f.dialing = nil
			f.mu.Unlock()
			close(call.done)
		}()
	}
	f.mu.Unlock()
	select {
	case <-call.done:
		return call.c, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *sftpConn) slot() *sftpSlot {
	n := c.next.Add(1)
	return c.slots[int(n)%len(c.slots)]
}

func (c *sftpConn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

func (c *sftpConn) markDead() {
	c.deadOnce.Do(func() {
		close(c.dead)
		c.ssh.Close()
	})
}

func (c *sftpConn) close() {
	c.markDead()
	for _, s := range c.slots {
		s.c.Close()
		if s.ext != nil {
			s.ext.Close()
		}
	}
	if c.cleanup != nil {
		c.cleanup()
	}
}

// keepalive notices a connection that died silently (a half-open TCP connection).
func (c *sftpConn) keepalive() {
	t := time.NewTicker(sftpKeepalive)
	defer t.Stop()
	for {
		select {
		case <-c.dead:
			return
		case <-t.C:
		}
		errc := make(chan error, 1)
		go func() {
			_, _, err := c.ssh.SendRequest("keepalive@openssh.com", true, nil)
			errc <- err
		}()
		select {
		case err := <-errc:
			if err != nil {
				c.markDead()
				return
			}
		case <-time.After(sftpKeepalive):
			c.markDead()
			return
		case <-c.dead:
			return
		}
	}
}

// lost reports whether err comes from a dead connection rather than from the server.
func (c *sftpConn) lost(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	switch {
	case errors.Is(err, sftp.ErrSSHFxConnectionLost),
		errors.Is(err, errExtSessionLost),
		errors.Is(err, io.EOF), // never a server answer outside a read: see sftpReader
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.ErrClosedPipe),
		errors.Is(err, net.ErrClosed),
		errors.As(err, &ne):
		c.markDead()
		return true
	}
	return c.isDead()
}

// opErr wraps err with what was being done and where, and with ErrConnectionLost
// when the connection died.
func (f *SFTP) opErr(c *sftpConn, op, name string, err error) error {
	if err == nil {
		return nil
	}
	if c != nil && c.lost(err) && !errors.Is(err, ErrConnectionLost) {
		return fmt.Errorf("%s: %s %q: %w: %w", f.name, op, name, ErrConnectionLost, err)
	}
	return fmt.Errorf("%s: %s %q: %w", f.name, op, name, err)
}

// remote maps an FS name to the remote path, refusing names that leave the root.
func (f *SFTP) remote(name string) (string, error) {
	if !validFSName(name) {
		return "", fmt.Errorf("%s: %q: %w", f.name, name, ErrUnsafePath)
	}
	if name == "." {
		return f.root, nil
	}
	return path.Join(f.root, name), nil
}

// do runs fn on a live session, wrapping its error. An idempotent operation that
// meets a dead connection (one that dropped since the last call, before anyone
// noticed) is tried once more on a fresh connection; others return
// ErrConnectionLost and leave the decision to the caller.
func (f *SFTP) do(ctx context.Context, op, name string, idempotent bool, fn func(s *sftpSlot, p string) error) error {
	p, err := f.remote(name)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		c, err := f.conn(ctx)
		if err != nil {
			return f.opErr(nil, op, name, err)
		}
		s := c.slot()
		err = f.checkParents(s, name)
		if err == nil {
			err = fn(s, p)
		}
		if err != nil && idempotent && attempt == 0 && ctx.Err() == nil && c.lost(err) {
			f.log.Debug("sftp retrying after a dropped connection", "op", op, "name", name, "err", err)
			continue
		}
		return f.opErr(c, op, name, err)
	}
}

func infoFrom(name string, fi os.FileInfo) Info {
	inf := Info{Name: name, Mode: fi.Mode(), Size: fi.Size(), ModTime: fi.ModTime()}
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		inf.UID, inf.GID = st.UID, st.GID
		inf.ModTime = time.Unix(int64(st.Mtime), 0)
	}
	return inf
}
