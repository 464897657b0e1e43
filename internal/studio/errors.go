package studio

import (
	"errors"
	"fmt"
)

// ErrNotFound is wrapped by every error about a domain, user profile or space that
// does not exist, so callers can tell "nothing there" from a failed call with
// errors.Is. Messages name the resource and the region, and say what to check.
var ErrNotFound = errors.New("not found")

// notFoundError is an ErrNotFound whose message is complete on its own (no trailing
// ": not found" after a sentence that already says so).
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return ErrNotFound }

// notFoundf returns an error wrapping ErrNotFound with the formatted message.
func notFoundf(format string, args ...any) error {
	return &notFoundError{msg: fmt.Sprintf(format, args...)}
}
