//go:build linux

package efs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// sparseFile writes a file of size bytes holding 4 KiB of data at each offset in
// at, holes elsewhere.
func sparseFile(t *testing.T, p string, size int64, at ...int64) {
	t.Helper()
	f, err := os.Create(p)
	must(t, err)
	defer f.Close()
	must(t, f.Truncate(size))
	for i, off := range at {
		block := bytes.Repeat([]byte{byte(i + 1)}, 4096)
		_, err := f.WriteAt(block, off)
		must(t, err)
	}
}

func allocated(t *testing.T, p string) int64 {
	t.Helper()
	_, st := lstatSys(t, p)
	return st.Blocks * 512
}

// sameContent compares two files byte for byte (holes read as zeros).
func sameContent(t *testing.T, a, b string) {
	t.Helper()
	fa, err := os.Open(a)
	must(t, err)
	defer fa.Close()
	fb, err := os.Open(b)
	must(t, err)
	defer fb.Close()
	ba, bb := make([]byte, 8<<20), make([]byte, 8<<20)
	for off := int64(0); ; {
		na, erra := io.ReadFull(fa, ba)
		nb, _ := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			t.Fatalf("%s and %s differ near offset %d", a, b, off)
		}
		if erra != nil {
			return
		}
		off += int64(na)
	}
}

// TestCopySparseFile: a 2 GiB sparse image with 12 KiB of data used to take 2 GiB
// in the destination (and fail on a nearly full volume where cp -a succeeds).
func TestCopySparseFile(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	srcDir, dstDir := filepath.Join(base, "src"), filepath.Join(base, "dst")
	must(t, os.MkdirAll(srcDir, 0o755))
	must(t, os.MkdirAll(dstDir, 0o700))
	const size = 2 << 30
	img := filepath.Join(srcDir, "disk.img")
	sparseFile(t, img, size, 0, 1<<30+12345, size-4096)
	if a := allocated(t, img); a > 1<<20 {
		t.Skipf("the test file system does not keep holes (%d bytes allocated)", a)
	}
	rep, err := efs.Copy(context.Background(), newLocalFS(t, srcDir), newLocalFS(t, dstDir), efs.CopyOptions{UID: newUID, Workers: 2})
	must(t, err)
	out := filepath.Join(dstDir, "disk.img")
	fi, err := os.Lstat(out)
	must(t, err)
	if fi.Size() != size {
		t.Fatalf("size %d, want %d", fi.Size(), size)
	}
	if a := allocated(t, out); a > 256<<10 {
		t.Errorf("destination allocates %d bytes for 12 KiB of data", a)
	}
	t.Logf("allocated: source %d bytes, destination %d bytes; report copied-bytes %d", allocated(t, img), allocated(t, out), rep.CopiedBytes)
	// Same content, without reading 4 GiB: the same data regions (everything else
	// is a hole, which reads as zeros) holding the same bytes.
	sr, dr := dataRegions(t, img), dataRegions(t, out)
	if fmt.Sprint(sr) != fmt.Sprint(dr) {
		t.Fatalf("data regions differ: source %v, destination %v", sr, dr)
	}
	fs, err := os.Open(img)
	must(t, err)
	defer fs.Close()
	fd, err := os.Open(out)
	must(t, err)
	defer fd.Close()
	for _, r := range sr {
		a, b := make([]byte, r[1]-r[0]), make([]byte, r[1]-r[0])
		_, err := fs.ReadAt(a, r[0])
		must(t, err)
		_, err = fd.ReadAt(b, r[0])
		must(t, err)
		if !bytes.Equal(a, b) {
			t.Errorf("data at %d differs", r[0])
		}
	}
	if _, err := efs.Verify(context.Background(), newLocalFS(t, srcDir), newLocalFS(t, dstDir), efs.VerifyOptions{UID: newUID}); err != nil {
		t.Errorf("verify: %v", err)
	}
}

// dataRegions lists a file's [start, end) data regions (SEEK_DATA/SEEK_HOLE).
func dataRegions(t *testing.T, p string) [][2]int64 {
	t.Helper()
	f, err := os.Open(p)
	must(t, err)
	defer f.Close()
	fi, err := f.Stat()
	must(t, err)
	var out [][2]int64
	for off := int64(0); off < fi.Size(); {
		d, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break
		}
		must(t, err)
		h, err := unix.Seek(int(f.Fd()), d, unix.SEEK_HOLE)
		must(t, err)
		out = append(out, [2]int64{d, h})
		off = h
	}
	return out
}

// plainOpenFS hides the reader's kernel-copy paths, as a source that cannot report
// holes (SFTP) looks to the destination.
type plainOpenFS struct{ efs.FS }

func (p plainOpenFS) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := p.FS.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return struct{ io.ReadCloser }{r}, nil
}

// TestCopyZeroBlocksBecomeHoles: from a source that cannot say where its holes are,
// whole zero blocks are left as holes (the end of the file too), the rest written.
func TestCopyZeroBlocksBecomeHoles(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	srcDir, dstDir := filepath.Join(base, "src"), filepath.Join(base, "dst")
	must(t, os.MkdirAll(srcDir, 0o755))
	must(t, os.MkdirAll(dstDir, 0o700))
	// Fully allocated, mostly zeros, data at odd offsets, ending in zeros.
	data := make([]byte, 32<<20+100)
	copy(data[5000:], "data in the middle of a block")
	copy(data[20<<20:], bytes.Repeat([]byte("x"), 3*4096+7))
	must(t, os.WriteFile(filepath.Join(srcDir, "zeros"), data, 0o644))
	must(t, os.WriteFile(filepath.Join(srcDir, "small"), []byte("no zeros"), 0o644))
	_, err := efs.Copy(context.Background(), plainOpenFS{newLocalFS(t, srcDir)}, newLocalFS(t, dstDir), efs.CopyOptions{UID: newUID, Workers: 2})
	must(t, err)
	for _, n := range []string{"zeros", "small"} {
		sameContent(t, filepath.Join(srcDir, n), filepath.Join(dstDir, n))
	}
	if a := allocated(t, filepath.Join(dstDir, "zeros")); a > 1<<20 {
		t.Errorf("zero blocks written: %d bytes allocated", a)
	}
	if _, st := lstatSys(t, filepath.Join(dstDir, "zeros")); st.Size != int64(len(data)) {
		t.Errorf("size %d, want %d", st.Size, len(data))
	}
}
