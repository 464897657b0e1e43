package studio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/google/go-cmp/cmp"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

const testRolePrefix = "arn:aws:iam::123456789012:role/"

// testApplier returns an Applier with test-sized polling and pacing.
func testApplier(c Clients) *Applier {
	return &Applier{
		Clients:        c,
		Waiter:         Waiter{PollInterval: 2 * time.Millisecond, Timeout: 20 * time.Second},
		JobID:          "job-1",
		Concurrency:    4,
		CreateInterval: time.Microsecond,
	}
}

// testPlan is an IAM (or SSO) plan with n profiles and m spaces: every profile has its
// own role and a settings member the SDK does not know; spaces are owned by the
// first profiles.
func testPlan(name, authMode string, nProfiles, nSpaces int) *Plan {
	p := &Plan{
		Source: PlanSource{DomainID: "d-old000000001", DomainName: "old", Region: emulator.DefaultRegion, AuthMode: authMode},
		Domain: DomainSpec{
			Name:                 name,
			AuthMode:             authMode,
			VpcID:                "vpc-0123456789abcdef0",
			SubnetIDs:            []string{"subnet-0123456789abcdef0", "subnet-0123456789abcdef1"},
			KmsKeyID:             "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			AppNetworkAccessType: "VpcOnly",
			TagPropagation:       "ENABLED",
			DefaultUserSettings:  json.RawMessage(`{"ExecutionRole":"` + testRolePrefix + `DomainDefault","SecurityGroups":["sg-0123456789abcdef0"],"JupyterServerAppSettings":{"DefaultResourceSpec":{"InstanceType":"system"}},"StudioWebPortal":"ENABLED"}`),
			DefaultSpaceSettings: json.RawMessage(`{"ExecutionRole":"` + testRolePrefix + `SpaceDefault"}`),
			DomainSettings:       json.RawMessage(`{"SecurityGroupIds":["sg-0123456789abcdef0"],"FutureDomainMember":{"On":true}}`),
			Tags:                 []Tag{{Key: "team", Value: "ml"}, {Key: "cost-center", Value: "42"}},
		},
	}
	if authMode == "SSO" {
		p.Domain.DomainSettings = json.RawMessage(`{"SecurityGroupIds":["sg-0123456789abcdef0"],"TrustedIdentityPropagationSettings":{"Status":"ENABLED"}}`)
	}
	for i := range nProfiles {
		pr := ProfileSpec{
			Name:         fmt.Sprintf("user-%03d", i),
			OldUID:       fmt.Sprint(100001 + i),
			UserSettings: json.RawMessage(fmt.Sprintf(`{"ExecutionRole":"%sUser%03d","FutureMember":{"Answer":%d}}`, testRolePrefix, i, i)),
			Tags:         []Tag{{Key: "studiouserid", Value: fmt.Sprintf("user-%03d", i)}},
		}
		if authMode == "SSO" {
			pr.SingleSignOnUserIdentifier = "UserName"
			pr.SingleSignOnUserValue = fmt.Sprintf("person%03d", i)
		}
		p.UserProfiles = append(p.UserProfiles, pr)
	}
	for i := range nSpaces {
		owner := fmt.Sprintf("user-%03d", i%max(nProfiles, 1))
		p.Spaces = append(p.Spaces, SpaceSpec{
			Name:                 fmt.Sprintf("space-%03d", i),
			OldUID:               fmt.Sprint(150001 + i),
			DisplayName:          fmt.Sprintf("Space %d", i),
			OwnerUserProfileName: owner,
			OwnershipSettings:    json.RawMessage(`{"OwnerUserProfileName":"` + owner + `"}`),
			SpaceSharingSettings: json.RawMessage(`{"SharingType":"Private"}`),
			SpaceSettings:        json.RawMessage(`{"AppType":"JupyterLab","SpaceStorageSettings":{"EbsStorageSettings":{"EbsVolumeSizeInGb":5}}}`),
			Tags:                 []Tag{{Key: "space", Value: fmt.Sprint(i)}},
		})
	}
	return p
}

// member returns the canonical JSON of one top-level member of a response body.
func member(t testing.TB, body []byte, key string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("response body %q: %v", body, err)
	}
	if m[key] == nil {
		return ""
	}
	c, err := canonicalJSON(m[key])
	if err != nil {
		t.Fatal(err)
	}
	return string(c)
}

