package studio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"golang.org/x/sync/errgroup"
)

// DefaultSnapshotConcurrency bounds the Describe/ListTags calls in flight when
// SnapshotOptions.Concurrency is unset: enough to read a few hundred profiles in
// seconds, few enough that SageMaker's per-account rate limits rarely throttle.
const DefaultSnapshotConcurrency = 8

// listPageSize is MaxResults for the List calls: the service's maximum, so a large
// domain costs as few calls as possible.
const listPageSize = 100

// SnapshotOptions tune TakeSnapshot. The zero value is usable.
type SnapshotOptions struct {
	// Concurrency bounds the Describe and ListTags calls in flight (default
	// DefaultSnapshotConcurrency).
	Concurrency int
	// Logger receives progress and the warnings about resources that vanished while
	// the snapshot was taken (default: discard).
	Logger *slog.Logger
	// Now stamps TakenAt (default time.Now); tests fix it.
	Now func() time.Time
}

// TakeSnapshot reads domain domainID and every user profile and space in it into a
// Snapshot. It only reads. (It cannot be called Snapshot: that is the document type.)
//
// An unknown domain is an error wrapping ErrNotFound. A profile or space that is
// listed but gone by the time it is described (deleted meanwhile) is skipped with a
// warning: the snapshot is of what exists. Profiles and spaces in Failed or Deleting
// status are kept, with their status, so a plan can warn about them.
func TakeSnapshot(ctx context.Context, c Clients, domainID string, opts SnapshotOptions) (*Snapshot, error) {
	if domainID == "" {
		return nil, errors.New("taking a snapshot: no domain ID given")
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultSnapshotConcurrency
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("domain", domainID)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	sm := c.SageMaker

	dom, status, err := describeDomain(ctx, c, domainID)
	if err != nil {
		return nil, err
	}
	if status != string(smtypes.DomainStatusInService) {
		// Still worth recording (a Failed domain is often why one is rebuilt).
		log.Warn("domain is not InService", "status", status)
	}
	if dom.Tags, err = listTags(ctx, sm, dom.ARN); err != nil {
		return nil, fmt.Errorf("listing tags of domain %s: %w", domainID, err)
	}
	log.Info("domain described", "name", dom.Name, "auth_mode", dom.AuthMode)

	profileNames, err := listProfileNames(ctx, sm, domainID)
	if err != nil {
		return nil, err
	}
	spaceNames, err := listSpaceNames(ctx, sm, domainID)
	if err != nil {
		return nil, err
	}
	log.Info("listed user profiles and spaces", "profiles", len(profileNames), "spaces", len(spaceNames))

	// Each goroutine writes only its own slot; a nil slot is a resource that vanished.
	profiles := make([]*UserProfile, len(profileNames))
	spaces := make([]*Space, len(spaceNames))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for i, name := range profileNames {
		g.Go(func() error {
			p, err := snapshotProfile(gctx, sm, domainID, name)
			if isNotFound(err) {
				log.Warn("user profile vanished while the snapshot was taken; skipped", "profile", name, "error", err)
				return nil
			}
			if err != nil {
				return err
			}
			if p.Status == string(smtypes.UserProfileStatusFailed) || p.Status == string(smtypes.UserProfileStatusDeleting) {
				log.Warn("user profile is not healthy; kept in the snapshot", "profile", name, "status", p.Status)
			}
			profiles[i] = p
			return nil
		})
	}
	for i, name := range spaceNames {
		g.Go(func() error {
			s, err := snapshotSpace(gctx, sm, domainID, name)
			if isNotFound(err) {
				log.Warn("space vanished while the snapshot was taken; skipped", "space", name, "error", err)
				return nil
			}
			if err != nil {
				return err
			}
			if s.Status == string(smtypes.SpaceStatusFailed) || s.Status == string(smtypes.SpaceStatusDeleting) {
				log.Warn("space is not healthy; kept in the snapshot", "space", name, "status", s.Status)
			}
			spaces[i] = s
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	s := &Snapshot{
		SchemaVersion: SchemaVersion,
		TakenAt:       now().UTC(),
		Region:        c.Region,
		AccountID:     accountFromARN(dom.ARN),
		Domain:        *dom,
		UserProfiles:  []UserProfile{},
		Spaces:        []Space{},
	}
	for _, p := range profiles {
		if p != nil {
			s.UserProfiles = append(s.UserProfiles, *p)
		}
	}
	for _, sp := range spaces {
		if sp != nil {
			s.Spaces = append(s.Spaces, *sp)
		}
	}
	// The same order MarshalSnapshot writes, so callers that use the snapshot
	// without a round trip through the document see it as it will be saved.
	slices.SortFunc(s.UserProfiles, func(a, b UserProfile) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(s.Spaces, func(a, b Space) int { return strings.Compare(a.Name, b.Name) })
	if s.LifecycleConfigs, err = snapshotLCCs(ctx, sm, s, log); err != nil { // lccsnap.go
		return nil, err
	}
	log.Info("snapshot taken", "profiles", len(s.UserProfiles), "spaces", len(s.Spaces))
	return s, nil
}

// describeDomain reads the domain, keeping its settings as wire JSON, and returns
// its status.
func describeDomain(ctx context.Context, c Clients, id string) (*Domain, string, error) {
	var body []byte
	out, err := c.SageMaker.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: aws.String(id)}, captureBody(&body))
	if isNotFound(err) {
		return nil, "", notFoundf("domain %s not found in %s: check --domain and --region", id, c.Region)
	}
	if err != nil {
		return nil, "", fmt.Errorf("describing domain %s: %w", id, err)
	}
	raw, err := rawMembers(body, "DefaultUserSettings", "DefaultSpaceSettings", "DomainSettings")
	if err != nil {
		return nil, "", fmt.Errorf("describing domain %s: %w", id, err)
	}
	return &Domain{
		ID:                                       aws.ToString(out.DomainId),
		ARN:                                      aws.ToString(out.DomainArn),
		Name:                                     aws.ToString(out.DomainName),
		AuthMode:                                 string(out.AuthMode),
		VpcID:                                    aws.ToString(out.VpcId),
		SubnetIDs:                                nonNil(out.SubnetIds),
		KmsKeyID:                                 firstNonEmpty(aws.ToString(out.KmsKeyId), aws.ToString(out.HomeEfsFileSystemKmsKeyId)),
		AppNetworkAccessType:                     string(out.AppNetworkAccessType),
		AppSecurityGroupManagement:               string(out.AppSecurityGroupManagement),
		TagPropagation:                           string(out.TagPropagation),
		HomeEfsFileSystemCreation:                string(out.HomeEfsFileSystemCreation),
		HomeEfsFileSystemID:                      aws.ToString(out.HomeEfsFileSystemId),
		SingleSignOnApplicationArn:               aws.ToString(out.SingleSignOnApplicationArn),
		SingleSignOnManagedApplicationInstanceID: aws.ToString(out.SingleSignOnManagedApplicationInstanceId),
		DefaultUserSettings:                      raw["DefaultUserSettings"],
		DefaultSpaceSettings:                     raw["DefaultSpaceSettings"],
		DomainSettings:                           raw["DomainSettings"],
	}, string(out.Status), nil
}

func listProfileNames(ctx context.Context, sm *sagemaker.Client, domainID string) ([]string, error) {
	var names []string
	pg := sagemaker.NewListUserProfilesPaginator(sm, &sagemaker.ListUserProfilesInput{
		DomainIdEquals: aws.String(domainID),
		MaxResults:     aws.Int32(listPageSize),
	})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing user profiles of domain %s: %w", domainID, err)
		}
		for _, p := range page.UserProfiles {
			names = append(names, aws.ToString(p.UserProfileName))
		}
	}
	return names, nil
}

func listSpaceNames(ctx context.Context, sm *sagemaker.Client, domainID string) ([]string, error) {
	var names []string
	pg := sagemaker.NewListSpacesPaginator(sm, &sagemaker.ListSpacesInput{
		DomainIdEquals: aws.String(domainID),
		MaxResults:     aws.Int32(listPageSize),
	})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing spaces of domain %s: %w", domainID, err)
		}
		for _, s := range page.Spaces {
			names = append(names, aws.ToString(s.SpaceName))
		}
	}
	return names, nil
}

