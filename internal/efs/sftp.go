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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	// DefaultIdentities says IdentityFiles are OpenSSH's defaults, not asked for:
	// one that needs a passphrase or cannot be read is skipped (the agent may hold
	// it) instead of being an error.
	DefaultIdentities bool
	// UseAgent also authenticates with the keys of the agent at $SSH_AUTH_SOCK.
	UseAgent bool
	// InsecureIgnoreHostKey accepts any host key. Every connect logs a warning.
	InsecureIgnoreHostKey bool
	// Server is the far end: SFTPServerMigrator (the default: this program's own
	// `sftp-server`, run with RemoteCommand over an SSH exec channel, which never
	// follows a symlink) or SFTPServerStock (the host's OpenSSH sftp-server
	// subsystem, which follows a directory swapped for a symlink: see SFTP).
	Server string
	// RemoteCommand starts the far end in SFTPServerMigrator mode; " --root
	// <Root>" is appended (default DefaultSFTPRemoteCommand).
	RemoteCommand string
	// Connections is the number of SSH connections, opened at once (default 2).
	// Each connection is one sshd process on the host, so more connections spread
	// the encryption over more cores.
	Connections int
	// Concurrency is the number of SFTP sessions, spread over the connections
	// (default 8). A session is one server process on the host handling one
	// metadata request at a time, so on EFS, where each costs milliseconds, more
	// sessions mean more operations in flight. A connection carries at most
	// SFTPMaxChannels channels (OpenSSH's MaxSessions defaults to 10): more
	// sessions than that make more connections. With SFTPServerMigrator, DialSFTP
	// returns once each connection has one session; the others join as their
	// server processes start.
	Concurrency int
	// Log receives connection events; nil discards them.
	Log *slog.Logger
}

// Far ends of an SFTP location (SFTPConfig.Server).
const (
	SFTPServerMigrator = "migrator"
	SFTPServerStock    = "stock"
)

// DefaultSFTPRemoteCommand runs this program on the host (installed in its PATH).
const DefaultSFTPRemoteCommand = "migrator sftp-server"

// SFTPMaxChannels is the most SSH channels one connection opens: below OpenSSH's
// default MaxSessions (10), with room for an interactive login of the admin.
const SFTPMaxChannels = 8

// SFTPStockLimitation is what the stock sftp-server mode cannot guarantee, in the
// words the copy report and the CLI's warning use.
const SFTPStockLimitation = "stock sftp-server mode (--sftp-server=stock): SFTP v3 cannot refuse to follow a symlink " +
	"in an intermediate path component, so a directory that a user swaps for a symlink while the copy runs is followed " +
	"by the (root-run) sftp-server: files outside the home may be read, or written and re-owned outside the destination. " +
	"Every directory is checked once, not at every use. Run the copy with this program on the host instead " +
	"(the default: install it there as `migrator`)"

// SFTP is an FS on a remote host reached over SSH, rooted at a remote directory.
//
// The far end is, by default, this program's own `sftp-server` (see ServeSFTP),
// run over an SSH exec channel like rsync runs itself: it resolves every name with
// openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), so nothing is ever followed
// whatever users swap in while the copy runs, shows inodes (hardlinks in a source
// are kept), stores nanosecond mtimes, sets owner, mode and mtime in one
// request, and takes a new small file in two (see Create). With the stock OpenSSH sftp-server (SFTPServerStock, an explicit
// opt-in), SFTP v3 as OpenSSH speaks it sets limits:
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
//     intermediate component between that check and the operation is followed by
//     the server (SFTPStockLimitation).
//   - New files are created with the server's default mode and chmod-ed to 0600
//     right away when their final mode is not readable by group and others, then
//     to their final mode on Close.
type SFTP struct {
	p      *sftpPool
	root   string // remote path of this FS's root
	name   string // sftp://[user@]host:port/root
	dirs   dirCache
	closed atomic.Bool
}

var _ FS = (*SFTP)(nil)

// sftpPool is the connections one SFTP FS and its Sub FSs share.
type sftpPool struct {
	cfg  SFTPConfig
	log  *slog.Logger
	host string // sftp://[user@]host:port

	// Learned from the first connection.
	feat    Features
	packet  int
	perFile int
	ours    bool   // the far end is ServeSFTP: no symlink is ever followed
	root    string // resolved root (stock) or "/" (ours)
	shown   string // the root as shown in names

	next    atomic.Uint32
	slots   []*connSlot
	mu      sync.Mutex
	refs    int
	closed  bool
	stop    context.CancelFunc
	stopCtx context.Context
	gen     uint64
}

