package studio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ErrNotJobDomain is returned by CreateUserProfiles and CreateSpaces for a domain that
// does not carry this job's tag: those steps create only in the domain the job made
// (CreateDomain), never in someone else's domain given by mistake.
var ErrNotJobDomain = errors.New("the domain was not created by this job")

// checkJobDomain refuses a domain without JobTagKey=JobID.
func (a *Applier) checkJobDomain(ctx context.Context, domainID string) error {
	out, err := findDomainByID(ctx, a.SageMaker, domainID, nil)
	if err != nil {
		return err
	}
	ok, err := a.hasJobTag(ctx, aws.ToString(out.DomainArn))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("domain %s (%s) does not carry the tag %s=%s: %w; profiles and spaces are created only in the domain this job's create-domain step made",
			domainID, aws.ToString(out.DomainName), JobTagKey, a.JobID, ErrNotJobDomain)
	}
	return nil
}

// createOrAdopt runs create; when the service answers ResourceInUse (the name is
// taken: typically an SDK retry of a create whose first answer was lost) and find
// says the resource exists, it is adopted. Only the error code and Describe decide,
// never the wording of a message. It reports whether this call created it.
func (a *Applier) createOrAdopt(ctx context.Context, log *slog.Logger, kind string, create, find func(context.Context) error) (bool, error) {
	err := create(ctx)
	if err == nil {
		log.Debug("created " + kind)
		return true, nil
	}
	if errorCode(err) == "ResourceInUse" {
		if ferr := find(ctx); ferr == nil {
			log.Info(kind + " appeared while creating it; adopting it")
			return false, nil
		}
	}
	return false, err
}

// replaceFailed deletes a resource left Failed and waits until it is gone.
func (a *Applier) replaceFailed(ctx context.Context, label string, del, waitGone func(context.Context) error) error {
	if err := del(ctx); err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting %s, left Failed by an earlier run: %w", label, err)
	}
	if err := waitGone(ctx); err != nil {
		return fmt.Errorf("deleting %s, left Failed by an earlier run: %w", label, err)
	}
	return nil
}
