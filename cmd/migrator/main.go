package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCommand().ExecuteContext(ctx)
	code := exitCode(ctx, err)
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrator:", err)
		if code == exitInterrupted {
			fmt.Fprintln(os.Stderr, "migrator: interrupted; run the same command again to resume")
		}
	}
	os.Exit(code)
}
