package location

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// Location is a parsed DIR or sftp:// location.
type Location struct {
	// Local is the absolute, cleaned local path; "" for an SFTP location.
	Local string `json:"local,omitempty"`
	// User, Addr and Path describe an SFTP location: Addr is host[:port], Path the
	// cleaned remote path.
	User string `json:"user,omitempty"`
	Addr string `json:"addr,omitempty"`
	Path string `json:"path,omitempty"`
}

// Options say how to open SFTP locations. They come from the opening process's
// flags and environment, never from a Location.
type Options struct {
	// KnownHostsFile: default ~/.ssh/known_hosts.
	KnownHostsFile string
	// IdentityFiles are tried first, then the host's IdentityFile lines in the SSH
	// config; when neither names one, OpenSSH's defaults (~/.ssh/id_ed25519,
	// id_ecdsa, id_rsa) that exist and need no passphrase.
	IdentityFiles []string
	// UseAgent also tries the keys of the agent at $SSH_AUTH_SOCK.
	UseAgent              bool
	InsecureIgnoreHostKey bool
	// SSHConfigFile is read for HostName, User, Port, IdentityFile (default
	// ~/.ssh/config; "none" reads nothing).
	SSHConfigFile string
	// Server is efs.SFTPServerMigrator (default) or efs.SFTPServerStock.
	Server string
	// RemoteCommand starts the far end (default efs.DefaultSFTPRemoteCommand).
	RemoteCommand string
	// Sessions is the number of SFTP sessions in all (0: the backend's default),
	// spread over Connections SSH connections (0: the backend's default).
	Sessions    int
	Connections int
	Log         *slog.Logger
}

// AddFlags registers the SFTP flags, shared by every command that opens locations.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.KnownHostsFile, "known-hosts", "", "known_hosts file for SFTP host keys (default ~/.ssh/known_hosts)")
	fs.StringSliceVar(&o.IdentityFiles, "identity", nil, "SSH private key file for SFTP (repeatable; default: the host's IdentityFile in ~/.ssh/config, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa; the agent at $SSH_AUTH_SOCK is also used)")
	fs.BoolVar(&o.InsecureIgnoreHostKey, "insecure-ignore-host-key", false, "DANGEROUS: accept any SFTP host key (anyone on the path can read and change the data)")
	fs.StringVar(&o.SSHConfigFile, "ssh-config", "", "OpenSSH client config read for HostName, User, Port and IdentityFile (default ~/.ssh/config; none to skip)")
	fs.StringVar(&o.Server, "sftp-server", efs.SFTPServerMigrator, "far end of sftp:// locations: migrator (this program on the host, run over SSH; never follows a symlink) or stock (the host's OpenSSH sftp-server: follows a directory swapped for a symlink mid-copy)")
	fs.StringVar(&o.RemoteCommand, "sftp-remote-command", efs.DefaultSFTPRemoteCommand, "command that runs this program's sftp-server on the SFTP host (--root DIR is appended)")
	fs.IntVar(&o.Sessions, "sftp-sessions", 8, "SFTP sessions in all (each a server process handling one metadata request at a time), spread over --sftp-connections; at most 8 SSH channels per connection (sshd's MaxSessions defaults to 10), more sessions open more connections")
	fs.IntVar(&o.Connections, "sftp-connections", 2, "SSH connections per SFTP location, opened at once (each is one sshd process on the host)")
}

// Check refuses bad option values before anything is opened.
func (o *Options) Check() error {
	switch o.Server {
	case "", efs.SFTPServerMigrator, efs.SFTPServerStock:
	default:
		return fmt.Errorf("--sftp-server %q: want %s or %s", o.Server, efs.SFTPServerMigrator, efs.SFTPServerStock)
	}
	if o.Sessions < 0 || o.Connections < 0 {
		return errors.New("--sftp-sessions and --sftp-connections must not be negative")
	}
	return nil
}