// connSlot is one of the pool's connections, redialled when it dies.
type connSlot struct {
	sessions int
	cur      *sftpConn
	dialing  *dialCall
}

type dialCall struct {
	done chan struct{}
	c    *sftpConn
	err  error
}

// sftpConn is one SSH connection with its SFTP sessions.
type sftpConn struct {
	gen      uint64
	ssh      *ssh.Client
	slotsMu  sync.Mutex
	slots    []*sftpSlot                 // guarded by slotsMu; grows while sessions open
	live     atomic.Pointer[[]*sftpSlot] // slots as of the last session opened
	ext      *extClient                  // stock mode with lsetstat: one per connection
	next     atomic.Uint32
	dead     chan struct{}
	deadOnce sync.Once
	cleanup  func()

	// lateLog, when set, lets openSessions return after the first session and
	// logs the others' failures.
	lateLog *slog.Logger

	// What this connection learned about the server.
	feat      Features
	packet    int
	perFile   int
	ours      bool
	root      string
	shownRoot string // ours: the root the far end serves, as it resolved it
}

type sftpSlot struct {
	conn *sftpConn
	c    *sftp.Client
	ext  *extClient // the connection's, nil when the server has none worth using
	sess *ssh.Session
}

const (
	sftpDialTimeout = 30 * time.Second
	sftpKeepalive   = 20 * time.Second
)

// ErrRemoteCommand: the host could not run the remote end (SFTPServerMigrator mode).
var ErrRemoteCommand = errors.New("the SFTP host could not run studio-migrator's sftp-server")

// DialSFTP opens cfg.Connections connections at once, verifying the host key,
// logging in and checking that cfg.Root is a directory. The returned FS
// reconnects by itself after a dropped connection.
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
	switch cfg.Server {
	case "", SFTPServerMigrator:
		cfg.Server = SFTPServerMigrator
	case SFTPServerStock:
	default:
		return nil, fmt.Errorf("sftp: server %q: want %s or %s", cfg.Server, SFTPServerMigrator, SFTPServerStock)
	}
	if cfg.RemoteCommand == "" {
		cfg.RemoteCommand = DefaultSFTPRemoteCommand
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Connections <= 0 {
		cfg.Connections = 2
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &sftpPool{cfg: cfg, log: log.With("sftp", cfg.User+"@"+cfg.Addr), refs: 1}
	p.host = "sftp://" + cfg.Addr
	if cfg.User != "" {
		p.host = "sftp://" + cfg.User + "@" + cfg.Addr
	}
	p.stopCtx, p.stop = context.WithCancel(context.Background())
	for _, n := range sessionsPerConn(cfg.Concurrency, cfg.Connections, cfg.Server == SFTPServerStock) {
		p.slots = append(p.slots, &connSlot{sessions: n})
	}
	if cfg.InsecureIgnoreHostKey {
		p.log.Warn("NOT verifying the SSH host key (--insecure-ignore-host-key): anyone on the network path can impersonate the host and read or change the data", "host", cfg.Addr)
	}

	// Every connection at once: a connection and its sessions cost round trips
	// and a process start on the host each, which add up when made one by one.
	conns := make([]*sftpConn, len(p.slots))
	errs := make([]error, len(p.slots))
	var wg sync.WaitGroup
	for i, s := range p.slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns[i], errs[i] = p.dial(ctx, s.sessions, true)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range conns {
			if c != nil {
				c.close()
			}
		}
		p.stop()
		return nil, errs[slices.IndexFunc(errs, func(e error) bool { return e != nil })]
	}
	c0 := conns[0]
	p.feat, p.packet, p.perFile, p.ours, p.root = c0.feat, c0.packet, c0.perFile, c0.ours, c0.root
	p.shown = c0.root
	if p.ours {
		p.shown = c0.shownRoot
	}
	for i, c := range conns {
		p.gen++
		c.gen = p.gen
		p.slots[i].cur = c
	}
	p.log.Debug("sftp connected", "server", cfg.Server, "root", p.shown, "connections", len(conns),
		"sessions", cfg.Concurrency, "packet", p.packet, "lsetstat", p.feat.SymlinkOwner, "hardlink", p.feat.Hardlinks)
	f := &SFTP{p: p, root: p.root}
	f.name = p.host + p.shown
	return f, nil
}

