package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// asynqLogger adapts slog to asynq.Logger, so asynq's own messages land in the
// worker's JSON log with component=asynq.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) log(level slog.Level, args ...any) {
	a.l.Log(context.Background(), level, fmt.Sprint(args...))
}

func (a asynqLogger) Debug(args ...any) { a.log(slog.LevelDebug, args...) }
func (a asynqLogger) Info(args ...any)  { a.log(slog.LevelInfo, args...) }
func (a asynqLogger) Warn(args ...any)  { a.log(slog.LevelWarn, args...) }
func (a asynqLogger) Error(args ...any) { a.log(slog.LevelError, args...) }

// Fatal is asynq's "cannot go on" (e.g. Redis unreachable at start): log and exit
// as asynq's default logger does.
func (a asynqLogger) Fatal(args ...any) {
	a.log(slog.LevelError+4, args...)
	os.Exit(1)
}
