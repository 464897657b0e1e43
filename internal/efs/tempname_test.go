package efs

import (
	"strings"
	"testing"
)

func TestTempName(t *testing.T) {
	for _, name := range []string{"a", "dir/file.txt", "d/" + strings.Repeat("x", 255), "new\nline", "bad\xff"} {
		tmp := tempName(name)
		dir, base := "", tmp
		if i := strings.LastIndexByte(tmp, '/'); i >= 0 {
			dir, base = tmp[:i+1], tmp[i+1:]
		}
		if !strings.HasPrefix(name, dir) || len(base) > nameMax || !isTempName(base) {
			t.Errorf("tempName(%q) = %q", name, tmp)
		}
		if tempName(name) == tmp {
			t.Errorf("tempName(%q) is not random", name)
		}
	}
	for _, base := range []string{".studio-migrator.notes.tmp", ".studio-migrator..tmp", "x.0123456789abcdef.tmp",
		".studio-migrator.a.0123456789ABCDEF.tmp", ".studio-migrator.a_0123456789abcdef.tmp"} {
		if isTempName(base) {
			t.Errorf("isTempName(%q) = true", base)
		}
	}
}