// sessionsPerConn spreads total sessions over at least conns connections, so that
// no connection opens more than SFTPMaxChannels channels (stock mode adds one per
// connection for the lsetstat side session).
func sessionsPerConn(total, conns int, stock bool) []int {
	per := SFTPMaxChannels
	if stock {
		per--
	}
	conns = max(conns, (total+per-1)/per)
	conns = min(conns, total)
	out := make([]int, conns)
	for i := range out {
		out[i] = total / conns
		if i < total%conns {
			out[i]++
		}
	}
	return out
}

// Sub returns the FS rooted at name below f's root, sharing f's connections
// (so a destination's parent and the destination itself cost one set). name must
// be a directory; each FS must be closed, the connections close with the last.
func (f *SFTP) Sub(ctx context.Context, name string) (*SFTP, error) {
	inf, err := f.Lstat(ctx, name)
	if err != nil {
		return nil, err
	}
	if !inf.Mode.IsDir() {
		return nil, fmt.Errorf("%s: %q is not a directory (%v)", f.name, name, inf.Mode.Type())
	}
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if f.p.closed {
		return nil, fmt.Errorf("%s: %w", f.name, fs.ErrClosed)
	}
	f.p.refs++
	sub := &SFTP{p: f.p, root: path.Join(f.root, name)}
	sub.name = f.p.host + path.Join(f.p.shown, strings.TrimPrefix(sub.root, f.p.root))
	return sub, nil
}

// SFTPLimitations lists, once, what the SFTP FSs among fss cannot guarantee
// (SFTPStockLimitation for the stock sftp-server), for a copy report.
func SFTPLimitations(fss ...FS) []string {
	for _, f := range fss {
		if s, ok := f.(*SFTP); ok && !s.SafeServer() {
			return []string{SFTPStockLimitation}
		}
	}
	return nil
}

// String is sftp://user@host:port/root.
func (f *SFTP) String() string { return f.name }

// Features: see the type's comment.
func (f *SFTP) Features() Features { return f.p.feat }

// SafeServer reports whether the far end is this program's own server, which never
// follows a symlink (false: the stock sftp-server, see SFTPStockLimitation).
func (f *SFTP) SafeServer() bool { return f.p.ours }

// Close closes this FS; the connections close with the last FS that shares them.
// Later calls fail.
func (f *SFTP) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	p := f.p
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.refs--
	if p.refs > 0 {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var conns []*sftpConn
	for _, s := range p.slots {
		if s.cur != nil {
			conns = append(conns, s.cur)
			s.cur = nil
		}
	}
	p.mu.Unlock()
	p.stop()
	for _, c := range conns {
		c.close()
	}
	return nil
}

// dial opens a new connection with n sessions, opened at once, and learns what the
// server offers. first is true while DialSFTP runs.
func (p *sftpPool) dial(ctx context.Context, n int, first bool) (*sftpConn, error) {
	cfg := &p.cfg
	where := fmt.Sprintf("connecting to %s as %s", cfg.Addr, cfg.User)
	hkcb, algos, err := hostKeyConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("sftp: %s: %w", where, err)
	}
	auth, cleanup, err := authMethods(cfg)
	if err != nil {
		return nil, fmt.Errorf("sftp: %s: %w", where, err)
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
		return nil, dialErr(where, err, first)
	}
	nc = newCoalescingConn(nc)
	stopWatch := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	sc, chans, reqs, err := ssh.NewClientConn(nc, cfg.Addr, sshCfg)
	stopWatch()
	if err != nil {
		nc.Close()
		cleanup()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, dialErr(where, err, first)
	}
	nc.SetDeadline(time.Time{})
	client := ssh.NewClient(sc, chans, reqs)

	c := &sftpConn{ssh: client, dead: make(chan struct{}), cleanup: cleanup}
	fail := func(what string, err error) (*sftpConn, error) {
		c.close()
		if errors.Is(err, ErrRemoteCommand) {
			return nil, err
		}
		return nil, dialErr(where+": "+what, err, first)
	}
	if cfg.Server == SFTPServerStock {
		err = p.openStock(c, n)
	} else {
		err = p.openOurs(c, n)
	}
	if err != nil {
		return fail("opening sftp sessions", err)
	}
	go func() { client.Wait(); c.markDead() }()
	go c.keepalive()

	if c.ours {
		c.root = "/"
	} else {
		s0 := (*c.live.Load())[0]
		root, err := s0.c.RealPath(cfg.Root)
		if err != nil {
			return fail("resolving root "+cfg.Root, err)
		}
		fi, err := s0.c.Lstat(root)
		if err != nil {
			return fail("checking root "+root, err)
		}
		if !fi.IsDir() {
			return fail("checking root "+root, fmt.Errorf("not a directory (%v)", fi.Mode().Type()))
		}
		c.root = root
	}
	if !first {
		p.mu.Lock()
		p.gen++
		c.gen = p.gen
		p.mu.Unlock()
	}
	return c, nil
}

