package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNewJSONFiltersByLevel(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "json", "warn")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "domain", "d-123")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1: %q", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["msg"] != "shown" || rec["domain"] != "d-123" {
		t.Errorf("record = %v", rec)
	}
}

func TestLevelFromEnvironment(t *testing.T) {
	t.Setenv(EnvLevel, "debug")
	var buf bytes.Buffer
	log, err := New(&buf, "text", "")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("visible")
	if !strings.Contains(buf.String(), "visible") {
		t.Errorf("debug line missing with LOG_LEVEL=debug: %q", buf.String())
	}
}

func TestBadInput(t *testing.T) {
	if _, err := New(nil, "xml", "info"); err == nil {
		t.Error("format xml accepted")
	}
	if _, err := New(nil, "text", "loud"); err == nil {
		t.Error("level loud accepted")
	}
}
