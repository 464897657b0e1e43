package studio

import "errors"

// ErrNotFound is wrapped by every error about a domain, user profile or space that
// does not exist, so callers can tell "nothing there" from a failed call with
// errors.Is. Messages name the resource and the region, and say what to check.
var ErrNotFound = errors.New("not found")
