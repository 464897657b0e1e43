package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// EnvLevel is the environment variable read when no level is given explicitly.
const EnvLevel = "LOG_LEVEL"

// ParseLevel turns "debug", "info", "warn" or "error" (any case) into a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// New returns a logger writing to w in format "text" or "json". An empty level
// falls back to $LOG_LEVEL, then to info.
func New(w io.Writer, format, level string) (*slog.Logger, error) {
	if level == "" {
		level = os.Getenv(EnvLevel)
	}
	if level == "" {
		level = "info"
	}
	l, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
}

// Discard is a logger that drops everything, for tests and library defaults.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
