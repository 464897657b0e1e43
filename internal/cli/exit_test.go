package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// TestUnsupportedPlatformExit injects the error a non-Linux build returns for a
// local home (it cannot happen on Linux) and checks what the CLI makes of it: the
// preflight exit code, the message and a line that says where to run the command.
func TestUnsupportedPlatformExit(t *testing.T) {
	root := &cobra.Command{Use: "migrator", SilenceErrors: true, SilenceUsage: true}
	copyHome := &cobra.Command{Use: "copy-home", RunE: func(*cobra.Command, []string) error {
		return fmt.Errorf("local location /mnt/efs/200001: %w", efs.ErrUnsupportedPlatform)
	}}
	root.AddCommand(copyHome)
	root.SetArgs([]string{"copy-home"})
	root.SetOut(new(bytes.Buffer))
	root.SetErr(new(bytes.Buffer))

	cmd, code, err := Execute(context.Background(), root)
	if code != ExitPlanErrors {
		t.Errorf("exit code %d, want %d (ExitPlanErrors)", code, ExitPlanErrors)
	}
	var out bytes.Buffer
	printError(&out, root.Name(), cmd.CommandPath(), code, err, nil)
	got := out.String()
	for _, want := range []string{
		"migrator: local location /mnt/efs/200001: home directories on a local file system can only be read or written on Linux",
		"'migrator copy-home' reads or writes home directories on a local file system, which needs Linux",
		"the worker container",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "--help") {
		t.Errorf("a platform error is not a usage error, yet stderr says:\n%s", got)
	}

	// The other classes keep their own lines.
	out.Reset()
	printError(&out, "migrator", "migrator copy-home", ExitUsage, UsageErrorf("--uid is required"), nil)
	if got := out.String(); got != "migrator: --uid is required\nRun 'migrator copy-home --help' for usage.\n" {
		t.Errorf("usage error printed as %q", got)
	}
	if got := ExitCode(context.Background(), fmt.Errorf("x: %w", efs.ErrEntriesFailed)); got != ExitPartial {
		t.Errorf("ErrEntriesFailed: exit %d, want %d", got, ExitPartial)
	}
}