// snapshotProfile describes one profile and lists its tags. A not-found error is
// returned as is (wrapped) so the caller can skip the profile.
func snapshotProfile(ctx context.Context, sm *sagemaker.Client, domainID, name string) (*UserProfile, error) {
	var body []byte
	out, err := sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{
		DomainId: aws.String(domainID), UserProfileName: aws.String(name),
	}, captureBody(&body))
	if err != nil {
		return nil, fmt.Errorf("describing user profile %s: %w", name, err)
	}
	raw, err := rawMembers(body, "UserSettings")
	if err != nil {
		return nil, fmt.Errorf("describing user profile %s: %w", name, err)
	}
	var us struct{ ExecutionRole string }
	if err := unmarshalIfSet(raw["UserSettings"], &us); err != nil {
		return nil, fmt.Errorf("user profile %s: reading UserSettings: %w", name, err)
	}
	p := &UserProfile{
		Name:                       aws.ToString(out.UserProfileName),
		ARN:                        aws.ToString(out.UserProfileArn),
		HomeEfsFileSystemUID:       aws.ToString(out.HomeEfsFileSystemUid),
		Status:                     string(out.Status),
		ExecutionRole:              us.ExecutionRole,
		SingleSignOnUserIdentifier: aws.ToString(out.SingleSignOnUserIdentifier),
		SingleSignOnUserValue:      aws.ToString(out.SingleSignOnUserValue),
		UserSettings:               raw["UserSettings"],
	}
	if p.Tags, err = listTags(ctx, sm, p.ARN); err != nil {
		return nil, fmt.Errorf("listing tags of user profile %s: %w", name, err)
	}
	return p, nil
}