// Parse reads a location: a local path (made absolute), sftp://[user@]host[:port]/path
// or, as scp writes it, [user@]host:/path. Passwords in URLs are refused: they would
// end up in logs and job records. A local path with a colon in its first component
// is written ./name:x.
func Parse(s string) (Location, error) {
	if s == "" {
		return Location{}, errors.New("empty location: want DIR, sftp://[user@]host[:port]/path or [user@]host:/path")
	}
	if l, ok, err := parseSCP(s); ok || err != nil {
		return l, err
	}
	if !strings.HasPrefix(s, "sftp://") {
		if strings.Contains(s, "://") {
			return Location{}, fmt.Errorf("location %q: unknown scheme; want a directory, sftp://[user@]host[:port]/path or [user@]host:/path", s)
		}
		if strings.HasPrefix(s, "/") {
			// Already absolute on the Linux host that opens it (a worker, the EFS
			// host): kept with forward slashes even by a CLI on Windows, whose
			// filepath.Abs would make /mnt/efs C:\mnt\efs. Elsewhere this is what
			// filepath.Abs returns.
			return Location{Local: path.Clean(s)}, nil
		}
		abs, err := filepath.Abs(s)
		if err != nil {
			return Location{}, fmt.Errorf("location %q: %w", s, err)
		}
		return Location{Local: filepath.Clean(abs)}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return Location{}, fmt.Errorf("location %q: %w", s, err)
	}
	if _, hasPw := u.User.Password(); hasPw {
		return Location{}, errors.New("passwords in sftp:// URLs are not accepted; use an SSH key (--identity) or the SSH agent")
	}
	if u.Host == "" || u.Path == "" || u.Path == "/" {
		return Location{}, fmt.Errorf("location %q: want sftp://[user@]host[:port]/path", s)
	}
	return Location{User: u.User.Username(), Addr: u.Host, Path: path.Clean(u.Path)}, nil
}

// parseSCP reads [user@]host:/path ([user@][v6addr]:/path). ok is false when s is
// not in that form (no colon before the first slash).
func parseSCP(s string) (Location, bool, error) {
	// A Windows drive (C:\homes) is a local path, not host C; elsewhere there are
	// no drives.
	if strings.Contains(s, "://") || filepath.VolumeName(s) != "" {
		return Location{}, false, nil
	}
	colon := -1
	if i := strings.Index(s, "]:"); strings.HasPrefix(s, "[") || strings.Contains(s, "@[") {
		colon = i + 1
		if i < 0 {
			return Location{}, false, nil
		}
	} else {
		colon = strings.IndexByte(s, ':')
	}
	if colon <= 0 || strings.Contains(s[:colon], "/") {
		return Location{}, false, nil
	}
	hostPart, p := s[:colon], s[colon+1:]
	userName := ""
	if at := strings.LastIndexByte(hostPart, '@'); at >= 0 {
		userName, hostPart = hostPart[:at], hostPart[at+1:]
	}
	host := strings.TrimSuffix(strings.TrimPrefix(hostPart, "["), "]")
	if host == "" || strings.ContainsAny(host, " \t") {
		return Location{}, true, fmt.Errorf("location %q: want [user@]host:/path", s)
	}
	if !strings.HasPrefix(p, "/") || path.Clean(p) == "/" {
		return Location{}, true, fmt.Errorf("location %q: want an absolute path after the colon, as in %s:/mnt/efs/200001 (a local path with a colon is written ./%s)", s, hostPart, s)
	}
	addr := host
	if strings.Contains(host, ":") {
		addr = "[" + host + "]"
	}
	return Location{User: userName, Addr: addr, Path: path.Clean(p)}, true, nil
}

// IsSFTP reports whether l is on a remote host.
func (l Location) IsSFTP() bool { return l.Local == "" }

// String is the location as an administrator writes it.
func (l Location) String() string {
	if !l.IsSFTP() {
		return l.Local
	}
	u := "sftp://"
	if l.User != "" {
		u += l.User + "@"
	}
	return u + l.Addr + l.Path
}

// Join is the location of elem below l.
func (l Location) Join(elem ...string) Location {
	if !l.IsSFTP() {
		l.Local = filepath.Join(append([]string{l.Local}, elem...)...)
		return l
	}
	l.Path = path.Join(append([]string{l.Path}, elem...)...)
	return l
}

// Parent is the location of l's parent directory and l's base name.
func (l Location) Parent() (Location, string) {
	if !l.IsSFTP() {
		return Location{Local: filepath.Dir(l.Local)}, filepath.Base(l.Local)
	}
	p := l
	p.Path = path.Dir(l.Path)
	return p, path.Base(l.Path)
}

