//go:build linux

package efstest

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// userXattrs keeps the user.* attributes of x (a backend may add labels of its own).
func userXattrs(x map[string][]byte) map[string]string {
	out := map[string]string{}
	for n, v := range x {
		if strings.HasPrefix(n, "user.") {
			out[n] = string(v)
		}
	}
	return out
}

// testXattrs: for a backend with extended attributes (efs.XattrFS), SetXattrs
// makes the kept ones exact on files and directories, symlinks have none, and a
// file with other hardlinks is refused. Other backends skip it.
func testXattrs(t *testing.T, e *env) {
	x, ok := e.fs.(efs.XattrFS)
	if !ok {
		t.Skip("backend has no extended attributes")
	}
	e.write("f", []byte("data"), e.attr(0o644))
	e.mkdir("d")
	e.symlink("f", "l")
	check := func(name string, want map[string]string) {
		t.Helper()
		got, err := x.Xattrs(e.ctx, name)
		if err != nil {
			t.Fatalf("Xattrs(%s): %v", name, err)
		}
		if g := userXattrs(got); len(g) != len(want) || func() bool {
			for k, v := range want {
				if g[k] != v {
					return true
				}
			}
			return false
		}() {
			t.Errorf("Xattrs(%s) = %q, want %q", name, g, want)
		}
	}
	for _, name := range []string{"f", "d"} {
		if err := x.SetXattrs(e.ctx, name, map[string][]byte{"user.a": []byte("1"), "user.b": []byte("2")}); err != nil {
			if errors.Is(err, efs.ErrNotSupported) {
				t.Skipf("the file system under the backend has no user xattrs: %v", err)
			}
			t.Fatalf("SetXattrs(%s): %v", name, err)
		}
		check(name, map[string]string{"user.a": "1", "user.b": "2"})
		if err := x.SetXattrs(e.ctx, name, map[string][]byte{"user.a": []byte("3")}); err != nil {
			t.Fatalf("SetXattrs(%s) again: %v", name, err)
		}
		check(name, map[string]string{"user.a": "3"})
	}
	if got, err := x.Xattrs(e.ctx, "l"); err != nil || got != nil {
		t.Errorf("Xattrs of a symlink: %q, %v", got, err)
	}
	if _, err := x.Xattrs(e.ctx, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Xattrs of a missing name: %v", err)
	}
	if e.feat.Hardlinks {
		if err := e.fs.Link(e.ctx, "f", "g"); err != nil {
			t.Fatal(err)
		}
		if err := x.SetXattrs(e.ctx, "g", map[string][]byte{"user.z": []byte("z")}); !errors.Is(err, efs.ErrUnsafePath) {
			t.Errorf("SetXattrs on a file with another hardlink: %v", err)
		}
		check("f", map[string]string{"user.a": "3"})
	}
}

// testZeroBlocks: data with whole and partial zero blocks, and a file that ends in
// zeros, round-trips exactly (a backend may leave zero blocks as holes, but the
// size and every byte must come back).
func testZeroBlocks(t *testing.T, e *env) {
	data := make([]byte, 5*4096+8192+3)
	copy(data[4096*2+100:], "in the middle")
	copy(data[4096*4:], bytes.Repeat([]byte{7}, 4096))
	w, err := e.fs.Create(e.ctx, "z", e.attr(0o644))
	if err != nil {
		t.Fatal(err)
	}
	// Odd chunk sizes, so blocks straddle writes.
	for p := data; len(p) > 0; {
		n := min(len(p), 3000)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := e.read("z"); !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes, differing from the %d written", len(got), len(data))
	}
	if inf := e.lstat("z"); inf.Size != int64(len(data)) {
		t.Errorf("size %d, want %d", inf.Size, len(data))
	}
}
