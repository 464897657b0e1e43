package studio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/smithy-go"
)

// ErrWaitTimeout is wrapped by a wait that gave up before the resource settled.
var ErrWaitTimeout = errors.New("timed out waiting")

// FailedError is a resource that settled in Failed: its creation (or update) will not
// succeed by waiting or retrying. Callers stop the step and show Reason to a person.
type FailedError struct {
	// Resource names it: "domain d-abc", "user profile d-abc/alice", ...
	Resource string
	// Reason is the service's FailureReason.
	Reason string
	// Status is Failed, Update_Failed or Delete_Failed ("" reads as Failed).
	Status string
}

func (e *FailedError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = "no FailureReason given"
	}
	status := e.Status
	if status == "" {
		status = statusFailed
	}
	return fmt.Sprintf("%s is %s: %s", e.Resource, status, reason)
}

// Resource statuses as the service spells them (domains, profiles, spaces and apps
// share these; "Deleted" is for apps only).
const (
	statusPending   = "Pending"
	statusInService = "InService"
	statusUpdating  = "Updating"
	statusDeleting  = "Deleting"
	statusFailed    = "Failed"
	statusDeleted   = "Deleted"
	// A domain, profile or space whose last update or delete failed; it still
	// exists, and can be deleted again.
	statusUpdateFailed = "Update_Failed"
	statusDeleteFailed = "Delete_Failed"
	// statusGone stands for "Describe says it does not exist" in wait targets.
	statusGone = ""
)

// Defaults for Waiter fields left zero.
const (
	DefaultPollInterval = 10 * time.Second
	DefaultWaitTimeout  = 30 * time.Minute
)

// Waiter holds the polling parameters of every wait. Zero fields take the defaults
// above; tests use milliseconds.
type Waiter struct {
	PollInterval time.Duration
	Timeout      time.Duration
}

func (w Waiter) poll() time.Duration {
	if w.PollInterval > 0 {
		return w.PollInterval
	}
	return DefaultPollInterval
}

func (w Waiter) timeout() time.Duration {
	if w.Timeout > 0 {
		return w.Timeout
	}
	return DefaultWaitTimeout
}

// statusFunc reads a resource's status and FailureReason; a resource that does not
// exist is reported as err wrapping ErrNotFound.
type statusFunc func(ctx context.Context) (status, reason string, err error)

// waitFor polls status until it is one of target. A Failed (Update_Failed, Delete_Failed) status that is not a
// target is a *FailedError; a status that is neither pending nor target is an error
// (someone else is changing the resource); not-found is success when target holds
// statusGone and an error wrapping ErrNotFound otherwise.
func (w Waiter) waitFor(ctx context.Context, resource string, status statusFunc, pending, target []string) (string, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, w.timeout())
	defer cancel()
	t := time.NewTicker(w.poll())
	defer t.Stop()
	last := "unknown"
	for {
		st, reason, err := status(ctx)
		switch {
		case errors.Is(err, ErrNotFound):
			if slices.Contains(target, statusGone) {
				return statusGone, nil
			}
			return "", fmt.Errorf("waiting for %s: %w", resource, err)
		case err != nil && ctx.Err() == nil:
			return "", fmt.Errorf("waiting for %s: %w", resource, err)
		case err == nil:
			last = st
			if slices.Contains(target, st) {
				return st, nil
			}
			if st == statusFailed || st == statusUpdateFailed || st == statusDeleteFailed {
				return st, &FailedError{Resource: resource, Reason: reason, Status: st}
			}
			if !slices.Contains(pending, st) {
				return st, fmt.Errorf("waiting for %s to be %s: unexpected status %s", resource, targetNames(target), st)
			}
		}
		select {
		case <-ctx.Done():
			if parent.Err() == nil {
				// Our own timeout, not the caller's cancellation or deadline.
				return last, fmt.Errorf("waiting for %s to be %s (last status %s) after %s: %w", resource, targetNames(target), last, w.timeout(), ErrWaitTimeout)
			}
			return last, fmt.Errorf("waiting for %s: %w", resource, ctx.Err())
		case <-t.C:
		}
	}
}