// checkLocal is efs.CheckLocal; a test swaps it to see the refusal on Linux.
var checkLocal = efs.CheckLocal

// CheckPlatform refuses the local locations among ls when this platform cannot
// open a home on a local file system (efs.ErrUnsupportedPlatform: anything but
// Linux); SFTP locations are opened by the far end and pass. It is the one check
// every command makes, first, so that a command fails before it opens or creates
// anything; Open makes it too.
func CheckPlatform(ls ...Location) error {
	for _, l := range ls {
		if l.IsSFTP() {
			continue
		}
		if err := checkLocal(); err != nil {
			return fmt.Errorf("local location %s: %w", l, err)
		}
	}
	return nil
}

// Open opens l as an FS rooted at it.
func Open(ctx context.Context, l Location, o Options) (efs.FS, error) {
	if !l.IsSFTP() {
		if err := CheckPlatform(l); err != nil {
			return nil, err
		}
		return efs.OpenLocal(l.Local)
	}
	cfg, err := SFTPConfig(l, o)
	if err != nil {
		return nil, err
	}
	return efs.DialSFTP(ctx, cfg)
}

// OpenDest opens the parent of l, lets prepare make l in it (efs.PrepareDest),
// and opens l itself, over the parent's connections when l is on an SFTP host.
func OpenDest(ctx context.Context, l Location, o Options, prepare func(parent efs.FS, name string) error) (efs.FS, error) {
	parentLoc, name := l.Parent()
	parent, err := Open(ctx, parentLoc, o)
	if err != nil {
		return nil, fmt.Errorf("opening the parent of the destination %s (it must exist): %w", parentLoc, err)
	}
	if err := prepare(parent, name); err != nil {
		parent.Close()
		return nil, err
	}
	if sf, ok := parent.(*efs.SFTP); ok {
		defer sf.Close()
		dst, err := sf.Sub(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("opening destination %s: %w", l, err)
		}
		return dst, nil
	}
	parent.Close()
	dst, err := Open(ctx, l, o)
	if err != nil {
		return nil, fmt.Errorf("opening destination %s: %w", l, err)
	}
	return dst, nil
}

// SFTPConfig is how l is reached: l's own user and port first, then what the SSH
// config says for its host (HostName, User, Port, IdentityFile), then OpenSSH's
// defaults.
func SFTPConfig(l Location, o Options) (efs.SFTPConfig, error) {
	alias, port, err := net.SplitHostPort(l.Addr)
	if err != nil {
		alias, port = strings.TrimSuffix(strings.TrimPrefix(l.Addr, "["), "]"), ""
	}
	var h SSHHost
	file := o.SSHConfigFile
	if file == "" {
		file = DefaultSSHConfigFile()
	}
	if file != "none" && file != "" {
		if h, err = LookupSSHConfig(file, alias); err != nil {
			return efs.SFTPConfig{}, err
		}
	}
	if h.ProxyJump != "" {
		return efs.SFTPConfig{}, fmt.Errorf("%s for host %s (in %s) is not supported: run the copy where the host is reachable directly, "+
			"or forward a port (ssh -L 2222:%s:22 jumphost) and use sftp://127.0.0.1:2222/...", h.ProxyJump, alias, file, alias)
	}
	host := alias
	if h.HostName != "" {
		host = h.HostName
	}
	if port == "" {
		port = h.Port
	}
	if port == "" {
		port = "22"
	}
	userName := l.User
	if userName == "" {
		userName = h.User
	}
	ids := append(append([]string(nil), o.IdentityFiles...), h.IdentityFiles...)
	defaults := false
	if len(ids) == 0 {
		ids = efs.DefaultIdentityFiles()
		defaults = true
	}
	return efs.SFTPConfig{
		Addr:                  net.JoinHostPort(host, port),
		User:                  userName,
		Root:                  l.Path,
		KnownHostsFile:        o.KnownHostsFile,
		IdentityFiles:         ids,
		DefaultIdentities:     defaults,
		UseAgent:              o.UseAgent,
		InsecureIgnoreHostKey: o.InsecureIgnoreHostKey,
		Server:                o.Server,
		RemoteCommand:         o.RemoteCommand,
		Concurrency:           o.Sessions,
		Connections:           o.Connections,
		Log:                   o.Log,
	}, nil
}
