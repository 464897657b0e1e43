package testutil

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// EnvStrict makes missing test dependencies fatal instead of skipped.
const EnvStrict = "MIGRATOR_STRICT_TESTS"

// Strict reports whether missing dependencies must fail tests.
func Strict() bool { return os.Getenv(EnvStrict) == "1" }

// RequireBinary returns the first of paths that is an executable file (a bare name is
// looked up in PATH). When none is, the test fails in strict mode and skips otherwise;
// hint says how to install it (e.g. "apt-get install awscli").
func RequireBinary(t testing.TB, hint string, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if !strings.Contains(p, "/") {
			if found, err := exec.LookPath(p); err == nil {
				return found
			}
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	missing(t, "none of "+strings.Join(paths, ", ")+" is installed ("+hint+")")
	return ""
}

// RequireRoot stops a test that needs root (chown to arbitrary UIDs).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "this test needs root to chown files to other UIDs")
	}
}

func missing(t testing.TB, why string) {
	t.Helper()
	if Strict() {
		t.Fatal(why)
	}
	t.Skip(why + "; run scripts/test.sh to install and require it")
}