func canon(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	if raw == nil {
		return ""
	}
	c, err := canonicalJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	return string(c)
}

func tagMap(t testing.TB, c Clients, arn string) map[string]string {
	t.Helper()
	out, err := c.SageMaker.ListTags(context.Background(), &sagemaker.ListTagsInput{ResourceArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("listing tags of %s: %v", arn, err)
	}
	m := map[string]string{}
	for _, tg := range out.Tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

func wantTags(tags []Tag, job string) map[string]string {
	m := map[string]string{JobTagKey: job}
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// createCalls counts the create calls the emulator answered.
func createCalls(em *emulator.Emulator) map[string]int {
	m := map[string]int{}
	for _, op := range []string{"CreateDomain", "CreateUserProfile", "CreateSpace", "CreateApp", "CreateStudioLifecycleConfig", "UpdateDomain"} {
		m[op] = em.Calls(op)
	}
	return m
}

// checkApplied asserts that the domain, every profile and space exist in the emulator
// as the plan says, and that res.UIDMap is complete and read from Describe.
func checkApplied(t *testing.T, c Clients, p *Plan, res *Result, job string) {
	t.Helper()
	ctx := context.Background()
	sm := c.SageMaker
	var body []byte
	d, err := sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: aws.String(res.Domain.ID)}, captureBody(&body))
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(d.DomainName); got != p.Domain.Name {
		t.Errorf("domain name %q, want %q", got, p.Domain.Name)
	}
	if string(d.AuthMode) != p.Domain.AuthMode || aws.ToString(d.KmsKeyId) != p.Domain.KmsKeyID || string(d.AppNetworkAccessType) != p.Domain.AppNetworkAccessType ||
		aws.ToString(d.VpcId) != p.Domain.VpcID || !slices.Equal(d.SubnetIds, p.Domain.SubnetIDs) || string(d.TagPropagation) != p.Domain.TagPropagation {
		t.Errorf("domain %+v does not match the plan %+v", d, p.Domain)
	}
	for key, want := range map[string]json.RawMessage{"DefaultUserSettings": p.Domain.DefaultUserSettings, "DefaultSpaceSettings": p.Domain.DefaultSpaceSettings, "DomainSettings": p.Domain.DomainSettings} {
		if got := member(t, body, key); got != canon(t, want) {
			t.Errorf("domain %s:\n got %s\nwant %s", key, got, canon(t, want))
		}
	}
	if diff := cmp.Diff(wantTags(p.Domain.Tags, job), tagMap(t, c, res.Domain.ARN)); diff != "" {
		t.Errorf("domain tags (-want +got):\n%s", diff)
	}
	if res.Domain.HomeEfsFileSystemID != aws.ToString(d.HomeEfsFileSystemId) || res.Domain.ARN != aws.ToString(d.DomainArn) {
		t.Errorf("result domain %+v, describe says %s %s", res.Domain, aws.ToString(d.DomainArn), aws.ToString(d.HomeEfsFileSystemId))
	}

	byName := map[string]UIDMapping{}
	for _, m := range res.UIDMap {
		byName[m.Kind+"/"+m.Name] = m
	}
	if len(res.UIDMap) != len(p.UserProfiles)+len(p.Spaces) || len(byName) != len(res.UIDMap) {
		t.Errorf("UID map has %d entries (%d distinct), want %d", len(res.UIDMap), len(byName), len(p.UserProfiles)+len(p.Spaces))
	}
	newUIDs := map[string]bool{}
	for _, pr := range p.UserProfiles {
		var body []byte
		out, err := sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{DomainId: aws.String(res.Domain.ID), UserProfileName: aws.String(pr.Name)}, captureBody(&body))
		if err != nil {
			t.Fatalf("profile %s: %v", pr.Name, err)
		}
		if got := member(t, body, "UserSettings"); got != canon(t, pr.UserSettings) {
			t.Errorf("profile %s UserSettings:\n got %s\nwant %s", pr.Name, got, canon(t, pr.UserSettings))
		}
		if aws.ToString(out.SingleSignOnUserValue) != pr.SingleSignOnUserValue {
			t.Errorf("profile %s SingleSignOnUserValue %q, want %q", pr.Name, aws.ToString(out.SingleSignOnUserValue), pr.SingleSignOnUserValue)
		}
		if diff := cmp.Diff(wantTags(pr.Tags, job), tagMap(t, c, aws.ToString(out.UserProfileArn))); diff != "" {
			t.Errorf("profile %s tags (-want +got):\n%s", pr.Name, diff)
		}
		m := byName[KindUserProfile+"/"+pr.Name]
		uid := aws.ToString(out.HomeEfsFileSystemUid)
		if m.NewUID != uid || m.OldUID != pr.OldUID || uid == pr.OldUID || newUIDs[uid] {
			t.Errorf("profile %s: mapping %+v, describe UID %s, old UID %s", pr.Name, m, uid, pr.OldUID)
		}
		newUIDs[uid] = true
	}
	for _, sp := range p.Spaces {
		var body []byte
		out, err := sm.DescribeSpace(ctx, &sagemaker.DescribeSpaceInput{DomainId: aws.String(res.Domain.ID), SpaceName: aws.String(sp.Name)}, captureBody(&body))
		if err != nil {
			t.Fatalf("space %s: %v", sp.Name, err)
		}
		for key, want := range map[string]json.RawMessage{"SpaceSettings": sp.SpaceSettings, "OwnershipSettings": sp.OwnershipSettings, "SpaceSharingSettings": sp.SpaceSharingSettings} {
			if got := member(t, body, key); got != canon(t, want) {
				t.Errorf("space %s %s:\n got %s\nwant %s", sp.Name, key, got, canon(t, want))
			}
		}
		if aws.ToString(out.SpaceDisplayName) != sp.DisplayName {
			t.Errorf("space %s display name %q, want %q", sp.Name, aws.ToString(out.SpaceDisplayName), sp.DisplayName)
		}
		if diff := cmp.Diff(wantTags(sp.Tags, job), tagMap(t, c, aws.ToString(out.SpaceArn))); diff != "" {
			t.Errorf("space %s tags (-want +got):\n%s", sp.Name, diff)
		}
		m := byName[KindSpace+"/"+sp.Name]
		uid := aws.ToString(out.HomeEfsFileSystemUid)
		if m.NewUID != uid || m.OldUID != sp.OldUID || newUIDs[uid] {
			t.Errorf("space %s: mapping %+v, describe UID %s", sp.Name, m, uid)
		}
		newUIDs[uid] = true
	}
}

func TestApplyBuildsThePlanAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	// ReadyAfter > 0 so the waits really wait.
	em, c := newTestEnv(t, emulator.Options{ReadyAfter: 10 * time.Millisecond})
	// A same-named domain someone else made: must be left alone, not adopted.
	if _, err := c.SageMaker.CreateDomain(ctx, &sagemaker.CreateDomainInput{
		DomainName: aws.String("new"), AuthMode: "IAM",
		VpcId: aws.String("vpc-0123456789abcdef0"), SubnetIds: []string{"subnet-0123456789abcdef0"},
		DefaultUserSettings: &smtypes.UserSettings{},
	}, withMembers(map[string]json.RawMessage{"DefaultUserSettings": json.RawMessage(`{"ExecutionRole":"` + testRolePrefix + `Other"}`)})); err != nil {
		t.Fatal(err)
	}
	p := testPlan("new", "IAM", 6, 3)
	a := testApplier(c)
	res, err := a.Apply(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	checkApplied(t, c, p, res, "job-1")
	before := createCalls(em)
	if want := map[string]int{"CreateDomain": 2, "CreateUserProfile": 6, "CreateSpace": 3}; before["CreateDomain"] != want["CreateDomain"] || before["CreateUserProfile"] != want["CreateUserProfile"] || before["CreateSpace"] != want["CreateSpace"] {
		t.Errorf("create calls %v, want %v", before, want)
	}

	again, err := testApplier(c).Apply(ctx, p)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if diff := cmp.Diff(before, createCalls(em)); diff != "" {
		t.Errorf("second Apply made create calls (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(res, again); diff != "" {
		t.Errorf("second Apply result differs (-first +second):\n%s", diff)
	}
}

func TestApplyResumesAfterPartialRun(t *testing.T) {
	ctx := context.Background()
	em, c := newTestEnv(t, emulator.Options{})
	p := testPlan("resume", "IAM", 5, 2)
	a := testApplier(c)
	d, err := a.CreateDomain(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	// A crash after two profiles: the rerun creates only the other three.
	partial := *p
	partial.UserProfiles = p.UserProfiles[:2]
	if _, err := a.CreateUserProfiles(ctx, &partial, d.ID); err != nil {
		t.Fatal(err)
	}
	res, err := testApplier(c).Apply(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	checkApplied(t, c, p, res, "job-1")
	if got := createCalls(em); got["CreateDomain"] != 1 || got["CreateUserProfile"] != 5 || got["CreateSpace"] != 2 {
		t.Errorf("create calls %v, want 1 domain, 5 profiles, 2 spaces", got)
	}
}

func TestApplyUnderThrottling(t *testing.T) {
	ctx := context.Background()
	em, c := newTestEnv(t, emulator.Options{ThrottleRate: 0.3, Seed: 7})
	p := testPlan("throttled", "IAM", 40, 10)
	a := testApplier(c)
	a.Concurrency = 8
	res, err := a.Apply(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	em.SetThrottleRate(0)
	checkApplied(t, c, p, res, "job-1")
	// The emulator counts calls it answered (not the throttled ones): exactly one
	// create per resource means no duplicate ever reached it.
	if got := createCalls(em); got["CreateDomain"] != 1 || got["CreateUserProfile"] != 40 || got["CreateSpace"] != 10 {
		t.Errorf("create calls %v, want 1 domain, 40 profiles, 10 spaces", got)
	}
	out, err := c.SageMaker.ListUserProfiles(ctx, &sagemaker.ListUserProfilesInput{DomainIdEquals: aws.String(res.Domain.ID), MaxResults: aws.Int32(100)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.UserProfiles) != 40 {
		t.Errorf("%d profiles in the domain, want 40", len(out.UserProfiles))
	}
}

func TestApplyStopsAtAFailedResource(t *testing.T) {
	ctx := context.Background()
	t.Run("profile", func(t *testing.T) {
		em, c := newTestEnv(t, emulator.Options{ReadyAfter: time.Millisecond})
		em.FailNext("UserProfile", "user-003", "The execution role cannot be assumed by SageMaker.")
		a := testApplier(c)
		a.Concurrency = 1
		_, err := a.Apply(ctx, testPlan("failing", "IAM", 8, 2))
		var fe *FailedError
		if !errors.As(err, &fe) || fe.Reason != "The execution role cannot be assumed by SageMaker." {
			t.Fatalf("error %v, want a *FailedError with the FailureReason", err)
		}
		if !strings.Contains(err.Error(), "user-003") || !strings.Contains(err.Error(), "cannot be assumed") {
			t.Errorf("error %q does not name the profile and the reason", err)
		}
		if got := createCalls(em); got["CreateUserProfile"] != 4 || got["CreateSpace"] != 0 {
			t.Errorf("create calls %v: the step went on after the failure", got)
		}
	})
	t.Run("domain", func(t *testing.T) {
		em, c := newTestEnv(t, emulator.Options{})
		em.FailNext("Domain", "failing", "The KMS key is not accessible.")
		a := testApplier(c)
		_, err := a.Apply(ctx, testPlan("failing", "IAM", 2, 0))
		var fe *FailedError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "KMS key is not accessible") {
			t.Fatalf("error %v, want a *FailedError with the FailureReason", err)
		}
		if got := createCalls(em); got["CreateUserProfile"] != 0 {
			t.Errorf("create calls %v after the domain failed", got)
		}
		// A rerun finds the failed domain by its tag and reports it again rather than
		// creating a second one.
		if _, err := a.Apply(ctx, testPlan("failing", "IAM", 2, 0)); !errors.As(err, &fe) {
			t.Errorf("rerun: %v, want the *FailedError again", err)
		}
		if got := em.Calls("CreateDomain"); got != 1 {
			t.Errorf("%d CreateDomain calls, want 1", got)
		}
	})
}

func TestApplyRefusesAPlanWithErrors(t *testing.T) {
	em, c := newTestEnv(t, emulator.Options{})
	p := testPlan("bad", "IAM", 2, 0)
	p.Problems = []Problem{
		{Severity: SeverityWarning, Resource: "domain", Message: "just a warning"},
		{Severity: SeverityError, Resource: "user-profile/user-001", Message: "SSO domains need SingleSignOnUserValue"},
	}
	_, err := testApplier(c).Apply(context.Background(), p)
	if !errors.Is(err, ErrPlanHasErrors) || !strings.Contains(err.Error(), "user-profile/user-001") {
		t.Fatalf("error %v, want ErrPlanHasErrors naming the problem", err)
	}
	for _, op := range []string{"ListDomains", "CreateDomain", "DescribeDomain"} {
		if n := em.Calls(op); n != 0 {
			t.Errorf("%d %s calls for a refused plan", n, op)
		}
	}
}

func TestApplyAssignsIdentityCenterUsers(t *testing.T) {
	ctx := context.Background()
	em, c := newTestEnv(t, emulator.Options{})
	p := testPlan("sso", "SSO", 4, 2)
	want := map[string]bool{}
	for _, pr := range p.UserProfiles {
		want[em.AddIdentityCenterUser(pr.SingleSignOnUserValue)] = true
	}
	em.AddIdentityCenterUser("not-in-the-plan")
	res, err := testApplier(c).Apply(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	checkApplied(t, c, p, res, "job-1")
	got := map[string]bool{}
	out, err := c.SSOAdmin.ListApplicationAssignments(ctx, &ssoadmin.ListApplicationAssignmentsInput{ApplicationArn: aws.String(res.Domain.SSOApplicationArn)})
	if err != nil {
		t.Fatal(err)
	}
	for _, as := range out.ApplicationAssignments {
		got[aws.ToString(as.PrincipalId)] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("assignments (-want +got):\n%s", diff)
	}
	// Re-running the step (or the whole Apply) is harmless.
	if _, err := testApplier(c).Apply(ctx, p); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	// An unknown Identity Center user is an error naming it.
	bad := testPlan("sso", "SSO", 4, 0)
	bad.UserProfiles[1].SingleSignOnUserValue = "ghost"
	err = testApplier(c).AssignUsers(ctx, bad, res.Domain.ID)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "ghost") {
		t.Errorf("AssignUsers with an unknown user: %v", err)
	}
}

// TestPacerBacksOffWhenThrottled proves the pacer hears the throttled attempts the
// SDK's retryer hides, and recovers after successes.
func TestPacerBacksOffWhenThrottled(t *testing.T) {
	ctx := context.Background()
	em, c := newTestEnv(t, emulator.Options{ThrottleRate: 1})
	p := newPacer(time.Microsecond)
	_, err := c.SageMaker.ListDomains(ctx, &sagemaker.ListDomainsInput{}, p.observe())
	if errorCode(err) != "ThrottlingException" {
		t.Fatalf("ListDomains: %v, want ThrottlingException after the retries", err)
	}
	if got := p.interval(); got < 100*time.Millisecond {
		t.Errorf("interval %v after 20 throttled attempts, want it widened", got)
	}
	em.SetThrottleRate(0)
	for range 40 {
		if _, err := c.SageMaker.ListDomains(ctx, &sagemaker.ListDomainsInput{}, p.observe()); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.interval(); got != time.Microsecond {
		t.Errorf("interval %v after successes, want back to the base", got)
	}
}

// lostResponse passes the first call of op to the emulator but answers the client
// with a 500, as if the response was lost after the service acted on it.
type lostResponse struct {
	h    http.Handler
	op   string
	lost atomic.Bool
}

func (l *lostResponse) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") == "SageMaker."+l.op && l.lost.CompareAndSwap(false, true) {
		l.h.ServeHTTP(httptest.NewRecorder(), r)
		w.Header().Set("X-Amzn-ErrorType", "InternalFailure")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"__type":"InternalFailure","message":"We encountered an internal error."}`))
		return
	}
	l.h.ServeHTTP(w, r)
}

// TestCreateDomainNeverDuplicates: domain names are not unique, so a CreateDomain
// whose response is lost must not be retried blindly; the rerun finds the domain by
// its job tag instead of creating a second one.
func TestCreateDomainNeverDuplicates(t *testing.T) {
	ctx := context.Background()
	em := emulator.New(emulator.Options{})
	srv := httptest.NewServer(&lostResponse{h: em, op: "CreateDomain"})
	t.Cleanup(srv.Close)
	c := testClients(srv.URL)
	p := testPlan("lost", "IAM", 2, 1)
	if _, err := testApplier(c).Apply(ctx, p); errorCode(err) != "InternalFailure" {
		t.Fatalf("Apply with a lost CreateDomain response: %v, want the InternalFailure", err)
	}
	res, err := testApplier(c).Apply(ctx, p)
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	checkApplied(t, c, p, res, "job-1")
	if n := em.Calls("CreateDomain"); n != 1 {
		t.Errorf("%d CreateDomain calls reached the service, want 1", n)
	}
}
