package main

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// The live checks (studio.Preflight: VPC, subnets and security groups in it, KMS key,
// execution roles and their trust, quotas, Identity Center users, lifecycle
// configurations and images the settings name) run before `migrate` and `apply`
// enqueue, and again in every job's preflight step, in the target account.
func init() {
	livePreflight = func(ctx context.Context, cfg aws.Config, p *studio.Plan) ([]studio.Problem, error) {
		return studio.Preflight(ctx, studio.NewClients(cfg), p, studio.PreflightOptions{Logger: slog.Default()})
	}
}