// openStock opens n sessions of the host's sftp subsystem, and one side session for
// the OpenSSH extensions pkg/sftp has no API for (lsetstat, limits).
func (p *sftpPool) openStock(c *sftpConn, n int) error {
	ext, err := newExtClient(c.ssh)
	if err != nil {
		return err
	}
	c.packet = 32 * 1024
	if ext.has(extLimits) {
		if l, err := ext.limits(); err == nil {
			pk := min(l.MaxRead, l.MaxWrite, 256*1024)
			if l.MaxPacket > 1024 {
				pk = min(pk, l.MaxPacket-1024)
			}
			if pk >= 32*1024 {
				c.packet = int(pk)
			}
		}
	}
	c.perFile = max(8, min(64, (4<<20)/c.packet))
	c.feat = Features{
		Hardlinks:       ext.has(extHardlink),
		SymlinkOwner:    ext.has(extLsetstat),
		SymlinkTimes:    ext.has(extLsetstat),
		TimeGranularity: time.Second,
	}
	if c.feat.SymlinkOwner {
		c.ext = ext
	} else {
		ext.Close()
	}
	return c.openSessions(n, func() (*sftp.Client, *ssh.Session, error) {
		sc, err := sftp.NewClient(c.ssh, c.clientOpts()...)
		return sc, nil, err
	})
}

// openOurs runs the remote command on n exec channels and checks that each one
// answers as ServeSFTP does.
func (p *sftpPool) openOurs(c *sftpConn, n int) error {
	c.ours = true
	c.packet = sftpOursPacket
	c.perFile = 16
	c.feat = Features{Inodes: true, Hardlinks: true, SymlinkOwner: true, SymlinkTimes: true, TimeGranularity: time.Nanosecond}
	cmd := p.cfg.RemoteCommand + " --root " + shellQuote(p.cfg.Root)
	var rootMu sync.Mutex
	// Each session is a process started through the login shell on the host (about
	// 70 ms of CPU for this program's start, against ~0 for OpenSSH's C server):
	// the first one is enough to start copying, the others join as they come.
	c.lateLog = p.log
	return c.openSessions(n, func() (*sftp.Client, *ssh.Session, error) {
		sc, sess, err := startRemote(c.ssh, cmd, c.clientOpts())
		if errors.Is(err, ErrRemoteCommand) {
			return nil, nil, fmt.Errorf("%w; %s", err, remoteInstallHint(p.cfg))
		}
		if err != nil {
			return nil, nil, err
		}
		reply, err := sc.RealPath(sftpHello)
		if err != nil || !strings.HasPrefix(reply, sftpHelloReply) {
			sc.Close()
			sess.Close()
			return nil, nil, fmt.Errorf("%w: %q on %s is not studio-migrator's sftp-server (it did not answer its hello: %q, %v); %s",
				ErrRemoteCommand, p.cfg.RemoteCommand, p.cfg.Addr, reply, err, remoteInstallHint(p.cfg))
		}
		rootMu.Lock()
		if c.shownRoot == "" { // the first session, before openSessions returns: DialSFTP reads it unlocked
			c.shownRoot = strings.TrimPrefix(reply, sftpHelloReply)
		}
		rootMu.Unlock()
		return sc, sess, nil
	})
}