// snapshotSpace describes one space and lists its tags (see snapshotProfile).
func snapshotSpace(ctx context.Context, sm *sagemaker.Client, domainID, name string) (*Space, error) {
	var body []byte
	out, err := sm.DescribeSpace(ctx, &sagemaker.DescribeSpaceInput{
		DomainId: aws.String(domainID), SpaceName: aws.String(name),
	}, captureBody(&body))
	if err != nil {
		return nil, fmt.Errorf("describing space %s: %w", name, err)
	}
	raw, err := rawMembers(body, "OwnershipSettings", "SpaceSharingSettings", "SpaceSettings")
	if err != nil {
		return nil, fmt.Errorf("describing space %s: %w", name, err)
	}
	var (
		own     struct{ OwnerUserProfileName string }
		sharing struct{ SharingType string }
		ss      struct{ AppType string }
	)
	for _, m := range []struct {
		member string
		dst    any
	}{{"OwnershipSettings", &own}, {"SpaceSharingSettings", &sharing}, {"SpaceSettings", &ss}} {
		if err := unmarshalIfSet(raw[m.member], m.dst); err != nil {
			return nil, fmt.Errorf("space %s: reading %s: %w", name, m.member, err)
		}
	}
	s := &Space{
		Name:                 aws.ToString(out.SpaceName),
		ARN:                  aws.ToString(out.SpaceArn),
		DisplayName:          aws.ToString(out.SpaceDisplayName),
		HomeEfsFileSystemUID: aws.ToString(out.HomeEfsFileSystemUid),
		Status:               string(out.Status),
		OwnerUserProfileName: own.OwnerUserProfileName,
		SharingType:          sharing.SharingType,
		AppType:              ss.AppType,
		OwnershipSettings:    raw["OwnershipSettings"],
		SpaceSharingSettings: raw["SpaceSharingSettings"],
		SpaceSettings:        raw["SpaceSettings"],
	}
	if s.Tags, err = listTags(ctx, sm, s.ARN); err != nil {
		return nil, fmt.Errorf("listing tags of space %s: %w", name, err)
	}
	return s, nil
}

// listTags returns every tag of a resource, following NextToken.
func listTags(ctx context.Context, sm *sagemaker.Client, arn string) ([]Tag, error) {
	tags := []Tag{}
	pg := sagemaker.NewListTagsPaginator(sm, &sagemaker.ListTagsInput{ResourceArn: aws.String(arn)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Tags {
			tags = append(tags, Tag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
		}
	}
	return sortedTags(tags), nil
}

// rawMembers picks members out of a captured JSON response body. An absent or null
// member is left out of the map, so the snapshot omits it too.
func rawMembers(body []byte, names ...string) (map[string]json.RawMessage, error) {
	all := map[string]json.RawMessage{}
	if err := json.Unmarshal(body, &all); err != nil {
		return nil, fmt.Errorf("response body is not a JSON object: %w", err)
	}
	out := make(map[string]json.RawMessage, len(names))
	for _, n := range names {
		if v, ok := all[n]; ok && !isEmptyJSON(v) {
			out[n] = v
		}
	}
	return out, nil
}

func unmarshalIfSet(raw json.RawMessage, dst any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, dst)
}

// accountFromARN returns the account field of arn:partition:service:region:account:...
func accountFromARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