func targetNames(target []string) string {
	names := make([]string, len(target))
	for i, s := range target {
		if s == statusGone {
			s = "gone"
		}
		names[i] = s
	}
	return strings.Join(names, " or ")
}

// isNotFound recognizes SageMaker's answers for a resource that does not exist:
// ResourceNotFound, and the ValidationException some Describe calls (apps) use.
func isNotFound(err error) bool {
	var nf *smtypes.ResourceNotFound
	if errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ValidationException" {
		msg := ae.ErrorMessage()
		return strings.Contains(msg, "RecordNotFound") || strings.Contains(msg, "does not exist")
	}
	return false
}

// errorCode is the AWS error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func notFound(resource string, err error) error {
	return fmt.Errorf("%s: %w (%v)", resource, ErrNotFound, err)
}

// ---- domains ----

func domainLabel(id string) string { return "domain " + id }

// findDomainByID describes a domain; a missing one wraps ErrNotFound. The raw
// response body is stored in *raw when raw is not nil.
func findDomainByID(ctx context.Context, sm *sagemaker.Client, id string, raw *[]byte) (*sagemaker.DescribeDomainOutput, error) {
	var opts []func(*sagemaker.Options)
	if raw != nil {
		opts = append(opts, captureBody(raw))
	}
	out, err := sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: aws.String(id)}, opts...)
	if isNotFound(err) {
		return nil, notFound(domainLabel(id), err)
	}
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", domainLabel(id), err)
	}
	return out, nil
}

func statusDomain(sm *sagemaker.Client, id string) statusFunc {
	return func(ctx context.Context) (string, string, error) {
		out, err := findDomainByID(ctx, sm, id, nil)
		if err != nil {
			return "", "", err
		}
		return string(out.Status), aws.ToString(out.FailureReason), nil
	}
}

// waitDomainInService waits out Pending and Updating.
func (w Waiter) waitDomainInService(ctx context.Context, sm *sagemaker.Client, id string) error {
	_, err := w.waitFor(ctx, domainLabel(id), statusDomain(sm, id), []string{statusPending, statusUpdating}, []string{statusInService})
	return err
}

// waitDomainDeleted waits until the domain is gone.
func (w Waiter) waitDomainDeleted(ctx context.Context, sm *sagemaker.Client, id string) error {
	_, err := w.waitFor(ctx, domainLabel(id), statusDomain(sm, id), []string{statusDeleting}, []string{statusGone})
	return err
}

// ---- user profiles ----

func profileLabel(domainID, name string) string {
	return "user profile " + domainID + "/" + name
}

func findUserProfileByName(ctx context.Context, sm *sagemaker.Client, domainID, name string) (*sagemaker.DescribeUserProfileOutput, error) {
	out, err := sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{DomainId: aws.String(domainID), UserProfileName: aws.String(name)})
	if isNotFound(err) {
		return nil, notFound(profileLabel(domainID, name), err)
	}
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", profileLabel(domainID, name), err)
	}
	return out, nil
}

func statusUserProfile(sm *sagemaker.Client, domainID, name string) statusFunc {
	return func(ctx context.Context) (string, string, error) {
		out, err := findUserProfileByName(ctx, sm, domainID, name)
		if err != nil {
			return "", "", err
		}
		return string(out.Status), aws.ToString(out.FailureReason), nil
	}
}

func (w Waiter) waitUserProfileInService(ctx context.Context, sm *sagemaker.Client, domainID, name string) error {
	_, err := w.waitFor(ctx, profileLabel(domainID, name), statusUserProfile(sm, domainID, name), []string{statusPending, statusUpdating}, []string{statusInService})
	return err
}

func (w Waiter) waitUserProfileDeleted(ctx context.Context, sm *sagemaker.Client, domainID, name string) error {
	_, err := w.waitFor(ctx, profileLabel(domainID, name), statusUserProfile(sm, domainID, name), []string{statusDeleting}, []string{statusGone})
	return err
}

// ---- spaces ----

func spaceLabel(domainID, name string) string { return "space " + domainID + "/" + name }

