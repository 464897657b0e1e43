//go:build linux

package latencyfs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Delays is the cost of one operation of each class.
type Delays struct {
	Read  time.Duration // lookups, attribute reads, opens, reads, directory listings
	Write time.Duration // anything that changes metadata, and committing a written file
}

// DefaultDelays approximate EFS General Purpose mode from an EC2 instance in the same AZ.
var DefaultDelays = Delays{Read: time.Millisecond, Write: 3 * time.Millisecond}

// DefaultCacheTimeout is the entry, attribute and negative-lookup cache lifetime.
const DefaultCacheTimeout = time.Second

// Options configure Mount.
type Options struct {
	Delays Delays
	// CacheTimeout is the kernel's entry/attr/negative cache lifetime; 0 means
	// DefaultCacheTimeout, a negative value disables caching.
	CacheTimeout time.Duration
	// Debug logs every FUSE request.
	Debug bool
	// Trace, when set, receives one line per delayed request, written when it ends:
	// its start and end (microseconds since the mount), the operation, the node id,
	// the name it carries ("-" for none) and its byte count (READ, WRITE; else 0).
	// WRITE (free) is traced too. Opt-in, for finding a tool's critical
	// path (which requests wait on which, what is in flight when); Unmount flushes
	// it. The caller closes it.
	Trace io.Writer
}

// Counts is how many delayed operations of each class a mount served.
type Counts struct {
	Read, Write int64
}

// Server serves one mounted latency file system.
type Server struct {
	Dir     string // the mount point
	Backing string // the directory it passes through to
	server  *fuse.Server
	fs      *delayFS
}

// Mount mounts a pass-through of backing on mountpoint (both must be directories)
// and serves it until Unmount. It needs root and /dev/fuse; it calls mount(2)
// itself, so no fusermount binary is needed.
func Mount(mountpoint, backing string, opts Options) (*Server, error) {
	ttl := opts.CacheTimeout
	if ttl == 0 {
		ttl = DefaultCacheTimeout
	}
	if ttl < 0 {
		ttl = 0
	}
	root, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		return nil, fmt.Errorf("latencyfs: loopback root %s: %w", backing, err)
	}
	raw := fs.NewNodeFS(root, &fs.Options{EntryTimeout: &ttl, AttrTimeout: &ttl, NegativeTimeout: &ttl})
	dfs := &delayFS{RawFileSystem: raw, d: opts.Delays}
	if opts.Trace != nil {
		dfs.trace = &tracer{w: bufio.NewWriterSize(opts.Trace, 1<<16), t0: time.Now()}
	}
	server, err := fuse.NewServer(dfs, mountpoint, &fuse.MountOptions{
		DirectMountStrict: true,
		AllowOther:        true,
		FsName:            "latencyfs:" + backing,
		Name:              "latencyfs",
		Debug:             opts.Debug,
		// Release, Forget and readahead are background requests; the kernel's default
		// of 12 would let a burst of them queue behind one another.
		MaxBackground: 128,
	})
	if err != nil {
		return nil, fmt.Errorf("latencyfs: mounting %s: %w", mountpoint, err)
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		server.Unmount()
		return nil, fmt.Errorf("latencyfs: mounting %s: %w", mountpoint, err)
	}
	return &Server{Dir: mountpoint, Backing: backing, server: server, fs: dfs}, nil
}

// Counts reports the delayed operations served so far.
func (m *Server) Counts() Counts {
	return Counts{Read: m.fs.reads.Load(), Write: m.fs.writes.Load()}
}

// Unmount unmounts and waits for the server to stop. It retries for a few seconds
// while the mount is busy (a process still has a file open on it).
func (m *Server) Unmount() error {
	var err error
	for i := 0; i < 50; i++ {
		if err = m.server.Unmount(); err == nil {
			m.server.Wait()
			return m.fs.trace.flush()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("latencyfs: unmounting %s: %w", m.Dir, err)
}

// Available reports why FUSE mounts cannot work here, or nil if they can be tried.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("latencyfs mounts need root (mount(2) without fusermount)")
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("no usable /dev/fuse: %w", err)
	}
	f.Close()
	return nil
}

// delayFS wraps the loopback's raw protocol handler: every operation class is one
// method, so no operation can slip through undelayed by being served elsewhere.
type delayFS struct {
	fuse.RawFileSystem
	d             Delays
	reads, writes atomic.Int64
	dirty         sync.Map // file handle -> struct{}: handles that wrote data
	trace         *tracer  // nil unless Options.Trace
}

// tracer writes Options.Trace's lines.
type tracer struct {
	mu  sync.Mutex
	w   *bufio.Writer
	t0  time.Time
	err error
}

// span starts a traced request; the returned func ends it (and writes its line).
// Without a tracer it costs nothing but the call.
func (t *tracer) span(op string, node uint64, name string, size uint32) func() {
	if t == nil {
		return func() {}
	}
	start := time.Since(t.t0)
	return func() {
		end := time.Since(t.t0)
		if name == "" {
			name = "-"
		}
		t.mu.Lock()
		if t.err == nil {
			_, t.err = fmt.Fprintf(t.w, "%d %d %s %d %q %d\n", start.Microseconds(), end.Microseconds(), op, node, name, size)
		}
		t.mu.Unlock()
	}
}

func (t *tracer) flush() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = t.w.Flush()
	}
	if t.err != nil {
		return fmt.Errorf("latencyfs: writing the trace: %w", t.err)
	}
	return nil
}

// sleep waits d in full. It deliberately ignores the kernel's INTERRUPT (the cancel
// channel): a Go program's threads receive signals (SIGURG preemption) at any time,
// and cutting the delay short on each would let such a tool skip latency the others
// pay. An unmount waits at most one delay longer.
func sleep(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}

