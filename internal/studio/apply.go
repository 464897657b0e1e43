package studio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/identitystore/document"
	idstypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
	"golang.org/x/sync/errgroup"
)

// ErrPlanHasErrors is returned, before any AWS call, for a plan whose Problems hold
// errors.
var ErrPlanHasErrors = errors.New("the plan has errors")

// Defaults for Applier fields left zero.
const (
	DefaultConcurrency = 4
	// DefaultCreateInterval spaces out create calls; SageMaker's control-plane
	// create APIs are rate limited per account at a few calls per second.
	DefaultCreateInterval = 250 * time.Millisecond
)

// Applier builds a Plan in AWS, one idempotent step at a time: CreateDomain,
// CreateUserProfiles, CreateSpaces, AssignUsers (Apply runs them all). Each step reads
// the actual state first and creates only what is missing, so a step can be re-run
// after a crash or a failure. It also installs lifecycle configurations, restarts
// apps and cleans domains up (lcc.go, cleanup.go).
type Applier struct {
	Clients
	// Waiter sets PollInterval and Timeout of every wait.
	Waiter
	// JobID is the value of the JobTagKey tag on everything Apply creates; a rerun
	// with the same JobID finds and adopts what an earlier run created. Required.
	JobID string
	// Concurrency bounds the profiles, spaces (or cleanup deletes) in flight.
	Concurrency int
	// CreateInterval is the base spacing between create calls; throttling widens it.
	CreateInterval time.Duration
	Log            *slog.Logger
	// RecreateLifecycleConfigs makes every create step first recreate, from the
	// content the snapshot stored, each lifecycle configuration of the plan that the
	// target lacks (same name), and point the settings at the target's ARNs, which
	// differ when the account or region does (lccsnap.go).
	RecreateLifecycleConfigs bool
	// ReplaceFailed deletes a user profile or space that an earlier run left Failed
	// and creates it again; without it such a resource stops the step with its
	// FailureReason.
	ReplaceFailed bool

	paceOnce sync.Once
	pace     *pacer
}

// DomainResult identifies the new domain.
type DomainResult struct {
	ID                  string `json:"domainId"`
	ARN                 string `json:"domainArn"`
	Name                string `json:"domainName"`
	AuthMode            string `json:"authMode"`
	HomeEfsFileSystemID string `json:"homeEfsFileSystemId"`
	// SSOApplicationArn is the domain's Identity Center application (SSO domains).
	SSOApplicationArn string `json:"singleSignOnApplicationArn,omitempty"`
}

// UID map kinds.
const (
	KindUserProfile = "user-profile"
	KindSpace       = "space"
)

// UIDMapping is where one home directory moves: /<OldUID> on the old EFS to
// /<NewUID> on the new one. NewUID is always read from Describe, never computed.
type UIDMapping struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	OldUID string `json:"oldUid"`
	NewUID string `json:"newUid"`
}

// Result is what Apply built.
type Result struct {
	Domain DomainResult `json:"domain"`
	// UIDMap has one entry per profile and space of the plan, profiles first, each
	// group sorted by name. OldUID is "" for one the snapshot had no UID for.
	UIDMap []UIDMapping `json:"uidMap"`
}

func (a *Applier) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (a *Applier) concurrency() int {
	if a.Concurrency > 0 {
		return a.Concurrency
	}
	return DefaultConcurrency
}

func (a *Applier) pacer() *pacer {
	a.paceOnce.Do(func() {
		iv := a.CreateInterval
		if iv <= 0 {
			iv = DefaultCreateInterval
		}
		a.pace = newPacer(iv)
	})
	return a.pace
}

// check refuses what no step may act on.
func (a *Applier) check(p *Plan) error {
	if errs := p.Errors(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Resource + ": " + e.Message
		}
		return fmt.Errorf("%w (%d): %s", ErrPlanHasErrors, len(errs), strings.Join(msgs, "; "))
	}
	if a.JobID == "" {
		return errors.New("applier has no JobID: resources could not be told apart from same-named ones on a rerun")
	}
	return nil
}

