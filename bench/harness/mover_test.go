//go:build linux

package harness

import (
	"slices"
	"testing"
)

// TestMoverCommand: migrator is run as `migrator copy-home` and timed by `migrator
// version`; migrator-copy-home is copy-home itself and has --version.
func TestMoverCommand(t *testing.T) {
	for _, tc := range []struct {
		mover         string
		copy, version []string
	}{
		{"/b/migrator", []string{"/b/migrator", "copy-home"}, []string{"/b/migrator", "version"}},
		{"/b/migrator-copy-home", []string{"/b/migrator-copy-home"}, []string{"/b/migrator-copy-home", "--version"}},
		{"/b/migrator-copy-home.static", []string{"/b/migrator-copy-home.static"}, []string{"/b/migrator-copy-home.static", "--version"}},
	} {
		cfg := Config{Mover: tc.mover, NewUID: 200007}
		if got := cfg.moverCommand(); !slices.Equal(got, tc.copy) {
			t.Errorf("%s: moverCommand = %q, want %q", tc.mover, got, tc.copy)
		}
		if got := cfg.moverVersionCommand(); !slices.Equal(got, tc.version) {
			t.Errorf("%s: moverVersionCommand = %q, want %q", tc.mover, got, tc.version)
		}
		if got := moverArgv(cfg, "/s", "/d"); !slices.Equal(got[:len(tc.copy)], tc.copy) || got[len(tc.copy)] != "--from" {
			t.Errorf("%s: moverArgv = %q", tc.mover, got)
		}
	}
}