func (c *sftpConn) clientOpts() []sftp.ClientOption {
	return []sftp.ClientOption{
		sftp.MaxPacketUnchecked(c.packet),
		sftp.MaxConcurrentRequestsPerFile(c.perFile),
		sftp.UseConcurrentWrites(true),
		sftp.UseConcurrentReads(true),
	}
}

// openSessions opens n sessions at once with open. With c.lateLog set, it
// returns once the first one is open (its error is the result) and the others are
// added as they open; one that fails is logged and left out.
func (c *sftpConn) openSessions(n int, open func() (*sftp.Client, *ssh.Session, error)) error {
	if c.lateLog != nil && n > 1 {
		sc, sess, err := open()
		if err != nil {
			return err
		}
		c.addSlot(&sftpSlot{conn: c, c: sc, ext: c.ext, sess: sess})
		for range n - 1 {
			go func() {
				sc, sess, err := open()
				if err != nil {
					if !c.isDead() {
						c.lateLog.Warn("sftp: opening a session failed; going on with fewer", "err", err)
					}
					return
				}
				c.addSlot(&sftpSlot{conn: c, c: sc, ext: c.ext, sess: sess})
			}()
		}
		return nil
	}
	slots := make([]*sftpSlot, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc, sess, err := open()
			if err != nil {
				errs[i] = err
				return
			}
			slots[i] = &sftpSlot{conn: c, c: sc, ext: c.ext, sess: sess}
		}()
	}
	wg.Wait()
	for _, s := range slots {
		if s != nil {
			c.addSlot(s)
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// startRemote runs cmd on an exec channel and speaks SFTP with it over its stdin
// and stdout. When the command fails (not installed, wrong root), its exit status
// and stderr say why.
func startRemote(client *ssh.Client, cmd string, opts []sftp.ClientOption) (*sftp.Client, *ssh.Session, error) {
	sess, err := client.NewSession()
	if err != nil {
		return nil, nil, err
	}
	w, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, nil, err
	}
	r, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, nil, err
	}
	stderr := &tailBuffer{max: 4096}
	sess.Stderr = stderr
	if err := sess.Start(cmd); err != nil {
		sess.Close()
		return nil, nil, fmt.Errorf("starting %q: %w", cmd, err)
	}
	sc, err := sftp.NewClientPipe(r, w, opts...)
	if err != nil {
		// The command exited (or never spoke SFTP): its exit status and stderr say why.
		done := make(chan error, 1)
		go func() { done <- sess.Wait() }()
		var werr error
		select {
		case werr = <-done:
		case <-time.After(5 * time.Second):
		}
		sess.Close()
		msg := strings.TrimSpace(stderr.String())
		var ee *ssh.ExitError
		if errors.As(werr, &ee) {
			if st := ee.ExitStatus(); st != 126 && st != 127 {
				// It ran (and said why it stopped, e.g. a missing --root): no install hint.
				return nil, nil, fmt.Errorf("the SFTP host's %q exited with status %d: %s", cmd, st, msg)
			}
			return nil, nil, fmt.Errorf("%w: %q exited with status %d: %s", ErrRemoteCommand, cmd, ee.ExitStatus(), msg)
		}
		return nil, nil, fmt.Errorf("%w: %q: %v %s", ErrRemoteCommand, cmd, err, msg)
	}
	return sc, sess, nil
}

// remoteInstallHint says how to get the remote end onto the host, or how to opt out.
func remoteInstallHint(cfg SFTPConfig) string {
	host, _, _ := net.SplitHostPort(cfg.Addr)
	return fmt.Sprintf("install this program on %s (a static binary: scp ./migrator %s@%s:/usr/local/bin/migrator) "+
		"or point --sftp-remote-command at it; or, accepting that a directory swapped for a symlink mid-copy is followed, "+
		"use the host's stock sftp-server with --sftp-server=stock", host, cfg.User, host)
}

// shellQuote quotes s for a POSIX shell (the remote command runs in the login shell).
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// dialErr marks network failures on a reconnect as ErrConnectionLost, so callers
// retry them like any other dropped connection. Authentication and host key
// failures are not.
func dialErr(where string, err error, first bool) error {
	var ne net.Error
	if !first && (errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("sftp: %s: %w: %w", where, ErrConnectionLost, err)
	}
	return fmt.Errorf("sftp: %s: %w", where, err)
}