// jobTags are the plan's tags plus JobTagKey=JobID (replacing a JobTagKey the old
// resource carried from an earlier migration).
func (a *Applier) jobTags(tags []Tag) []smtypes.Tag {
	out := make([]smtypes.Tag, 0, len(tags)+1)
	for _, t := range tags {
		if t.Key == JobTagKey {
			continue
		}
		out = append(out, smtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	return append(out, smtypes.Tag{Key: aws.String(JobTagKey), Value: aws.String(a.JobID)})
}

// create paces one create call and feeds its attempts back to the pacer.
func (a *Applier) create(ctx context.Context, call func(ctx context.Context, observe func(*sagemaker.Options)) error) error {
	p := a.pacer()
	if err := p.wait(ctx); err != nil {
		return err
	}
	return call(ctx, p.observe())
}

// Apply runs every step: the domain, its profiles, its spaces, the Identity Center
// assignments. A plan with errors is refused before any AWS call.
func (a *Applier) Apply(ctx context.Context, p *Plan) (*Result, error) {
	if err := a.check(p); err != nil {
		return nil, err
	}
	start := time.Now()
	d, err := a.CreateDomain(ctx, p)
	if err != nil {
		return nil, err
	}
	profiles, err := a.CreateUserProfiles(ctx, p, d.ID)
	if err != nil {
		return nil, err
	}
	spaces, err := a.CreateSpaces(ctx, p, d.ID)
	if err != nil {
		return nil, err
	}
	if err := a.AssignUsers(ctx, p, d.ID); err != nil {
		return nil, err
	}
	res := &Result{Domain: d, UIDMap: uidMap(p, profiles, spaces)}
	a.log().Info("applied plan", "domain", d.ID, "profiles", len(profiles), "spaces", len(spaces), "elapsed", time.Since(start).Round(time.Millisecond))
	return res, nil
}

func uidMap(p *Plan, profiles, spaces map[string]string) []UIDMapping {
	out := make([]UIDMapping, 0, len(p.UserProfiles)+len(p.Spaces))
	for _, pr := range sortedByName(p.UserProfiles, func(s ProfileSpec) string { return s.Name }) {
		out = append(out, UIDMapping{Kind: KindUserProfile, Name: pr.Name, OldUID: pr.OldUID, NewUID: profiles[pr.Name]})
	}
	for _, sp := range sortedByName(p.Spaces, func(s SpaceSpec) string { return s.Name }) {
		out = append(out, UIDMapping{Kind: KindSpace, Name: sp.Name, OldUID: sp.OldUID, NewUID: spaces[sp.Name]})
	}
	return out
}

func sortedByName[T any](in []T, name func(T) string) []T {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(name(a), name(b)) })
	return out
}

// ---- domain ----

// CreateDomain finds the domain this job created (by name and the job tag) or creates
// it, and waits for it to be InService. Domain names are not unique in AWS, so a
// same-named domain without the job's tag is left alone and a new one is created.
func (a *Applier) CreateDomain(ctx context.Context, p *Plan) (DomainResult, error) {
	if err := a.check(p); err != nil {
		return DomainResult{}, err
	}
	p, err := a.prepare(ctx, p)
	if err != nil {
		return DomainResult{}, err
	}
	spec := p.Domain
	log := a.log().With("domain_name", spec.Name, "job", a.JobID)
	id, err := a.findDomainByNameAndJob(ctx, spec.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		id, err = a.createDomain(ctx, spec)
		if err != nil {
			return DomainResult{}, fmt.Errorf("creating domain %s: %w", spec.Name, err)
		}
		log.Info("created domain", "domain", id)
	case err != nil:
		return DomainResult{}, err
	default:
		log.Info("found the domain an earlier run created", "domain", id)
	}
	if err := a.waitDomainInService(ctx, a.SageMaker, id); err != nil {
		return DomainResult{}, fmt.Errorf("creating domain %s: %w", spec.Name, err)
	}
	out, err := findDomainByID(ctx, a.SageMaker, id, nil)
	if err != nil {
		return DomainResult{}, err
	}
	return DomainResult{
		ID:                  id,
		ARN:                 aws.ToString(out.DomainArn),
		Name:                aws.ToString(out.DomainName),
		AuthMode:            string(out.AuthMode),
		HomeEfsFileSystemID: aws.ToString(out.HomeEfsFileSystemId),
		SSOApplicationArn:   aws.ToString(out.SingleSignOnApplicationArn),
	}, nil
}

