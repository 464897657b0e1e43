package efs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"
)

// sftpIOBuffer batches small Writes and Reads into requests big enough for pkg/sftp
// to split into concurrent packets, so a caller copying with a 32 KiB buffer is not
// bound by one round trip per packet.
const sftpIOBuffer = 2 << 20

// Lstat describes name without following a symlink.
func (f *SFTP) Lstat(ctx context.Context, name string) (Info, error) {
	var inf Info
	err := f.do(ctx, "lstat", name, true, func(s *sftpSlot, p string) error {
		fi, err := s.c.Lstat(p)
		if err != nil {
			return err
		}
		inf = infoFrom(name, fi)
		if fi.IsDir() {
			f.dirs.add(name)
		}
		return nil
	})
	return inf, err
}

// ReadDir lists name (entries described by lstat: OpenSSH's readdir does not follow links).
func (f *SFTP) ReadDir(ctx context.Context, name string) ([]Info, error) {
	var out []Info
	err := f.do(ctx, "reading directory", name, true, func(s *sftpSlot, p string) error {
		if !f.p.ours {
			// opendir follows symlinks: check the type first.
			fi, err := s.c.Lstat(p)
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				return fmt.Errorf("%w (%v)", syscall.ENOTDIR, fi.Mode().Type())
			}
			f.dirs.add(name)
		}
		fis, err := s.c.ReadDirContext(ctx, p)
		if err != nil {
			return err
		}
		out = make([]Info, 0, len(fis))
		for _, fi := range fis {
			if fi.Name() == "." || fi.Name() == ".." {
				continue
			}
			out = append(out, infoFrom(fi.Name(), fi))
		}
		return nil
	})
	return out, err
}

// Readlink returns the target as stored.
func (f *SFTP) Readlink(ctx context.Context, name string) (string, error) {
	var target string
	err := f.do(ctx, "reading symlink", name, true, func(s *sftpSlot, p string) (err error) {
		target, err = s.c.ReadLink(p)
		return err
	})
	return target, err
}

