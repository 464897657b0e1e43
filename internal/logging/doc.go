// Package logging builds the log/slog loggers the CLI and the worker use: text for
// people at a terminal, JSON for a worker whose logs are collected, the level from a
// flag or LOG_LEVEL. Loggers carry attributes (domain, job, profile), never credentials.
package logging
