package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until its package lands; replaced wholesale by its owner.
func newEmulatorCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "emulator", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return errors.New("emulator: not built yet")
	}}
}
