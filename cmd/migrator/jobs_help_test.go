package main

import (
	"strings"
	"testing"
)

// TestJobCommandsHelp: every command this file set adds has an Example, and its
// --output, where it has one, is a format (never a file).
func TestJobCommandsHelp(t *testing.T) {
	root := newRootCommand()
	for _, path := range [][]string{
		{"migrate"}, {"apply"}, {"cleanup"}, {"worker"}, {"status"}, {"watch"},
		{"jobs"}, {"jobs", "list"}, {"jobs", "cancel"}, {"jobs", "retry"}, {"uid-map"}, {"demo"},
	} {
		c, _, err := root.Find(path)
		if err != nil || c == root {
			t.Errorf("%v: not a command (%v)", path, err)
			continue
		}
		if !strings.Contains(c.Example, "migrator ") {
			t.Errorf("%s: --help has no example", c.CommandPath())
		}
		if f := c.Flags().Lookup("output"); f != nil {
			if f.Shorthand != "o" || (f.DefValue != "text" && f.DefValue != "table") {
				t.Errorf("%s: --output default %q, shorthand %q; want a format (text or table) with -o", c.CommandPath(), f.DefValue, f.Shorthand)
			}
		}
		if c.Name() != "demo" && c.Name() != "jobs" && c.Flags().Lookup("redis") == nil && c.InheritedFlags().Lookup("redis") == nil {
			t.Errorf("%s: no --redis", c.CommandPath())
		}
	}
}
