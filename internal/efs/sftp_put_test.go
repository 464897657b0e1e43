//go:build linux

package efs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/sys/unix"
)

// servePipe serves dir with ServeSFTP over a pipe and returns a pkg/sftp client of it.
func servePipe(t *testing.T, dir string) *sftp.Client {
	t.Helper()
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	cr, sw := io.Pipe() // server -> client
	sr, cw := io.Pipe() // client -> server
	done := make(chan error, 1)
	go func() {
		done <- ServeSFTP(struct {
			io.Reader
			io.WriteCloser
		}{sr, sw}, l)
	}()
	c, err := sftp.NewClientPipe(cr, cw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		cw.Close()
		<-done
		l.Close()
	})
	return c
}

func putExt(attr Attr, data []byte) []sftp.StatExtended {
	return append(setattrExt(attr, SetAll), sftp.StatExtended{ExtType: sftpPutExt, ExtData: string(data)})
}

// TestServeSFTPPut: create then put makes the file with exactly the data and the
// attributes (owner, mode with setgid, nanosecond mtime), in two requests.
func TestServeSFTPPut(t *testing.T) {
	dir := t.TempDir()
	c := servePipe(t, dir)
	if err := c.SetExtendedData("/f", []sftp.StatExtended{{ExtType: sftpCreateExt}}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(filepath.Join(dir, "f"))
	if err != nil || st.Size() != 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("after create: %v, %v (want an empty 0600 file)", st, err)
	}
	data := bytes.Repeat([]byte("put "), 1000)
	mt := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	attr := Attr{UID: 4242, GID: 4343, Perm: 0o640 | fs.ModeSetgid, ModTime: mt}
	if err := c.SetExtendedData("/f", putExt(attr, data)); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "f"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("data = %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
	var s unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "f"), &s); err != nil {
		t.Fatal(err)
	}
	if s.Uid != 4242 || s.Gid != 4343 || s.Mode&0o7777 != 0o2640 || s.Mtim.Sec != mt.Unix() || s.Mtim.Nsec != int64(mt.Nanosecond()) {
		t.Errorf("owner %d:%d mode %o mtime %d.%09d; want 4242:4343 2640 %d.%09d", s.Uid, s.Gid, s.Mode&0o7777, s.Mtim.Sec, s.Mtim.Nsec, mt.Unix(), mt.Nanosecond())
	}
	// A second create of the same name fails: the file exists.
	if err := c.SetExtendedData("/f", []sftp.StatExtended{{ExtType: sftpCreateExt}}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("create over an existing file = %v, want a failure", err)
	}
}

// TestServeSFTPPutRefusesSwapped: put writes only into the very file create made on
// the same session, still empty: a file swapped in (another empty file, a hardlink
// to a file elsewhere, a symlink), one written meanwhile, or a name never created
// is refused, and nothing is changed.
func TestServeSFTPPutRefusesSwapped(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	attr := Attr{UID: 4242, GID: 4343, Perm: 0o644, ModTime: time.Unix(1e9, 0)}
	data := []byte("secret data of the home")
	swaps := map[string]func(p string) error{
		"another empty file": func(p string) error {
			if err := os.WriteFile(p+".other", nil, 0o600); err != nil {
				return err
			}
			return os.Rename(p+".other", p)
		},
		"a hardlink to a file elsewhere": func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Link(outside, p)
		},
		"a symlink to a file elsewhere": func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Symlink(outside, p)
		},
		"written meanwhile": func(p string) error { return os.WriteFile(p, []byte("x"), 0o600) },
	}
	for what, swap := range swaps {
		t.Run(what, func(t *testing.T) {
			c := servePipe(t, dir)
			name := strings.ReplaceAll(what, " ", "_")
			p := filepath.Join(dir, name)
			if err := c.SetExtendedData("/"+name, []sftp.StatExtended{{ExtType: sftpCreateExt}}); err != nil {
				t.Fatal(err)
			}
			if err := swap(p); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Lstat(p)
			if err := c.SetExtendedData("/"+name, putExt(attr, data)); err == nil {
				t.Fatal("put into a swapped file succeeded")
			}
			after, err := os.Lstat(p)
			if err != nil || after.Size() != before.Size() || after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
				t.Errorf("swapped file changed: %v -> %v (%v)", before, after, err)
			}
			if st, err := os.Stat(outside); err != nil || st.Size() != 0 || st.Mode().Perm() != 0o600 {
				t.Errorf("file outside the root changed: %v, %v", st, err)
			}
			var s unix.Stat_t
			if err := unix.Stat(outside, &s); err != nil || s.Uid == 4242 {
				t.Errorf("file outside the root re-owned: uid %d, %v", s.Uid, err)
			}
		})
	}
	t.Run("never created", func(t *testing.T) {
		p := filepath.Join(dir, "existing")
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		c := servePipe(t, dir)
		err := c.SetExtendedData("/existing", putExt(attr, data))
		var se *sftp.StatusError
		if err == nil || !errors.As(err, &se) {
			t.Fatalf("put into a file this session did not create = %v, want a status error", err)
		}
		if st, err := os.Lstat(p); err != nil || st.Size() != 0 || st.Mode().Perm() != 0o600 {
			t.Errorf("existing file changed: %v, %v", st, err)
		}
	})
}

// TestServeSFTPConcurrentBigWrites: the server reuses each request's buffer once it
// is answered (sftp.WithRSAllocator). Files written and read back at once, each
// with many requests in flight, with puts of small files in between, hold exactly
// their own bytes: no request saw another's reused buffer.
func TestServeSFTPConcurrentBigWrites(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- ServeSFTP(struct {
			io.Reader
			io.WriteCloser
		}{sr, sw}, l)
	}()
	c, err := sftp.NewClientPipe(cr, cw, sftp.MaxPacketUnchecked(sftpOursPacket),
		sftp.MaxConcurrentRequestsPerFile(16), sftp.UseConcurrentWrites(true), sftp.UseConcurrentReads(true))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		c.Close()
		cw.Close()
		<-done
	}()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := make([]byte, 6<<20+1000*i)
			for j := range data {
				data[j] = byte(j*31 + i*7 + j>>12)
			}
			name := fmt.Sprintf("/big%d", i)
			f, err := c.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := f.ReadFromWithConcurrency(bytes.NewReader(data), 16); err != nil {
				t.Error(err)
			}
			f.Close()
			// A small file put between the big writes.
			small := bytes.Repeat([]byte{byte('a' + i)}, 5000)
			sname := fmt.Sprintf("/small%d", i)
			if err := c.SetExtendedData(sname, []sftp.StatExtended{{ExtType: sftpCreateExt}}); err != nil {
				t.Error(err)
				return
			}
			attr := Attr{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Perm: 0o644, ModTime: time.Unix(1.6e9, 0)}
			if err := c.SetExtendedData(sname, putExt(attr, small)); err != nil {
				t.Error(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s on disk: %d bytes (want %d), equal %v, %v", name, len(got), len(data), bytes.Equal(got, data), err)
			}
			if got, err := os.ReadFile(filepath.Join(dir, sname)); err != nil || !bytes.Equal(got, small) {
				t.Errorf("%s on disk: %q..., %v", sname, got[:min(len(got), 8)], err)
			}
			r, err := c.Open(name)
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			var back bytes.Buffer
			if _, err := r.WriteTo(&back); err != nil || !bytes.Equal(back.Bytes(), data) {
				t.Errorf("%s read back: %d bytes (want %d), %v", name, back.Len(), len(data), err)
			}
		}()
	}
	wg.Wait()
}
