package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// OpenInput opens a file flag's value for reading; "-" is standard input (the
// convention for every file a command reads). name is what to call it in errors.
func OpenInput(g *Globals, flag, path string) (r io.ReadCloser, name string, err error) {
	if path == "" {
		return nil, "", UsageErrorf("--%s is required", flag)
	}
	if path == "-" {
		return io.NopCloser(g.Stdin), "standard input", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, path, fmt.Errorf("--%s: %w", flag, err)
	}
	return f, path, nil
}

// CheckOneStdin is the usage error for two flags (name -> value) that both read
// standard input.
func CheckOneStdin(flags map[string]string) error {
	var dash []string
	for name, v := range flags {
		if v == "-" {
			dash = append(dash, "--"+name)
		}
	}
	if len(dash) > 1 {
		slices.Sort(dash)
		return UsageErrorf("%s all read standard input (-): give all but one a file", strings.Join(dash, ", "))
	}
	return nil
}
