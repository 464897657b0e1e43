package studio

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"golang.org/x/sync/errgroup"
)

// CleanupOptions say how far Cleanup goes.
type CleanupOptions struct {
	// DeleteHomeEFS deletes the domain's home EFS with it. Off, the EFS is retained
	// (RetentionPolicy.HomeEfsFileSystem=Retain): it holds the only copy of the homes
	// until the migration has been verified, and a deleted EFS cannot be re-attached.
	DeleteHomeEFS bool
	// Backups tells which spaces' EBS homes have a completed backup; nil = none
	// known. Cleanup refuses to delete a JupyterLab or Code Editor space (its EBS
	// volume goes with it) without one, unless Force.
	Backups BackupChecker
	// Force deletes EBS-backed spaces even without a completed backup.
	Force bool
}

// Cleanup deletes a domain: its apps, then its spaces, then its user profiles, then
// the domain itself, waiting for each group to be gone before the next (SageMaker
// refuses to delete a parent that still has children). It is resumable: what is gone
// already is skipped, what is being deleted is waited for, and a domain that no
// longer exists is done.
//
// It deletes whatever domain it is given, tagged by a job or not: the caller decides
// (the CLI only on an explicit request, see DESIGN.md's safety rules).
func (a *Applier) Cleanup(ctx context.Context, domainID string, o CleanupOptions) error {
	log := a.log().With("domain", domainID)
	d, err := findDomainByID(ctx, a.SageMaker, domainID, nil)
	if errors.Is(err, ErrNotFound) {
		log.Info("domain already deleted")
		return nil
	}
	if err != nil {
		return fmt.Errorf("cleaning up domain %s: %w", domainID, err)
	}
	if d.Status != smtypes.DomainStatusDeleting {
		// Before anything is deleted: a refused cleanup changes nothing.
		if err := a.checkEBSBackups(ctx, domainID, o); err != nil {
			return fmt.Errorf("cleaning up domain %s: %w", domainID, err)
		}
		if err := a.deleteApps(ctx, domainID); err != nil {
			return fmt.Errorf("cleaning up domain %s: %w", domainID, err)
		}
		if err := a.deleteSpaces(ctx, domainID); err != nil {
			return fmt.Errorf("cleaning up domain %s: %w", domainID, err)
		}
		if err := a.deleteUserProfiles(ctx, domainID); err != nil {
			return fmt.Errorf("cleaning up domain %s: %w", domainID, err)
		}
		if err := a.deleteDomain(ctx, domainID, o); err != nil {
			return fmt.Errorf("cleaning up domain %s: %w", domainID, err)
		}
	}
	if err := a.waitDomainDeleted(ctx, a.SageMaker, domainID); err != nil {
		return fmt.Errorf("cleaning up domain %s: %w", domainID, err)
	}
	log.Info("deleted domain", "home_efs_retained", !o.DeleteHomeEFS, "home_efs", aws.ToString(d.HomeEfsFileSystemId))
	return nil
}

func (a *Applier) deleteDomain(ctx context.Context, domainID string, o CleanupOptions) error {
	// A domain in Pending or Updating cannot be deleted yet.
	if _, err := a.waitFor(ctx, domainLabel(domainID), statusDomain(a.SageMaker, domainID),
		[]string{statusPending, statusUpdating}, []string{statusInService, statusFailed, statusUpdateFailed, statusDeleteFailed, statusDeleting}); err != nil {
		return err
	}
	policy := smtypes.RetentionTypeRetain
	if o.DeleteHomeEFS {
		policy = smtypes.RetentionTypeDelete
	}
	_, err := a.SageMaker.DeleteDomain(ctx, &sagemaker.DeleteDomainInput{
		DomainId:        aws.String(domainID),
		RetentionPolicy: &smtypes.RetentionPolicy{HomeEfsFileSystem: policy},
	})
	if err != nil && !isNotFound(err) && !(errorCode(err) == "ResourceInUse" && isDeleting(ctx, statusDomain(a.SageMaker, domainID))) {
		return fmt.Errorf("deleting domain %s: %w", domainID, err)
	}
	return nil
}

// isDeleting reports whether a ResourceInUse answer to a delete only means someone
// (an earlier run) deleted it already.
func isDeleting(ctx context.Context, status statusFunc) bool {
	st, _, err := status(ctx)
	return errors.Is(err, ErrNotFound) || (err == nil && st == statusDeleting)
}

type appRef struct {
	owner         AppOwner
	appType, name string
	status        smtypes.AppStatus
}