// conn returns a live connection (the pool's connections in turn), redialling once
// for all callers a connection that died.
func (f *SFTP) conn(ctx context.Context) (*sftpConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := f.p
	p.mu.Lock()
	if p.closed || f.closed.Load() {
		p.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", f.name, fs.ErrClosed)
	}
	s := p.slots[int(p.next.Add(1))%len(p.slots)]
	if c := s.cur; c != nil {
		if !c.isDead() {
			p.mu.Unlock()
			return c, nil
		}
		s.cur = nil
		go c.close()
	}
	call := s.dialing
	if call == nil {
		call = &dialCall{done: make(chan struct{})}
		s.dialing = call
		p.log.Info("sftp reconnecting")
		go func() {
			c, err := p.dial(p.stopCtx, s.sessions, false)
			p.mu.Lock()
			if err == nil && p.closed {
				c.close()
				err = fmt.Errorf("%s: %w", f.name, fs.ErrClosed)
			}
			if err == nil {
				s.cur = c
				p.log.Info("sftp reconnected", "gen", c.gen)
			} else {
				p.log.Warn("sftp reconnect failed", "err", err)
			}
			call.c, call.err = c, err
			s.dialing = nil
			p.mu.Unlock()
			close(call.done)
		}()
	}
	p.mu.Unlock()
	select {
	case <-call.done:
		return call.c, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// addSlot makes s one of the sessions requests go to; a session that opened after
// the connection was closed is closed.
func (c *sftpConn) addSlot(s *sftpSlot) {
	c.slotsMu.Lock()
	if c.isDead() {
		c.slotsMu.Unlock()
		s.close()
		return
	}
	c.slots = append(c.slots, s)
	live := slices.Clone(c.slots)
	c.live.Store(&live)
	c.slotsMu.Unlock()
	go func() { s.c.Wait(); c.markDead() }()
}

func (s *sftpSlot) close() {
	s.c.Close()
	if s.sess != nil {
		s.sess.Close()
	}
}

func (c *sftpConn) slot() *sftpSlot {
	n := c.next.Add(1)
	live := *c.live.Load()
	return live[int(n)%len(live)]
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
	c.slotsMu.Lock()
	slots := c.slots
	c.slotsMu.Unlock()
	for _, s := range slots {
		s.close()
	}
	if c.ext != nil {
		c.ext.Close()
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
	if f.p.ours {
		err = oursErr(err)
	}
	return fmt.Errorf("%s: %s %q: %w", f.name, op, name, err)
}

// oursErr gives back the meaning of a ServeSFTP failure that SFTP v3 has no status
// code for (its message is Local's error text).
func oursErr(err error) error {
	var se *sftp.StatusError
	if !errors.As(err, &se) || se.FxCode() != sftp.ErrSSHFxFailure {
		return err
	}
	msg := err.Error()
	for _, m := range []struct {
		text string
		is   error
	}{
		{ErrUnsafePath.Error(), ErrUnsafePath},
		{fs.ErrExist.Error(), fs.ErrExist},
		{syscall.ENOTDIR.Error(), syscall.ENOTDIR},
		{syscall.ENOTEMPTY.Error(), syscall.ENOTEMPTY},
		{syscall.EISDIR.Error(), syscall.EISDIR},
		{syscall.ENAMETOOLONG.Error(), syscall.ENAMETOOLONG},
	} {
		if strings.Contains(msg, m.text) {
			return fmt.Errorf("%w (%w)", m.is, err)
		}
	}
	return err
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
		if !f.p.ours { // ServeSFTP follows no symlink anywhere: nothing to check
			err = f.checkParents(s, name)
		}
		if err == nil {
			err = fn(s, p)
		}
		if err != nil && idempotent && attempt == 0 && ctx.Err() == nil && c.lost(err) {
			f.p.log.Debug("sftp retrying after a dropped connection", "op", op, "name", name, "err", err)
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
		if x, ok := parseStatExt(st); ok {
			inf.Dev, inf.Ino, inf.Nlink, inf.ModTime = x.dev, x.ino, x.nlink, x.mtime
		}
	}
	return inf
}
