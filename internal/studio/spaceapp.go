package studio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
)

// Starting and stopping the apps of spaces whose home is on EBS: only a running app
// mounts such a home, so moving it through S3 (jobs/ebs.go) starts the space's app
// to run the backup or restore lifecycle configuration, then stops it again.

// AppState is what FindApp reads of an app.
type AppState struct {
	Status        string
	FailureReason string
	Created       time.Time
	// LifecycleConfigArn is the configuration the app was started with ("" when
	// the ResourceSpec names none: it runs the default of its settings).
	LifecycleConfigArn string
	InstanceType       string
}

// Live reports whether the app is starting or running.
func (s AppState) Live() bool { return s.Status == statusPending || s.Status == statusInService }

// SmallestInstanceType is the smallest instance type each space app type accepts:
// enough to run a lifecycle configuration that copies a home.
var SmallestInstanceType = map[string]string{
	"JupyterLab": "ml.t3.medium",
	"CodeEditor": "ml.t3.medium",
}

// FindApp describes an app; one that does not exist is an error wrapping ErrNotFound.
func (a *Applier) FindApp(ctx context.Context, domainID string, owner AppOwner, appType, name string) (AppState, error) {
	out, err := findAppByName(ctx, a.SageMaker, domainID, owner, appType, name, nil)
	if err != nil {
		return AppState{}, err
	}
	st := AppState{Status: string(out.Status), FailureReason: aws.ToString(out.FailureReason), Created: aws.ToTime(out.CreationTime)}
	if out.ResourceSpec != nil {
		st.LifecycleConfigArn = aws.ToString(out.ResourceSpec.LifecycleConfigArn)
		st.InstanceType = string(out.ResourceSpec.InstanceType)
	}
	return st, nil
}

// StartApp creates an app on instanceType running the lifecycle configuration
// lccARN (or the default of its settings when ""), and waits until it is InService.
// An app that ends Failed (its lifecycle configuration failed) is a *FailedError
// with the service's FailureReason. An app that exists and is starting or running
// already is waited for, not created again.
func (a *Applier) StartApp(ctx context.Context, domainID string, owner AppOwner, appType, name, instanceType, lccARN string) error {
	if err := owner.valid(); err != nil {
		return fmt.Errorf("starting app %s/%s: %w", appType, name, err)
	}
	res := appLabel(domainID, owner, appType, name)
	in := &sagemaker.CreateAppInput{DomainId: aws.String(domainID), AppType: smtypes.AppType(appType), AppName: aws.String(name)}
	if owner.UserProfileName != "" {
		in.UserProfileName = aws.String(owner.UserProfileName)
	} else {
		in.SpaceName = aws.String(owner.SpaceName)
	}
	if instanceType != "" || lccARN != "" {
		in.ResourceSpec = &smtypes.ResourceSpec{InstanceType: smtypes.AppInstanceType(instanceType)}
		if lccARN != "" {
			in.ResourceSpec.LifecycleConfigArn = aws.String(lccARN)
		}
	}
	if a.JobID != "" {
		in.Tags = a.jobTags(nil)
	}
	err := a.create(ctx, func(ctx context.Context, observe func(*sagemaker.Options)) error {
		_, err := a.SageMaker.CreateApp(ctx, in, observe)
		return err
	})
	if errorCode(err) == "ResourceInUse" {
		// Started meanwhile (an SDK retry of a create that succeeded, or a rerun):
		// whether it is live is asked of Describe, never read from the message.
		if cur, ferr := a.FindApp(ctx, domainID, owner, appType, name); ferr == nil && cur.Live() {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("starting %s: %w", res, err)
	}
	if err := a.waitAppInService(ctx, a.SageMaker, domainID, owner, appType, name); err != nil {
		return fmt.Errorf("starting %s: %w", res, err)
	}
	a.log().Info("started app", "domain", domainID, "owner", owner.String(), "app", name, "app_type", appType, "instance_type", instanceType)
	return nil
}

// StopApp deletes an app and waits until it is gone; one already deleted, failed or
// never created is done.
func (a *Applier) StopApp(ctx context.Context, domainID string, owner AppOwner, appType, name string) error {
	if err := owner.valid(); err != nil {
		return fmt.Errorf("stopping app %s/%s: %w", appType, name, err)
	}
	res := appLabel(domainID, owner, appType, name)
	cur, err := a.FindApp(ctx, domainID, owner, appType, name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stopping %s: %w", res, err)
	}
	if cur.Status == statusPending {
		if err := a.waitAppInService(ctx, a.SageMaker, domainID, owner, appType, name); err != nil {
			var failed *FailedError
			if !errors.As(err, &failed) {
				return fmt.Errorf("stopping %s: %w", res, err)
			}
		}
		if cur, err = a.FindApp(ctx, domainID, owner, appType, name); err != nil {
			return fmt.Errorf("stopping %s: %w", res, err)
		}
	}
	if cur.Status == statusInService {
		in := &sagemaker.DeleteAppInput{DomainId: aws.String(domainID), AppType: smtypes.AppType(appType), AppName: aws.String(name)}
		if owner.UserProfileName != "" {
			in.UserProfileName = aws.String(owner.UserProfileName)
		} else {
			in.SpaceName = aws.String(owner.SpaceName)
		}
		if _, err := a.SageMaker.DeleteApp(ctx, in); err != nil && !isNotFound(err) {
			return fmt.Errorf("stopping %s: deleting it: %w", res, err)
		}
	}
	if err := a.waitAppDeleted(ctx, a.SageMaker, domainID, owner, appType, name); err != nil {
		return fmt.Errorf("stopping %s: %w", res, err)
	}
	a.log().Info("stopped app", "domain", domainID, "owner", owner.String(), "app", name, "app_type", appType)
	return nil
}
