package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteOutput(t *testing.T) {
	dir := t.TempDir()
	data := []byte("document\n")

	var stdout bytes.Buffer
	if err := WriteOutput(&stdout, "-", data); err != nil || stdout.String() != string(data) {
		t.Errorf(`"-": %v, stdout %q`, err, stdout.String())
	}

	// A new file: created 0644, nothing else left in the directory.
	fresh := filepath.Join(dir, "new.json")
	if err := WriteOutput(nil, fresh, data); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("new file: %v %v", fi.Mode(), err)
	}

	// A dangling symlink: the file it names is created, the link stays.
	link := filepath.Join(dir, "dangling")
	if err := os.Symlink("made-through-link.json", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteOutput(nil, link, data); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "made-through-link.json")); err != nil || string(b) != string(data) {
		t.Errorf("through a dangling link: %q %v", b, err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the dangling link was replaced")
	}

	// A directory is refused, with its name.
	if err := WriteOutput(nil, dir, data); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}

	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("directory holds %d entries, want 3 (temporary files left?)", len(entries))
	}
}

func TestCheckFormat(t *testing.T) {
	if err := CheckFormat("json", FormatText, FormatJSON); err != nil {
		t.Error(err)
	}
	err := CheckFormat("out/snap.json", FormatJSON)
	if ExitCode(t.Context(), err) != ExitUsage || !strings.Contains(err.Error(), "use --out-file out/snap.json") {
		t.Errorf("file name as a format: %v", err)
	}
	if err := CheckFormat("yaml", FormatText, FormatJSON); err == nil || strings.Contains(err.Error(), "--out-file") ||
		!strings.Contains(err.Error(), "want text or json") {
		t.Errorf("yaml: %v", err)
	}
}