// findDomainByNameAndJob returns the ID of the domain named name that carries
// JobTagKey=JobID, or an error wrapping ErrNotFound.
func (a *Applier) findDomainByNameAndJob(ctx context.Context, name string) (string, error) {
	var found, others []string
	pg := sagemaker.NewListDomainsPaginator(a.SageMaker, &sagemaker.ListDomainsInput{MaxResults: aws.Int32(100)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("listing domains to find %s: %w", name, err)
		}
		for _, d := range page.Domains {
			if aws.ToString(d.DomainName) != name {
				continue
			}
			ok, err := a.hasJobTag(ctx, aws.ToString(d.DomainArn))
			if errors.Is(err, ErrNotFound) {
				continue // deleted since it was listed
			}
			if err != nil {
				return "", err
			}
			if ok {
				found = append(found, aws.ToString(d.DomainId))
			} else {
				others = append(others, aws.ToString(d.DomainId))
			}
		}
	}
	if len(others) > 0 {
		a.log().Warn("domains with the new domain's name exist that this job did not create; leaving them alone", "domain_name", name, "domains", others)
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("domain %s tagged %s=%s: %w", name, JobTagKey, a.JobID, ErrNotFound)
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("%d domains named %s carry %s=%s (%s): delete the extra ones", len(found), name, JobTagKey, a.JobID, strings.Join(found, ", "))
	}
}

