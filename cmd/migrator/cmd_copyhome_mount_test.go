//go:build linux

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestCopyHomeToMount copies through --to and two --to-mount mounts of the same
// destination, verifies, and refuses mounts that are not the same volume, or not
// the same home, before creating anything.
func TestCopyHomeToMount(t *testing.T) {
	base := t.TempDir()
	src, newEFS := filepath.Join(base, "old", "200001"), filepath.Join(base, "new")
	testutil.HomeTree(t, src, 60)
	if err := os.MkdirAll(newEFS, 0o755); err != nil {
		t.Fatal(err)
	}
	m2, m3 := testutil.BindMount(t, newEFS), testutil.BindMount(t, newEFS)
	to := filepath.Join(newEFS, "200007")
	out, err := copyHome(t, "--from", src, "--to", to, "--uid", "200007", "--verify", "--checksum", "--progress", "none",
		"--to-mount", filepath.Join(m2, "200007"), "--to-mount", filepath.Join(m3, "200007"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{": 60 files, 10 dirs, 1 symlink,", "0 errors", "60 checksummed", "0 differences"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(to, "d07", "f0017")); err != nil || string(b) != "data 17" {
		t.Errorf("d07/f0017 = %q, %v", b, err)
	}
	if got := ownerOf(t, filepath.Join(to, "d07", "f0017")); got != 200007 {
		t.Errorf("file owned by %d", got)
	}
	assertTempFree(t, newEFS)

	other := filepath.Join(base, "other")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		mount string
		want  string
	}{
		{"another volume", filepath.Join(other, "200008"), "same directory"},
		{"another home", filepath.Join(m2, "200009"), "must be the destination home"},
		{"inside the source", filepath.Join(src, "200008"), "overlap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh := filepath.Join(newEFS, "200008")
			_, err := copyHome(t, "--from", src, "--to", fresh, "--uid", "200008", "--progress", "none", "--to-mount", tc.mount)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one mentioning %q", err, tc.want)
			}
			if code := cli.ExitCode(context.Background(), err); code != cli.ExitUsage {
				t.Errorf("exit code %d, want %d", code, cli.ExitUsage)
			}
			for _, p := range []string{fresh, tc.mount} {
				if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s was created (err %v)", p, err)
				}
			}
			for _, d := range []string{newEFS, other} {
				ents, _ := os.ReadDir(d)
				for _, e := range ents {
					if strings.HasPrefix(e.Name(), ".studio-migrator.") {
						t.Errorf("probe left in %s: %s", d, e.Name())
					}
				}
			}
		})
	}
}