// Open opens a regular file for reading. With the stock server the type is
// checked with lstat first (SFTP has no O_NOFOLLOW); ServeSFTP refuses anything
// else by itself.
func (f *SFTP) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	var r *sftpReader
	err := f.do(ctx, "opening", name, true, func(s *sftpSlot, p string) error {
		if !f.p.ours {
			fi, err := s.c.Lstat(p)
			if err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("not a regular file (%v)", fi.Mode().Type())
			}
		}
		file, err := s.c.OpenFile(p, os.O_RDONLY)
		if err != nil {
			return err
		}
		r = &sftpReader{f: f, c: s.conn, ctx: ctx, file: file, name: name}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

type sftpReader struct {
	f    *SFTP
	c    *sftpConn
	ctx  context.Context
	file *sftp.File
	name string
	br   *bufio.Reader
}

func (r *sftpReader) wrap(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return r.f.opErr(r.c, op, r.name, err)
}

func (r *sftpReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if r.br == nil {
		r.br = bufio.NewReaderSize(r.file, sftpIOBuffer)
	}
	n, err := r.br.Read(p)
	return n, r.wrap("reading", err)
}

// WriteTo lets io.Copy use pkg/sftp's concurrent reads.
func (r *sftpReader) WriteTo(w io.Writer) (int64, error) {
	if r.br != nil && r.br.Buffered() > 0 {
		m, err := r.br.WriteTo(w) // drains the buffer, then continues from the file
		return m, r.wrap("reading", err)
	}
	n, err := r.file.WriteTo(w)
	return n, r.wrap("reading", err)
}

func (r *sftpReader) Close() error { return r.wrap("closing", r.file.Close()) }

// Create makes a new file with an exclusive open. Close applies attr: the owner
// through the handle, then the mode through the handle (after chown, which clears
// setuid), then the mtime.
//
// With ServeSFTP a new file costs two requests, not four: Create makes the file
// (empty, 0600, by name: sftpCreateExt) and Close sends the data together with
// owner, mode and mtime (sftpPutExt), as long as the data fits in sftpPutMax;
// only a bigger file opens a handle for pipelined writes.
func (f *SFTP) Create(ctx context.Context, name string, attr Attr) (io.WriteCloser, error) {
	var w *sftpWriter
	err := f.do(ctx, "creating", name, false, func(s *sftpSlot, p string) error {
		if f.p.ours {
			if err := s.c.SetExtendedData(p, []sftp.StatExtended{{ExtType: sftpCreateExt}}); err != nil {
				if _, lerr := s.c.Lstat(p); lerr == nil {
					return fmt.Errorf("%w (%v)", fs.ErrExist, err)
				}
				return err
			}
			w = &sftpWriter{f: f, c: s.conn, ctx: ctx, s: s, name: name, path: p, attr: attr, put: true}
			return nil
		}
		if _, err := sftpTime(attr.ModTime); err != nil {
			return err // before anything exists on the server
		}
		file, err := s.c.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			if _, lerr := s.c.Lstat(p); lerr == nil {
				return fmt.Errorf("%w (%v)", fs.ErrExist, err)
			}
			return err
		}
		// Keep a private file private while it is written.
		if attr.Perm&0o044 != 0o044 {
			if err := file.Chmod(0o600); err != nil {
				file.Close()
				return err
			}
		}
		w = &sftpWriter{f: f, c: s.conn, ctx: ctx, s: s, file: file, name: name, path: p, attr: attr}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// sftpPutMax is the most data Close sends in one sftpPutExt request: below
// pkg/sftp's 256 KiB message limit with room for the path and the attributes.
const sftpPutMax = 224 << 10

// putBufs recycles the buffers that hold a small file until Close.
var putBufs = sync.Pool{New: func() any { b := make([]byte, 0, sftpPutMax+1); return &b }}

type sftpWriter struct {
	f    *SFTP
	c    *sftpConn
	ctx  context.Context
	s    *sftpSlot
	file *sftp.File // nil while put holds every byte written
	name string
	path string
	attr Attr
	bw   *bufio.Writer

	// put: ServeSFTP, nothing sent since Create; buf holds the data (at most
	// sftpPutMax bytes) until Close sends it in one request.
	put bool
	buf *[]byte

	mu     sync.Mutex
	closed bool
}

func (w *sftpWriter) wrap(op string, err error) error { return w.f.opErr(w.c, op, w.name, err) }

// open leaves put mode: the data outgrew sftpPutMax, so it goes through a handle
// (the file exists: Create made it), starting with what buf holds.
func (w *sftpWriter) open() error {
	file, err := w.s.c.OpenFile(w.path, os.O_WRONLY)
	if err != nil {
		return w.wrap("opening for writing", err)
	}
	w.file, w.put = file, false
	if w.buf != nil {
		b := *w.buf
		_, err = file.ReadFromWithConcurrency(bytes.NewReader(b), w.f.p.perFile)
		w.freeBuf()
		if err != nil {
			return w.wrap("writing", err)
		}
	}
	return nil
}

func (w *sftpWriter) freeBuf() {
	if w.buf != nil {
		*w.buf = (*w.buf)[:0]
		putBufs.Put(w.buf)
		w.buf = nil
	}
}

func (w *sftpWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	if w.put {
		if w.buf == nil {
			w.buf = putBufs.Get().(*[]byte)
		}
		if len(*w.buf)+len(p) <= sftpPutMax {
			*w.buf = append(*w.buf, p...)
			return len(p), nil
		}
		if err := w.open(); err != nil {
			return 0, err
		}
	}
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(w.file, sftpIOBuffer)
	}
	n, err := w.bw.Write(p)
	return n, w.wrap("writing", err)
}

// ReadFrom lets io.Copy use pkg/sftp's concurrent writes (in put mode, once the
// data is bigger than sftpPutMax).
func (w *sftpWriter) ReadFrom(r io.Reader) (int64, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	var read int64
	if w.put {
		if w.buf == nil {
			w.buf = putBufs.Get().(*[]byte)
		}
		b := *w.buf
		for len(b) <= sftpPutMax {
			n, err := r.Read(b[len(b):cap(b)])
			b = b[:len(b)+n]
			read += int64(n)
			if err == io.EOF {
				*w.buf = b
				return read, nil
			}
			if err != nil {
				*w.buf = b
				return read, err
			}
		}
		*w.buf = b
		if err := w.open(); err != nil {
			return read, err
		}
	}
	if w.bw != nil {
		if err := w.bw.Flush(); err != nil {
			return read, w.wrap("writing", err)
		}
	}
	n, err := w.file.ReadFromWithConcurrency(r, w.f.p.perFile)
	return read + n, w.wrap("writing", err)
}

func (w *sftpWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.put {
		defer w.freeBuf()
		if err := w.ctx.Err(); err != nil {
			return err
		}
		var data []byte
		if w.buf != nil {
			data = *w.buf
		}
		// One request: the data, then owner, mode and the mtime to the nanosecond.
		ext := append(setattrExt(w.attr, SetAll), sftp.StatExtended{ExtType: sftpPutExt, ExtData: string(data)})
		return w.wrap("writing", w.s.c.SetExtendedData(w.path, ext))
	}
	err := w.finish()
	if cerr := w.file.Close(); err == nil {
		err = w.wrap("closing", cerr)
	}
	return err
}

func (w *sftpWriter) finish() error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if w.bw != nil {
		if err := w.bw.Flush(); err != nil {
			return w.wrap("writing", err)
		}
	}
	if w.f.p.ours {
		// One request: owner, mode and the mtime to the nanosecond.
		return w.wrap("setting attributes of", w.file.SetExtendedData(w.path, setattrExt(w.attr, SetAll)))
	}
	if err := w.file.Chown(int(w.attr.UID), int(w.attr.GID)); err != nil {
		return w.wrap("chown", chownHint(err))
	}
	if err := w.file.Chmod(w.attr.Perm & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return w.wrap("chmod", err)
	}
	mt, err := sftpTime(w.attr.ModTime)
	if err != nil {
		return w.wrap("setting mtime of", err)
	}
	if w.s.ext != nil {
		err = w.s.ext.lsetstat(w.path, fxAttrACModTime, 0, 0, 0, mt, mt)
	} else {
		err = w.s.c.Chtimes(w.path, w.attr.ModTime, w.attr.ModTime)
	}
	return w.wrap("setting mtime of", err)
}

// Mkdir makes a directory with mode perm (chmod-ed after mkdir, so the server's
// umask does not matter); an existing directory is left alone.
func (f *SFTP) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	return f.do(ctx, "mkdir", name, true, func(s *sftpSlot, p string) error {
		if err := s.c.Mkdir(p); err != nil {
			fi, lerr := s.c.Lstat(p)
			if lerr == nil && fi.IsDir() {
				f.dirs.add(name)
				return nil
			}
			if lerr == nil {
				return fmt.Errorf("%w (%v)", fs.ErrExist, fi.Mode().Type())
			}
			return err
		}
		f.dirs.add(name)
		return s.c.Chmod(p, perm&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	})
}

// Symlink makes name a symlink to target, stored verbatim.
func (f *SFTP) Symlink(ctx context.Context, target, name string) error {
	return f.do(ctx, "symlink", name, false, func(s *sftpSlot, p string) error {
		if err := s.c.Symlink(target, p); err != nil {
			if _, lerr := s.c.Lstat(p); lerr == nil {
				return fmt.Errorf("%w (%v)", fs.ErrExist, err)
			}
			return err
		}
		return nil
	})
}

// Link makes newname a hardlink to oldname (hardlink@openssh.com).
func (f *SFTP) Link(ctx context.Context, oldname, newname string) error {
	oldp, err := f.remote(oldname)
	if err != nil {
		return err
	}
	if !f.p.feat.Hardlinks {
		return fmt.Errorf("%s: link %q: hardlink@openssh.com: %w", f.name, newname, ErrNotSupported)
	}
	return f.do(ctx, "link", newname, false, func(s *sftpSlot, p string) error {
		if !f.p.ours {
			if err := f.checkParents(s, oldname); err != nil {
				return err
			}
		}
		if err := s.c.Link(oldp, p); err != nil {
			if _, lerr := s.c.Lstat(p); lerr == nil {
				return fmt.Errorf("%w (%v)", fs.ErrExist, err)
			}
			return err
		}
		return nil
	})
}

// Rename uses posix-rename@openssh.com, which replaces newname atomically.
func (f *SFTP) Rename(ctx context.Context, oldname, newname string) error {
	newp, err := f.remote(newname)
	if err != nil {
		return err
	}
	defer f.dirs.forget(oldname)
	defer f.dirs.forget(newname)
	return f.do(ctx, "rename", oldname, false, func(s *sftpSlot, p string) error {
		if !f.p.ours {
			if err := f.checkParents(s, newname); err != nil {
				return err
			}
		}
		f.dirs.forget(oldname)
		f.dirs.forget(newname)
		if _, ok := s.c.HasExtension(extRename); ok {
			return s.c.PosixRename(p, newp)
		}
		return s.c.Rename(p, newp)
	})
}

// Remove deletes a file, a symlink or an empty directory.
func (f *SFTP) Remove(ctx context.Context, name string) error {
	if name == "." {
		return fmt.Errorf("%s: remove: refusing to remove the root: %w", f.name, ErrUnsafePath)
	}
	defer f.dirs.forget(name)
	return f.do(ctx, "remove", name, false, func(s *sftpSlot, p string) error {
		f.dirs.forget(name)
		fi, err := s.c.Lstat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return s.c.RemoveDirectory(p)
		}
		return s.c.Remove(p)
	})
}