func (a *Applier) hasJobTag(ctx context.Context, arn string) (bool, error) {
	pg := sagemaker.NewListTagsPaginator(a.SageMaker, &sagemaker.ListTagsInput{ResourceArn: aws.String(arn)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if isNotFound(err) {
			return false, notFound(arn, err)
		}
		if err != nil {
			return false, fmt.Errorf("listing the tags of %s: %w", arn, err)
		}
		for _, t := range page.Tags {
			if aws.ToString(t.Key) == JobTagKey {
				return aws.ToString(t.Value) == a.JobID, nil
			}
		}
	}
	return false, nil
}

func (a *Applier) createDomain(ctx context.Context, spec DomainSpec) (string, error) {
	in := &sagemaker.CreateDomainInput{
		DomainName: aws.String(spec.Name),
		AuthMode:   smtypes.AuthMode(spec.AuthMode),
		SubnetIds:  spec.SubnetIDs,
		Tags:       a.jobTags(spec.Tags),
		// Replaced by the wire JSON below; the SDK insists the member is set.
		DefaultUserSettings: &smtypes.UserSettings{},
	}
	if spec.VpcID != "" {
		in.VpcId = aws.String(spec.VpcID)
	}
	if spec.KmsKeyID != "" {
		in.KmsKeyId = aws.String(spec.KmsKeyID)
	}
	in.AppNetworkAccessType = smtypes.AppNetworkAccessType(spec.AppNetworkAccessType)
	in.AppSecurityGroupManagement = smtypes.AppSecurityGroupManagement(spec.AppSecurityGroupManagement)
	in.TagPropagation = smtypes.TagPropagation(spec.TagPropagation)
	in.HomeEfsFileSystemCreation = smtypes.HomeEfsFileSystemCreation(spec.HomeEfsFileSystemCreation)
	members := withMembers(map[string]json.RawMessage{
		"DefaultUserSettings":  spec.DefaultUserSettings,
		"DefaultSpaceSettings": spec.DefaultSpaceSettings,
		"DomainSettings":       spec.DomainSettings,
	})
	var id string
	err := a.create(ctx, func(ctx context.Context, observe func(*sagemaker.Options)) error {
		out, err := a.SageMaker.CreateDomain(ctx, in, members, observe, retryOnlyThrottles)
		if err != nil {
			return err
		}
		id = aws.ToString(out.DomainId)
		return nil
	})
	return id, err
}

// ---- user profiles ----

// CreateUserProfiles creates every profile of the plan that the domain does not have
// yet, waits for all to be InService and returns each profile's new UID by name.
// Profile names are unique in a domain, and the domain is this job's, so a profile
// that exists already is adopted. The first failure stops the step: no further
// creates start.
func (a *Applier) CreateUserProfiles(ctx context.Context, p *Plan, domainID string) (map[string]string, error) {
	if err := a.check(p); err != nil {
		return nil, err
	}
	if err := a.checkJobDomain(ctx, domainID); err != nil {
		return nil, fmt.Errorf("creating user profiles: %w", err)
	}
	p, err := a.prepare(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := a.waitDomainInService(ctx, a.SageMaker, domainID); err != nil {
		return nil, fmt.Errorf("creating user profiles: %w", err)
	}
	uids, created, err := ensureAll(ctx, a.concurrency(), p.UserProfiles, func(ctx context.Context, spec ProfileSpec) (string, bool, error) {
		uid, made, err := a.ensureUserProfile(ctx, domainID, spec)
		if err != nil {
			return "", false, fmt.Errorf("creating user profile %s in domain %s: %w", spec.Name, domainID, err)
		}
		return uid, made, nil
	}, func(spec ProfileSpec) string { return spec.Name })
	if err != nil {
		return nil, err
	}
	a.log().Info("user profiles InService", "domain", domainID, "created", created, "existing", len(uids)-created)
	return uids, nil
}

// ensureAll runs ensure for every spec, at most limit at once, and returns each one's
// UID by name and how many ensure created (the rest existed). The first failure
// cancels the others and stops new ones from starting: after a Failed resource the
// step must not go on creating.
func ensureAll[T any](ctx context.Context, limit int, specs []T, ensure func(context.Context, T) (uid string, created bool, err error), name func(T) string) (map[string]string, int, error) {
	uids := make(map[string]string, len(specs))
	var mu sync.Mutex
	created := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, spec := range specs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			uid, made, err := ensure(gctx, spec)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			uids[name(spec)] = uid
			if made {
				created++
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	return uids, created, nil
}

func (a *Applier) ensureUserProfile(ctx context.Context, domainID string, spec ProfileSpec) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	log := a.log().With("domain", domainID, "profile", spec.Name)
	created := false
	cur, err := findUserProfileByName(ctx, a.SageMaker, domainID, spec.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		if created, err = a.createOrAdopt(ctx, log, "user profile", func(ctx context.Context) error {
			return a.createUserProfile(ctx, domainID, spec)
		}, func(ctx context.Context) error {
			_, err := findUserProfileByName(ctx, a.SageMaker, domainID, spec.Name)
			return err
		}); err != nil {
			return "", false, err
		}
	case err != nil:
		return "", false, err
	case cur.Status == smtypes.UserProfileStatusDeleting:
		return "", false, fmt.Errorf("%s is being deleted", profileLabel(domainID, spec.Name))
	case cur.Status == smtypes.UserProfileStatusFailed && a.ReplaceFailed:
		log.Warn("user profile was left Failed by an earlier run; deleting and creating it again", "reason", aws.ToString(cur.FailureReason))
		if err := a.replaceFailed(ctx, profileLabel(domainID, spec.Name), func(ctx context.Context) error {
			_, err := a.SageMaker.DeleteUserProfile(ctx, &sagemaker.DeleteUserProfileInput{DomainId: aws.String(domainID), UserProfileName: aws.String(spec.Name)})
			return err
		}, func(ctx context.Context) error {
			return a.waitUserProfileDeleted(ctx, a.SageMaker, domainID, spec.Name)
		}); err != nil {
			return "", false, err
		}
		if created, err = a.createOrAdopt(ctx, log, "user profile", func(ctx context.Context) error {
			return a.createUserProfile(ctx, domainID, spec)
		}, func(ctx context.Context) error {
			_, err := findUserProfileByName(ctx, a.SageMaker, domainID, spec.Name)
			return err
		}); err != nil {
			return "", false, err
		}
	default:
		log.Debug("user profile exists; adopting it", "status", cur.Status)
	}
	if err := a.waitUserProfileInService(ctx, a.SageMaker, domainID, spec.Name); err != nil {
		return "", false, err
	}
	out, err := findUserProfileByName(ctx, a.SageMaker, domainID, spec.Name)
	if err != nil {
		return "", false, err
	}
	uid := aws.ToString(out.HomeEfsFileSystemUid)
	if uid == "" {
		return "", false, fmt.Errorf("%s is InService without a HomeEfsFileSystemUid", profileLabel(domainID, spec.Name))
	}
	return uid, created, nil
}

func (a *Applier) createUserProfile(ctx context.Context, domainID string, spec ProfileSpec) error {
	in := &sagemaker.CreateUserProfileInput{
		DomainId:        aws.String(domainID),
		UserProfileName: aws.String(spec.Name),
		Tags:            a.jobTags(spec.Tags),
	}
	if spec.SingleSignOnUserValue != "" {
		in.SingleSignOnUserIdentifier = aws.String(cmpOr(spec.SingleSignOnUserIdentifier, "UserName"))
		in.SingleSignOnUserValue = aws.String(spec.SingleSignOnUserValue)
	}
	members := withMembers(map[string]json.RawMessage{"UserSettings": spec.UserSettings})
	return a.create(ctx, func(ctx context.Context, observe func(*sagemaker.Options)) error {
		_, err := a.SageMaker.CreateUserProfile(ctx, in, members, observe)
		return err
	})
}

func cmpOr(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// ---- spaces ----

// CreateSpaces creates every space of the plan that the domain does not have yet,
// after checking its owner profile is InService, waits for all to be InService and
// returns each space's new UID by name. Like CreateUserProfiles it adopts existing
// spaces and stops at the first failure.
func (a *Applier) CreateSpaces(ctx context.Context, p *Plan, domainID string) (map[string]string, error) {
	if err := a.check(p); err != nil {
		return nil, err
	}
	if err := a.checkJobDomain(ctx, domainID); err != nil {
		return nil, fmt.Errorf("creating spaces: %w", err)
	}
	p, err := a.prepare(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := a.waitDomainInService(ctx, a.SageMaker, domainID); err != nil {
		return nil, fmt.Errorf("creating spaces: %w", err)
	}
	uids, created, err := ensureAll(ctx, a.concurrency(), p.Spaces, func(ctx context.Context, spec SpaceSpec) (string, bool, error) {
		uid, made, err := a.ensureSpace(ctx, domainID, spec)
		if err != nil {
			return "", false, fmt.Errorf("creating space %s in domain %s: %w", spec.Name, domainID, err)
		}
		return uid, made, nil
	}, func(spec SpaceSpec) string { return spec.Name })
	if err != nil {
		return nil, err
	}
	a.log().Info("spaces InService", "domain", domainID, "created", created, "existing", len(uids)-created)
	return uids, nil
}

func (a *Applier) ensureSpace(ctx context.Context, domainID string, spec SpaceSpec) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	log := a.log().With("domain", domainID, "space", spec.Name)
	created := false
	cur, err := findSpaceByName(ctx, a.SageMaker, domainID, spec.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		if spec.OwnerUserProfileName != "" {
			// Spaces come after their owners; say so rather than let CreateSpace
			// fail with a bare ResourceNotFound.
			if err := a.waitUserProfileInService(ctx, a.SageMaker, domainID, spec.OwnerUserProfileName); err != nil {
				return "", false, fmt.Errorf("owner (run CreateUserProfiles first): %w", err)
			}
		}
		if created, err = a.createOrAdopt(ctx, log, "space", func(ctx context.Context) error {
			return a.createSpace(ctx, domainID, spec)
		}, func(ctx context.Context) error {
			_, err := findSpaceByName(ctx, a.SageMaker, domainID, spec.Name)
			return err
		}); err != nil {
			return "", false, err
		}
	case err != nil:
		return "", false, err
	case cur.Status == smtypes.SpaceStatusDeleting:
		return "", false, fmt.Errorf("%s is being deleted", spaceLabel(domainID, spec.Name))
	case cur.Status == smtypes.SpaceStatusFailed && a.ReplaceFailed:
		log.Warn("space was left Failed by an earlier run; deleting and creating it again", "reason", aws.ToString(cur.FailureReason))
		if err := a.replaceFailed(ctx, spaceLabel(domainID, spec.Name), func(ctx context.Context) error {
			_, err := a.SageMaker.DeleteSpace(ctx, &sagemaker.DeleteSpaceInput{DomainId: aws.String(domainID), SpaceName: aws.String(spec.Name)})
			return err
		}, func(ctx context.Context) error {
			return a.waitSpaceDeleted(ctx, a.SageMaker, domainID, spec.Name)
		}); err != nil {
			return "", false, err
		}
		if created, err = a.createOrAdopt(ctx, log, "space", func(ctx context.Context) error {
			return a.createSpace(ctx, domainID, spec)
		}, func(ctx context.Context) error {
			_, err := findSpaceByName(ctx, a.SageMaker, domainID, spec.Name)
			return err
		}); err != nil {
			return "", false, err
		}
	default:
		log.Debug("space exists; adopting it", "status", cur.Status)
	}
	if err := a.waitSpaceInService(ctx, a.SageMaker, domainID, spec.Name); err != nil {
		return "", false, err
	}
	out, err := findSpaceByName(ctx, a.SageMaker, domainID, spec.Name)
	if err != nil {
		return "", false, err
	}
	uid := aws.ToString(out.HomeEfsFileSystemUid)
	if uid == "" {
		return "", false, fmt.Errorf("%s is InService without a HomeEfsFileSystemUid", spaceLabel(domainID, spec.Name))
	}
	return uid, created, nil
}

func (a *Applier) createSpace(ctx context.Context, domainID string, spec SpaceSpec) error {
	in := &sagemaker.CreateSpaceInput{
		DomainId:  aws.String(domainID),
		SpaceName: aws.String(spec.Name),
		Tags:      a.jobTags(spec.Tags),
	}
	if spec.DisplayName != "" {
		in.SpaceDisplayName = aws.String(spec.DisplayName)
	}
	ownership := spec.OwnershipSettings
	if isEmptyJSON(ownership) && spec.OwnerUserProfileName != "" {
		b, _ := json.Marshal(map[string]string{"OwnerUserProfileName": spec.OwnerUserProfileName})
		ownership = b
	}
	members := withMembers(map[string]json.RawMessage{
		"OwnershipSettings":    ownership,
		"SpaceSharingSettings": spec.SpaceSharingSettings,
		"SpaceSettings":        spec.SpaceSettings,
	})
	return a.create(ctx, func(ctx context.Context, observe func(*sagemaker.Options)) error {
		_, err := a.SageMaker.CreateSpace(ctx, in, members, observe)
		return err
	})
}

// ---- Identity Center ----

// AssignUsers assigns every profile's Identity Center user to the new domain's
// application (without it they get "Access Denied" opening Studio). Nothing to do for
// an IAM domain. Users already assigned are skipped; ConflictException (assigned
// meanwhile) is success.
func (a *Applier) AssignUsers(ctx context.Context, p *Plan, domainID string) error {
	if err := a.check(p); err != nil {
		return err
	}
	d, err := findDomainByID(ctx, a.SageMaker, domainID, nil)
	if err != nil {
		return fmt.Errorf("assigning users: %w", err)
	}
	log := a.log().With("domain", domainID)
	if d.AuthMode != smtypes.AuthModeSso {
		log.Debug("not an Identity Center domain; no users to assign")
		return nil
	}
	appArn := aws.ToString(d.SingleSignOnApplicationArn)
	if appArn == "" {
		return fmt.Errorf("assigning users: domain %s has AuthMode SSO but no SingleSignOnApplicationArn", domainID)
	}
	storeID, err := a.identityStoreFor(ctx, appArn)
	if err != nil {
		return fmt.Errorf("assigning users to %s: %w", appArn, err)
	}
	assigned := map[string]bool{}
	pg := ssoadmin.NewListApplicationAssignmentsPaginator(a.SSOAdmin, &ssoadmin.ListApplicationAssignmentsInput{ApplicationArn: aws.String(appArn)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing the assignments of %s: %w", appArn, err)
		}
		for _, as := range page.ApplicationAssignments {
			assigned[aws.ToString(as.PrincipalId)] = true
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(a.concurrency())
	var n int
	var mu sync.Mutex
	for _, spec := range p.UserProfiles {
		if spec.SingleSignOnUserValue == "" || gctx.Err() != nil {
			continue
		}
		g.Go(func() error {
			userID, err := a.identityCenterUserID(gctx, storeID, spec.SingleSignOnUserValue)
			if err != nil {
				return fmt.Errorf("assigning user %s (profile %s): %w", spec.SingleSignOnUserValue, spec.Name, err)
			}
			if assigned[userID] {
				return nil
			}
			_, err = a.SSOAdmin.CreateApplicationAssignment(gctx, &ssoadmin.CreateApplicationAssignmentInput{
				ApplicationArn: aws.String(appArn),
				PrincipalId:    aws.String(userID),
				PrincipalType:  ssotypes.PrincipalTypeUser,
			})
			var conflict *ssotypes.ConflictException
			if errors.As(err, &conflict) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("assigning user %s (profile %s) to %s: %w", spec.SingleSignOnUserValue, spec.Name, appArn, err)
			}
			mu.Lock()
			n++
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	log.Info("assigned Identity Center users", "assigned", n, "already_assigned", len(assigned))
	return nil
}

// identityStoreFor finds the identity store of the Identity Center instance that owns
// the application (its ARN is .../application/<instance-id>/<app-id>).
func (a *Applier) identityStoreFor(ctx context.Context, appArn string) (string, error) {
	var stores []string
	pg := ssoadmin.NewListInstancesPaginator(a.SSOAdmin, &ssoadmin.ListInstancesInput{})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("listing Identity Center instances: %w", err)
		}
		for _, in := range page.Instances {
			arn := aws.ToString(in.InstanceArn)
			instanceID := arn[strings.LastIndex(arn, "/")+1:]
			if strings.Contains(appArn, "/"+instanceID+"/") {
				return aws.ToString(in.IdentityStoreId), nil
			}
			stores = append(stores, aws.ToString(in.IdentityStoreId))
		}
	}
	if len(stores) == 1 {
		return stores[0], nil
	}
	return "", fmt.Errorf("no Identity Center instance owns the application (%d instances)", len(stores))
}

func (a *Applier) identityCenterUserID(ctx context.Context, storeID, userName string) (string, error) {
	out, err := a.IdentityStore.GetUserId(ctx, &identitystore.GetUserIdInput{
		IdentityStoreId: aws.String(storeID),
		AlternateIdentifier: &idstypes.AlternateIdentifierMemberUniqueAttribute{Value: idstypes.UniqueAttribute{
			AttributePath: aws.String("userName"), AttributeValue: document.NewLazyDocument(userName),
		}},
	})
	var nf *idstypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", fmt.Errorf("user %s in identity store %s: %w", userName, storeID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("looking up user %s in identity store %s: %w", userName, storeID, err)
	}
	return aws.ToString(out.UserId), nil
}
