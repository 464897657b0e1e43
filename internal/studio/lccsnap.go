package studio

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
)

// lccName is the name part of a Studio lifecycle configuration ARN
// (arn:aws:sagemaker:REGION:ACCOUNT:studio-lifecycle-config/NAME).
func lccName(arn string) string {
	_, name, ok := strings.Cut(arn, ":studio-lifecycle-config/")
	if !ok {
		return ""
	}
	return name
}

// snapshotLCCs describes every lifecycle configuration the snapshot's settings name
// and returns them with their content, sorted by name. One that does not exist (any
// more) is left out with a warning: the plan lists the reference, and the preflight
// reports it.
func snapshotLCCs(ctx context.Context, sm *sagemaker.Client, s *Snapshot, log *slog.Logger) ([]LifecycleConfig, error) {
	var out []LifecycleConfig
	for _, arn := range snapshotLCCArns(s) {
		name := lccName(arn)
		if name == "" {
			log.Warn("not a Studio lifecycle configuration ARN; its content is not kept", "arn", arn)
			continue
		}
		d, err := sm.DescribeStudioLifecycleConfig(ctx, &sagemaker.DescribeStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String(name)})
		if isNotFound(err) {
			log.Warn("lifecycle configuration named in the settings does not exist; its content cannot be kept", "arn", arn)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("describing lifecycle configuration %s: %w", name, err)
		}
		if got := aws.ToString(d.StudioLifecycleConfigArn); got != arn {
			// Same name, other account or region: not the configuration the settings name.
			log.Warn("lifecycle configuration is in another account or region; its content is not kept", "arn", arn, "found", got)
			continue
		}
		out = append(out, LifecycleConfig{
			Name: name, ARN: arn, AppType: string(d.StudioLifecycleConfigAppType),
			Content: aws.ToString(d.StudioLifecycleConfigContent),
		})
	}
	return out, nil
}

// resolveLifecycleConfigs makes sure every lifecycle configuration of the plan exists
// in the target under its name, creating a missing one from the snapshot's content,
// and returns the map from each old ARN to the target's ARN (only those that differ).
// An existing configuration with other content is ErrLCCContentDiffers: it belongs to
// someone else, so it is neither replaced nor used.
func (a *Applier) resolveLifecycleConfigs(ctx context.Context, p *Plan) (map[string]string, error) {
	rewrite := map[string]string{}
	for _, l := range p.LifecycleConfigs {
		arn, err := a.ensureLCCContent(ctx, l)
		if err != nil {
			return nil, fmt.Errorf("recreating lifecycle configuration %s: %w", l.Name, err)
		}
		if arn != l.ARN {
			rewrite[l.ARN] = arn
		}
	}
	return rewrite, nil
}

func (a *Applier) ensureLCCContent(ctx context.Context, l LifecycleConfig) (string, error) {
	cur, err := a.SageMaker.DescribeStudioLifecycleConfig(ctx, &sagemaker.DescribeStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String(l.Name)})
	switch {
	case isNotFound(err):
	case err != nil:
		return "", fmt.Errorf("describing it: %w", err)
	default:
		if aws.ToString(cur.StudioLifecycleConfigContent) != l.Content || string(cur.StudioLifecycleConfigAppType) != l.AppType {
			return "", fmt.Errorf("%s (app type %s): %w", aws.ToString(cur.StudioLifecycleConfigArn), cur.StudioLifecycleConfigAppType, ErrLCCContentDiffers)
		}
		return aws.ToString(cur.StudioLifecycleConfigArn), nil
	}
	in := &sagemaker.CreateStudioLifecycleConfigInput{
		StudioLifecycleConfigName:    aws.String(l.Name),
		StudioLifecycleConfigAppType: smtypes.StudioLifecycleConfigAppType(l.AppType),
		StudioLifecycleConfigContent: aws.String(l.Content),
		Tags:                         a.jobTags(nil),
	}
	var arn string
	err = a.create(ctx, func(ctx context.Context, observe func(*sagemaker.Options)) error {
		out, err := a.SageMaker.CreateStudioLifecycleConfig(ctx, in, observe)
		if err != nil {
			return err
		}
		arn = aws.ToString(out.StudioLifecycleConfigArn)
		return nil
	})
	if errorCode(err) == "ResourceInUse" {
		// Created meanwhile (or by a retried attempt whose answer was lost): check
		// it is the same script, by describing it again.
		return a.ensureLCCContent(ctx, l)
	}
	if err != nil {
		return "", err
	}
	a.log().Info("recreated lifecycle configuration from the snapshot", "name", l.Name, "arn", arn)
	return arn, nil
}

// withLCCArns returns a copy of the plan whose settings name the target's lifecycle
// configurations (rewrite: old ARN -> new ARN).
func withLCCArns(p *Plan, rewrite map[string]string) (*Plan, error) {
	if len(rewrite) == 0 {
		return p, nil
	}
	c := *p
	var err error
	rw := func(raw json.RawMessage) json.RawMessage {
		if err != nil {
			return raw
		}
		var out json.RawMessage
		out, err = replaceStringValues(raw, rewrite)
		return out
	}
	c.Domain.DefaultUserSettings = rw(c.Domain.DefaultUserSettings)
	c.Domain.DefaultSpaceSettings = rw(c.Domain.DefaultSpaceSettings)
	c.Domain.DomainSettings = rw(c.Domain.DomainSettings)
	c.UserProfiles = append([]ProfileSpec(nil), p.UserProfiles...)
	for i := range c.UserProfiles {
		c.UserProfiles[i].UserSettings = rw(c.UserProfiles[i].UserSettings)
	}
	c.Spaces = append([]SpaceSpec(nil), p.Spaces...)
	for i := range c.Spaces {
		c.Spaces[i].SpaceSettings = rw(c.Spaces[i].SpaceSettings)
	}
	if err != nil {
		return nil, fmt.Errorf("pointing the settings at the recreated lifecycle configurations: %w", err)
	}
	return &c, nil
}

// prepare is what every create step does to the plan first: with
// RecreateLifecycleConfigs, make the lifecycle configurations exist in the target
// and point the settings at them.
func (a *Applier) prepare(ctx context.Context, p *Plan) (*Plan, error) {
	if !a.RecreateLifecycleConfigs || len(p.LifecycleConfigs) == 0 {
		return p, nil
	}
	rewrite, err := a.resolveLifecycleConfigs(ctx, p)
	if err != nil {
		return nil, err
	}
	return withLCCArns(p, rewrite)
}
