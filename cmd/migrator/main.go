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
	cmd, code, err := execute(ctx, newRootCommand())
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrator:", errorMessage(err))
		switch code {
		case exitInterrupted:
			fmt.Fprintln(os.Stderr, "migrator: interrupted; run the same command again to resume")
		case exitUsage:
			fmt.Fprintf(os.Stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	os.Exit(code)
}
