package location

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"path/filepath"
	"strings"

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
	KnownHostsFile string
	IdentityFiles  []string
	// UseAgent also tries the keys of the agent at $SSH_AUTH_SOCK.
	UseAgent              bool
	InsecureIgnoreHostKey bool
	// Sessions is the number of SFTP sessions per connection (0: the backend's default).
	Sessions int
	Log      *slog.Logger
}

// Parse reads a location: a local path (made absolute) or sftp://[user@]host[:port]/path.
// Passwords in URLs are refused: they would end up in logs and job records.
func Parse(s string) (Location, error) {
	if s == "" {
		return Location{}, errors.New("empty location: want DIR or sftp://[user@]host[:port]/path")
	}
	if !strings.HasPrefix(s, "sftp://") {
		if strings.Contains(s, "://") {
			return Location{}, fmt.Errorf("location %q: unknown scheme; want a directory or sftp://[user@]host[:port]/path", s)
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

// Open opens l as an FS rooted at it.
func Open(ctx context.Context, l Location, o Options) (efs.FS, error) {
	if !l.IsSFTP() {
		return efs.NewLocal(l.Local)
	}
	return efs.DialSFTP(ctx, efs.SFTPConfig{
		Addr:                  l.Addr,
		User:                  l.User,
		Root:                  l.Path,
		KnownHostsFile:        o.KnownHostsFile,
		IdentityFiles:         o.IdentityFiles,
		UseAgent:              o.UseAgent,
		InsecureIgnoreHostKey: o.InsecureIgnoreHostKey,
		Concurrency:           o.Sessions,
		Log:                   o.Log,
	})
}