// Setattr applies attr to name itself. Owner and times go through lsetstat when the
// server has it; otherwise a symlink gets ErrNotSupported and nothing is sent.
func (f *SFTP) Setattr(ctx context.Context, name string, attr Attr, mask SetMask) error {
	return f.do(ctx, "setattr", name, true, func(s *sftpSlot, p string) error {
		if f.p.ours {
			if mask&SetAll == 0 {
				return nil
			}
			return s.c.SetExtendedData(p, setattrExt(attr, mask))
		}
		var mt uint32
		if mask&SetTimes != 0 {
			var err error
			if mt, err = sftpTime(attr.ModTime); err != nil {
				return err // before any change
			}
		}
		// Fast path: owner and times only, never following a link: one request.
		if s.ext != nil && mask&SetPerm == 0 {
			var flags uint32
			if mask&SetOwner != 0 {
				flags |= fxAttrUIDGID
			}
			if mask&SetTimes != 0 {
				flags |= fxAttrACModTime
			}
			if flags == 0 {
				return nil
			}
			return s.ext.lsetstat(p, flags, attr.UID, attr.GID, 0, mt, mt)
		}
		fi, err := s.c.Lstat(p)
		if err != nil {
			return err
		}
		isLink := fi.Mode()&fs.ModeSymlink != 0
		if isLink {
			mask &^= SetPerm
			if s.ext == nil && mask&(SetOwner|SetTimes) != 0 {
				return fmt.Errorf("owner or times of a symlink (the server has no %s): %w", extLsetstat, ErrNotSupported)
			}
		}
		if mask&SetOwner != 0 {
			if s.ext != nil {
				err = s.ext.lsetstat(p, fxAttrUIDGID, attr.UID, attr.GID, 0, 0, 0)
			} else {
				err = s.c.Chown(p, int(attr.UID), int(attr.GID))
			}
			if err != nil {
				return fmt.Errorf("chown: %w", chownHint(err))
			}
		}
		if mask&SetPerm != 0 {
			if err := s.c.Chmod(p, attr.Perm&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return fmt.Errorf("chmod: %w", err)
			}
		}
		if mask&SetTimes != 0 {
			if s.ext != nil {
				err = s.ext.lsetstat(p, fxAttrACModTime, 0, 0, 0, mt, mt)
			} else {
				err = s.c.Chtimes(p, attr.ModTime, attr.ModTime)
			}
			if err != nil {
				return fmt.Errorf("setting mtime: %w", err)
			}
		}
		return nil
	})
}

// sftpTime converts t to SFTP v3's unsigned 32-bit seconds. A time it cannot hold
// (before 1970 or after 2106) is ErrNotSupported rather than silently wrapped to
// another date.
func sftpTime(t time.Time) (uint32, error) {
	sec := t.Unix()
	if sec < 0 || sec > math.MaxUint32 {
		return 0, fmt.Errorf("mtime %v is outside what SFTP v3 stores (1970 to 2106): %w", t.UTC(), ErrNotSupported)
	}
	return uint32(sec), nil
}

// chownHint explains a refused chown: only root can give files away.
func chownHint(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w (re-owning files needs root on the SFTP host: log in as root, or run the "+
			"sftp subsystem as root, e.g. Subsystem sftp sudo -n /usr/lib/openssh/sftp-server)", err)
	}
	return err
}