func (f *delayFS) read(_ <-chan struct{}) {
	f.reads.Add(1)
	sleep(f.d.Read)
}

func (f *delayFS) write(_ <-chan struct{}) {
	f.writes.Add(1)
	sleep(f.d.Write)
}

// Reads.

func (f *delayFS) Lookup(c <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	defer f.trace.span("Lookup", h.NodeId, name, 0)()
	f.read(c)
	return f.RawFileSystem.Lookup(c, h, name, out)
}

func (f *delayFS) GetAttr(c <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	defer f.trace.span("GetAttr", in.NodeId, "", 0)()
	f.read(c)
	return f.RawFileSystem.GetAttr(c, in, out)
}

func (f *delayFS) Statx(c <-chan struct{}, in *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	defer f.trace.span("Statx", in.NodeId, "", 0)()
	f.read(c)
	return f.RawFileSystem.Statx(c, in, out)
}

func (f *delayFS) Open(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer f.trace.span("Open", in.NodeId, "", 0)()
	f.read(c)
	return f.RawFileSystem.Open(c, in, out)
}

func (f *delayFS) OpenDir(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer f.trace.span("OpenDir", in.NodeId, "", 0)()
	f.read(c)
	return f.RawFileSystem.OpenDir(c, in, out)
}

func (f *delayFS) Read(c <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	defer f.trace.span("Read", in.NodeId, "", in.Size)()
	f.read(c)
	return f.RawFileSystem.Read(c, in, buf)
}

func (f *delayFS) ReadDir(c <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer f.trace.span("ReadDir", in.NodeId, "", 0)()
	f.read(c)
	return f.RawFileSystem.ReadDir(c, in, out)
}

func (f *delayFS) ReadDirPlus(c <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer f.trace.span("ReadDirPlus", in.NodeId, "", 0)()
	f.read(c)
	return f.RawFileSystem.ReadDirPlus(c, in, out)
}

func (f *delayFS) Readlink(c <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	defer f.trace.span("Readlink", h.NodeId, "", 0)()
	f.read(c)
	return f.RawFileSystem.Readlink(c, h)
}

func (f *delayFS) Access(c <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	defer f.trace.span("Access", in.NodeId, "", 0)()
	f.read(c)
	return f.RawFileSystem.Access(c, in)
}

func (f *delayFS) StatFs(c <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	defer f.trace.span("StatFs", h.NodeId, "", 0)()
	f.read(c)
	return f.RawFileSystem.StatFs(c, h, out)
}

// Metadata changes.

func (f *delayFS) SetAttr(c <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	defer f.trace.span("SetAttr", in.NodeId, "", 0)()
	f.write(c)
	return f.RawFileSystem.SetAttr(c, in, out)
}

func (f *delayFS) Mknod(c <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	defer f.trace.span("Mknod", in.NodeId, name, 0)()
	f.write(c)
	return f.RawFileSystem.Mknod(c, in, name, out)
}

func (f *delayFS) Mkdir(c <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	defer f.trace.span("Mkdir", in.NodeId, name, 0)()
	f.write(c)
	return f.RawFileSystem.Mkdir(c, in, name, out)
}

func (f *delayFS) Unlink(c <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	defer f.trace.span("Unlink", h.NodeId, name, 0)()
	f.write(c)
	return f.RawFileSystem.Unlink(c, h, name)
}

func (f *delayFS) Rmdir(c <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	defer f.trace.span("Rmdir", h.NodeId, name, 0)()
	f.write(c)
	return f.RawFileSystem.Rmdir(c, h, name)
}

func (f *delayFS) Rename(c <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	defer f.trace.span("Rename", in.NodeId, newName, 0)()
	f.write(c)
	return f.RawFileSystem.Rename(c, in, oldName, newName)
}

func (f *delayFS) Link(c <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	defer f.trace.span("Link", in.NodeId, name, 0)()
	f.write(c)
	return f.RawFileSystem.Link(c, in, name, out)
}

func (f *delayFS) Symlink(c <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	defer f.trace.span("Symlink", h.NodeId, name, 0)()
	f.write(c)
	return f.RawFileSystem.Symlink(c, h, target, name, out)
}

func (f *delayFS) Create(c <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	defer f.trace.span("Create", in.NodeId, name, 0)()
	f.write(c)
	return f.RawFileSystem.Create(c, in, name, out)
}

func (f *delayFS) Fsync(c <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	defer f.trace.span("Fsync", in.NodeId, "", 0)()
	f.write(c)
	return f.RawFileSystem.Fsync(c, in)
}

func (f *delayFS) CopyFileRange(c <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	defer f.trace.span("CopyFileRange", in.NodeId, "", 0)()
	f.write(c)
	return f.RawFileSystem.CopyFileRange(c, in)
}

// Data: writes are free but mark the handle, so its flush pays for the commit.

func (f *delayFS) Write(c <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	defer f.trace.span("Write", in.NodeId, "", uint32(len(data)))()
	f.dirty.Store(in.Fh, struct{}{})
	return f.RawFileSystem.Write(c, in, data)
}

func (f *delayFS) Writev(c <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	f.dirty.Store(in.Fh, struct{}{})
	return f.RawFileSystem.Writev(c, in, data)
}

func (f *delayFS) Flush(c <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	defer f.trace.span("Flush", in.NodeId, "", 0)()
	if _, wrote := f.dirty.LoadAndDelete(in.Fh); wrote {
		f.write(c)
	} else {
		f.read(c)
	}
	return f.RawFileSystem.Flush(c, in)
}

func (f *delayFS) Release(c <-chan struct{}, in *fuse.ReleaseIn) {
	f.dirty.Delete(in.Fh)
	f.RawFileSystem.Release(c, in)
}