func findSpaceByName(ctx context.Context, sm *sagemaker.Client, domainID, name string) (*sagemaker.DescribeSpaceOutput, error) {
	out, err := sm.DescribeSpace(ctx, &sagemaker.DescribeSpaceInput{DomainId: aws.String(domainID), SpaceName: aws.String(name)})
	if isNotFound(err) {
		return nil, notFound(spaceLabel(domainID, name), err)
	}
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", spaceLabel(domainID, name), err)
	}
	return out, nil
}

func statusSpace(sm *sagemaker.Client, domainID, name string) statusFunc {
	return func(ctx context.Context) (string, string, error) {
		out, err := findSpaceByName(ctx, sm, domainID, name)
		if err != nil {
			return "", "", err
		}
		return string(out.Status), aws.ToString(out.FailureReason), nil
	}
}

func (w Waiter) waitSpaceInService(ctx context.Context, sm *sagemaker.Client, domainID, name string) error {
	_, err := w.waitFor(ctx, spaceLabel(domainID, name), statusSpace(sm, domainID, name), []string{statusPending, statusUpdating}, []string{statusInService})
	return err
}

func (w Waiter) waitSpaceDeleted(ctx context.Context, sm *sagemaker.Client, domainID, name string) error {
	_, err := w.waitFor(ctx, spaceLabel(domainID, name), statusSpace(sm, domainID, name), []string{statusDeleting}, []string{statusGone})
	return err
}

// ---- apps ----

// AppOwner names the user profile or the space an app belongs to (exactly one).
type AppOwner struct {
	UserProfileName string
	SpaceName       string
}

func (o AppOwner) String() string {
	if o.SpaceName != "" {
		return "space " + o.SpaceName
	}
	return "user profile " + o.UserProfileName
}

func (o AppOwner) valid() error {
	if (o.UserProfileName == "") == (o.SpaceName == "") {
		return fmt.Errorf("an app belongs to exactly one user profile or space, got %+v", o)
	}
	return nil
}

func appLabel(domainID string, owner AppOwner, appType, name string) string {
	return fmt.Sprintf("app %s/%s of %s in domain %s", appType, name, owner, domainID)
}

func findAppByName(ctx context.Context, sm *sagemaker.Client, domainID string, owner AppOwner, appType, name string, raw *[]byte) (*sagemaker.DescribeAppOutput, error) {
	var opts []func(*sagemaker.Options)
	if raw != nil {
		opts = append(opts, captureBody(raw))
	}
	in := &sagemaker.DescribeAppInput{DomainId: aws.String(domainID), AppType: smtypes.AppType(appType), AppName: aws.String(name)}
	if owner.UserProfileName != "" {
		in.UserProfileName = aws.String(owner.UserProfileName)
	} else {
		in.SpaceName = aws.String(owner.SpaceName)
	}
	out, err := sm.DescribeApp(ctx, in, opts...)
	if isNotFound(err) {
		return nil, notFound(appLabel(domainID, owner, appType, name), err)
	}
	if err != nil {
		return nil, fmt.Errorf("describing %s: %w", appLabel(domainID, owner, appType, name), err)
	}
	return out, nil
}

func statusApp(sm *sagemaker.Client, domainID string, owner AppOwner, appType, name string) statusFunc {
	return func(ctx context.Context) (string, string, error) {
		out, err := findAppByName(ctx, sm, domainID, owner, appType, name, nil)
		if err != nil {
			return "", "", err
		}
		return string(out.Status), aws.ToString(out.FailureReason), nil
	}
}

func (w Waiter) waitAppInService(ctx context.Context, sm *sagemaker.Client, domainID string, owner AppOwner, appType, name string) error {
	_, err := w.waitFor(ctx, appLabel(domainID, owner, appType, name), statusApp(sm, domainID, owner, appType, name), []string{statusPending}, []string{statusInService})
	return err
}

// waitAppDeleted waits until the app is Deleted (or no longer listed at all). A
// Failed app holds nothing, so it counts as deleted too.
func (w Waiter) waitAppDeleted(ctx context.Context, sm *sagemaker.Client, domainID string, owner AppOwner, appType, name string) error {
	_, err := w.waitFor(ctx, appLabel(domainID, owner, appType, name), statusApp(sm, domainID, owner, appType, name), []string{statusDeleting}, []string{statusDeleted, statusFailed, statusGone})
	return err
}
