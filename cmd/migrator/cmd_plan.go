package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until its package lands; replaced wholesale by its owner.
func newPlanCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "plan", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return errors.New("plan: not built yet")
	}}
}
