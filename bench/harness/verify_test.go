//go:build linux

package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studio-migrator/studio-migrator/bench/treegen"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestVerifyCatchesWrongCopies: a tool cannot get a figure for a copy that is wrong
// in any way its contract covers.
func TestVerifyCatchesWrongCopies(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if _, err := treegen.Generate(src, treegen.Config{Files: 60, LargeFiles: 1, LargeSize: 100 << 10}); err != nil {
		t.Fatal(err)
	}
	srcMan, err := scan(src, 2)
	if err != nil {
		t.Fatal(err)
	}
	const newUID = 300001
	copyTree := func(name string) string {
		dst := filepath.Join(dir, name)
		if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
			t.Fatalf("cp -a: %v %s", err, out)
		}
		return dst
	}
	check := func(dst string, c contract) error {
		t.Helper()
		m, err := scan(dst, 2)
		if err != nil {
			t.Fatal(err)
		}
		return verify(srcMan, m, c, newUID)
	}
	// A file with at least two names, for the hardlink cases.
	var linked string
	for name, e := range srcMan.entries {
		if e.typ == 'f' && strings.HasPrefix(name, ".conda/pkgs/") {
			linked = name
			break
		}
	}
	if linked == "" {
		t.Fatal("tree has no hardlinked file")
	}

	ref := copyTree("ref")
	if err := check(ref, contractReference); err != nil {
		t.Errorf("cp -a copy fails the reference contract: %v", err)
	}
	if err := check(ref, contractFull); err == nil || !strings.Contains(err.Error(), "owner") {
		t.Errorf("copy with the old owners passed the full contract: %v", err)
	}

	good := copyTree("good")
	if out, err := exec.Command("chown", "-R", "300001", good).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	if err := check(good, contractFull); err != nil {
		t.Fatalf("a correct copy fails the full contract: %v", err)
	}

	cases := []struct {
		name   string
		break_ func(dst string) error
		want   string
	}{
		{"changed byte", func(dst string) error {
			f, err := os.OpenFile(filepath.Join(dst, linked), os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte{0xff, 0x00, 0xff}, 0)
			return err
		}, "contents"},
		{"missing file", func(dst string) error { return os.Remove(filepath.Join(dst, ".bashrc")) }, "missing"},
		{"extra file", func(dst string) error { return os.WriteFile(filepath.Join(dst, ".tmp-123"), nil, 0o644) }, "not in the source"},
		{"mode", func(dst string) error { return os.Chmod(filepath.Join(dst, ".bashrc"), 0o600) }, "mode"},
		{"split hardlink", func(dst string) error {
			p := filepath.Join(dst, linked)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, _ := os.Stat(p)
			os.Remove(p)
			if err := os.WriteFile(p, b, fi.Mode()); err != nil {
				return err
			}
			os.Chown(p, newUID, 1001)
			return os.Chtimes(p, fi.ModTime(), fi.ModTime())
		}, "hardlink"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
			if out, err := exec.Command("cp", "-a", good, dst).CombinedOutput(); err != nil {
				t.Fatalf("cp -a: %v %s", err, out)
			}
			if err := c.break_(dst); err != nil {
				t.Fatal(err)
			}
			if err := check(dst, contractFull); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("broken copy (%s): verify = %v, want an error about %q", c.name, err, c.want)
			}
		})
	}
}
