package main

import (
	"debug/macho"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestBuildsForMacOS builds this command for macOS on Apple silicon, where
// administrators run the control-plane commands, and checks that the result is a
// Mach-O arm64 executable: the Linux-only mover must stay behind its build tags
// (efs.ErrUnsupportedPlatform on other platforms). With a warm build cache (after
// scripts/test.sh's cross-build step) it only links: about a second.
func TestBuildsForMacOS(t *testing.T) {
	goBin := testutil.RequireBinary(t, "the go command (it runs these tests)", "go")
	out := filepath.Join(t.TempDir(), "migrator")
	cmd := exec.Command(goBin, "build", "-o", out, ".")
	cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=darwin GOARCH=arm64 go build: %v\n%s", err, b)
	}
	f, err := macho.Open(out)
	if err != nil {
		t.Fatalf("the darwin build is not a Mach-O file: %v", err)
	}
	defer f.Close()
	if f.Cpu != macho.CpuArm64 || f.Type != macho.TypeExec {
		t.Errorf("Mach-O cpu %v type %v, want %v %v", f.Cpu, f.Type, macho.CpuArm64, macho.TypeExec)
	}
}