func (a *Applier) deleteApps(ctx context.Context, domainID string) error {
	var apps []appRef
	pg := sagemaker.NewListAppsPaginator(a.SageMaker, &sagemaker.ListAppsInput{DomainIdEquals: aws.String(domainID), MaxResults: aws.Int32(100)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing apps: %w", err)
		}
		for _, ap := range page.Apps {
			apps = append(apps, appRef{
				owner:   AppOwner{UserProfileName: aws.ToString(ap.UserProfileName), SpaceName: aws.ToString(ap.SpaceName)},
				appType: string(ap.AppType), name: aws.ToString(ap.AppName), status: ap.Status,
			})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.concurrency())
	n := 0
	for _, ap := range apps {
		// Deleted and Failed apps hold nothing: they do not block deleting their
		// owner, and DeleteApp of a Deleted app is ResourceNotFound.
		if ap.status == smtypes.AppStatusDeleted || ap.status == smtypes.AppStatusFailed {
			continue
		}
		n++
		g.Go(func() error {
			w := a.Waiter
			if ap.status == smtypes.AppStatusPending {
				if err := w.waitAppInService(gctx, a.SageMaker, domainID, ap.owner, ap.appType, ap.name); err != nil {
					var fe *FailedError
					if errors.As(err, &fe) {
						return nil
					}
					return err
				}
			}
			if ap.status != smtypes.AppStatusDeleting {
				in := &sagemaker.DeleteAppInput{DomainId: aws.String(domainID), AppType: smtypes.AppType(ap.appType), AppName: aws.String(ap.name)}
				if ap.owner.UserProfileName != "" {
					in.UserProfileName = aws.String(ap.owner.UserProfileName)
				} else {
					in.SpaceName = aws.String(ap.owner.SpaceName)
				}
				if _, err := a.SageMaker.DeleteApp(gctx, in); err != nil && !isNotFound(err) &&
					!(errorCode(err) == "ResourceInUse" && isDeleting(gctx, statusApp(a.SageMaker, domainID, ap.owner, ap.appType, ap.name))) {
					return fmt.Errorf("deleting %s: %w", appLabel(domainID, ap.owner, ap.appType, ap.name), err)
				}
			}
			return w.waitAppDeleted(gctx, a.SageMaker, domainID, ap.owner, ap.appType, ap.name)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	a.log().Info("deleted apps", "domain", domainID, "apps", n)
	return nil
}

func (a *Applier) deleteSpaces(ctx context.Context, domainID string) error {
	var names []string
	pg := sagemaker.NewListSpacesPaginator(a.SageMaker, &sagemaker.ListSpacesInput{DomainIdEquals: aws.String(domainID), MaxResults: aws.Int32(100)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing spaces: %w", err)
		}
		for _, s := range page.Spaces {
			names = append(names, aws.ToString(s.SpaceName))
		}
	}
	err := a.deleteEach(ctx, names, func(ctx context.Context, name string) error {
		status := statusSpace(a.SageMaker, domainID, name)
		if err := a.settleForDelete(ctx, spaceLabel(domainID, name), status); err != nil {
			return err
		}
		_, err := a.SageMaker.DeleteSpace(ctx, &sagemaker.DeleteSpaceInput{DomainId: aws.String(domainID), SpaceName: aws.String(name)})
		if err != nil && !isNotFound(err) && !(errorCode(err) == "ResourceInUse" && isDeleting(ctx, status)) {
			return fmt.Errorf("deleting %s: %w", spaceLabel(domainID, name), err)
		}
		return a.waitSpaceDeleted(ctx, a.SageMaker, domainID, name)
	})
	if err != nil {
		return err
	}
	a.log().Info("deleted spaces", "domain", domainID, "spaces", len(names))
	return nil
}

func (a *Applier) deleteUserProfiles(ctx context.Context, domainID string) error {
	var names []string
	pg := sagemaker.NewListUserProfilesPaginator(a.SageMaker, &sagemaker.ListUserProfilesInput{DomainIdEquals: aws.String(domainID), MaxResults: aws.Int32(100)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing user profiles: %w", err)
		}
		for _, p := range page.UserProfiles {
			names = append(names, aws.ToString(p.UserProfileName))
		}
	}
	err := a.deleteEach(ctx, names, func(ctx context.Context, name string) error {
		status := statusUserProfile(a.SageMaker, domainID, name)
		if err := a.settleForDelete(ctx, profileLabel(domainID, name), status); err != nil {
			return err
		}
		_, err := a.SageMaker.DeleteUserProfile(ctx, &sagemaker.DeleteUserProfileInput{DomainId: aws.String(domainID), UserProfileName: aws.String(name)})
		if err != nil && !isNotFound(err) && !(errorCode(err) == "ResourceInUse" && isDeleting(ctx, status)) {
			return fmt.Errorf("deleting %s: %w", profileLabel(domainID, name), err)
		}
		return a.waitUserProfileDeleted(ctx, a.SageMaker, domainID, name)
	})
	if err != nil {
		return err
	}
	a.log().Info("deleted user profiles", "domain", domainID, "profiles", len(names))
	return nil
}

// settleForDelete waits out Pending and Updating, which refuse a delete; InService
// and the Failed states (a failed delete is retried) can be deleted, Deleting and
// gone are fine too.
func (a *Applier) settleForDelete(ctx context.Context, resource string, status statusFunc) error {
	_, err := a.waitFor(ctx, resource, status, []string{statusPending, statusUpdating},
		[]string{statusInService, statusFailed, statusUpdateFailed, statusDeleteFailed, statusDeleting, statusGone})
	return err
}

func (a *Applier) deleteEach(ctx context.Context, names []string, del func(ctx context.Context, name string) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.concurrency())
	for _, name := range names {
		g.Go(func() error { return del(gctx, name) })
	}
	return g.Wait()
}
