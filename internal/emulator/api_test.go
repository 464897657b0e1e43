package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/identitystore/document"
	idtypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
	"github.com/google/go-cmp/cmp"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// lister reads one page of a List operation as names.
type lister func(ctx context.Context, e *env, token *string, maxResults *int32) (names []string, next *string, err error)

func TestPagination(t *testing.T) {
	const n = 23
	ctx := context.Background()
	// Each case creates n items named item-00.. in one domain and lists them.
	tests := []struct {
		name  string
		setup func(t *testing.T, e *env, domainID string)
		list  lister
	}{
		{"ListDomains", func(t *testing.T, e *env, _ string) {
			for i := 1; i < n; i++ { // the case's own domain is item-00
				e.createDomain(t, iamDomainInput(fmt.Sprintf("item-%02d", i)))
			}
		}, func(ctx context.Context, e *env, tok *string, max *int32) ([]string, *string, error) {
			out, err := e.sm.ListDomains(ctx, &sagemaker.ListDomainsInput{NextToken: tok, MaxResults: max})
			if err != nil {
				return nil, nil, err
			}
			var names []string
			for _, d := range out.Domains {
				names = append(names, aws.ToString(d.DomainName))
			}
			return names, out.NextToken, nil
		}},
		{"ListUserProfiles", func(t *testing.T, e *env, id string) {
			for i := range n {
				e.createProfile(t, id, fmt.Sprintf("item-%02d", i))
			}
		}, func(ctx context.Context, e *env, tok *string, max *int32) ([]string, *string, error) {
			out, err := e.sm.ListUserProfiles(ctx, &sagemaker.ListUserProfilesInput{NextToken: tok, MaxResults: max})
			if err != nil {
				return nil, nil, err
			}
			var names []string
			for _, p := range out.UserProfiles {
				names = append(names, aws.ToString(p.UserProfileName))
			}
			return names, out.NextToken, nil
		}},
		{"ListSpaces", func(t *testing.T, e *env, id string) {
			for i := range n {
				if _, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: &id, SpaceName: aws.String(fmt.Sprintf("item-%02d", i))}); err != nil {
					t.Fatal(err)
				}
			}
		}, func(ctx context.Context, e *env, tok *string, max *int32) ([]string, *string, error) {
			out, err := e.sm.ListSpaces(ctx, &sagemaker.ListSpacesInput{NextToken: tok, MaxResults: max})
			if err != nil {
				return nil, nil, err
			}
			var names []string
			for _, s := range out.Spaces {
				names = append(names, aws.ToString(s.SpaceName))
			}
			return names, out.NextToken, nil
		}},
		{"ListApps", func(t *testing.T, e *env, id string) {
			e.createProfile(t, id, "alice")
			for i := range n {
				if _, err := e.sm.CreateApp(ctx, &sagemaker.CreateAppInput{DomainId: &id, UserProfileName: aws.String("alice"), AppType: smtypes.AppTypeKernelGateway, AppName: aws.String(fmt.Sprintf("item-%02d", i))}); err != nil {
					t.Fatal(err)
				}
			}
		}, func(ctx context.Context, e *env, tok *string, max *int32) ([]string, *string, error) {
			out, err := e.sm.ListApps(ctx, &sagemaker.ListAppsInput{NextToken: tok, MaxResults: max})
			if err != nil {
				return nil, nil, err
			}
			var names []string
			for _, a := range out.Apps {
				names = append(names, aws.ToString(a.AppName))
			}
			return names, out.NextToken, nil
		}},
		{"ListStudioLifecycleConfigs", func(t *testing.T, e *env, _ string) {
			for i := range n {
				if _, err := e.sm.CreateStudioLifecycleConfig(ctx, &sagemaker.CreateStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String(fmt.Sprintf("item-%02d", i)),
					StudioLifecycleConfigAppType: smtypes.StudioLifecycleConfigAppTypeJupyterLab, StudioLifecycleConfigContent: aws.String("ZWNobw==")}); err != nil {
					t.Fatal(err)
				}
			}
		}, func(ctx context.Context, e *env, tok *string, max *int32) ([]string, *string, error) {
			out, err := e.sm.ListStudioLifecycleConfigs(ctx, &sagemaker.ListStudioLifecycleConfigsInput{NextToken: tok, MaxResults: max, SortOrder: smtypes.SortOrderAscending})
			if err != nil {
				return nil, nil, err
			}
			var names []string
			for _, l := range out.StudioLifecycleConfigs {
				names = append(names, aws.ToString(l.StudioLifecycleConfigName))
			}
			return names, out.NextToken, nil
		}},
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("item-%02d", i))
	}
	for _, tc := range tests {
		for _, pc := range []struct {
			max       *int32
			wantSizes []int
		}{
			{nil, []int{10, 10, 3}}, // the service's default page size
			{aws.Int32(7), []int{7, 7, 7, 2}},
			{aws.Int32(100), []int{23}},
		} {
			t.Run(fmt.Sprintf("%s/MaxResults=%v", tc.name, aws.ToInt32(pc.max)), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, emulator.Options{})
				id := e.createDomain(t, iamDomainInput("item-00"))
				tc.setup(t, e, id)
				var got []string
				var sizes []int
				var token *string
				for {
					names, next, err := tc.list(ctx, e, token, pc.max)
					if err != nil {
						t.Fatalf("page %d: %v", len(sizes)+1, err)
					}
					got = append(got, names...)
					sizes = append(sizes, len(names))
					if next == nil {
						break
					}
					token = next
				}
				if d := cmp.Diff(pc.wantSizes, sizes); d != "" {
					t.Errorf("page sizes (-want +got):\n%s", d)
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("items in creation order (-want +got):\n%s", d)
				}
			})
		}
	}
}

func TestPaginationFiltersAndOrder(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	e := newEnv(t, emulator.Options{Now: clock.Now})
	a := e.createDomain(t, iamDomainInput("a"))
	b := e.createDomain(t, iamDomainInput("b"))
	for i := range 12 {
		clock.Advance(time.Second)
		e.createProfile(t, a, fmt.Sprintf("team-%02d", i))
		e.createProfile(t, b, fmt.Sprintf("other-%02d", i))
		if _, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: &a, SpaceName: aws.String(fmt.Sprintf("Shared-%02d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	// The SDK paginator walks every page.
	var names []string
	pg := sagemaker.NewListUserProfilesPaginator(e.sm, &sagemaker.ListUserProfilesInput{
		DomainIdEquals: &a, UserProfileNameContains: aws.String("TEAM-0"), SortOrder: smtypes.SortOrderDescending, MaxResults: aws.Int32(4),
	})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range out.UserProfiles {
			if aws.ToString(p.DomainId) != a {
				t.Errorf("DomainIdEquals %s returned a profile of %s", a, aws.ToString(p.DomainId))
			}
			names = append(names, aws.ToString(p.UserProfileName))
		}
	}
	wantNames := []string{"team-09", "team-08", "team-07", "team-06", "team-05", "team-04", "team-03", "team-02", "team-01", "team-00"}
	if d := cmp.Diff(wantNames, names); d != "" {
		t.Errorf("filtered, newest first (-want +got):\n%s", d)
	}
	spaces, err := e.sm.ListSpaces(ctx, &sagemaker.ListSpacesInput{DomainIdEquals: &b, SpaceNameContains: aws.String("shared")})
	if err != nil || len(spaces.Spaces) != 0 {
		t.Errorf("ListSpaces of domain b = %v, %v; want none", spaces, err)
	}
	spaces, _ = e.sm.ListSpaces(ctx, &sagemaker.ListSpacesInput{SpaceNameContains: aws.String("shared-1"), MaxResults: aws.Int32(100)})
	if len(spaces.Spaces) != 2 {
		t.Errorf("SpaceNameContains shared-1 matched %d spaces, want 2", len(spaces.Spaces))
	}

	// A profile deleted between pages does not shift the next page.
	first, _ := e.sm.ListUserProfiles(ctx, &sagemaker.ListUserProfilesInput{DomainIdEquals: &a, MaxResults: aws.Int32(5)})
	if _, err := e.sm.DeleteUserProfile(ctx, &sagemaker.DeleteUserProfileInput{DomainId: &a, UserProfileName: aws.String("team-00")}); err != nil {
		t.Fatal(err)
	}
	second, _ := e.sm.ListUserProfiles(ctx, &sagemaker.ListUserProfilesInput{DomainIdEquals: &a, MaxResults: aws.Int32(5), NextToken: first.NextToken})
	if got := aws.ToString(second.UserProfiles[0].UserProfileName); got != "team-05" {
		t.Errorf("second page starts at %s after a deletion on the first, want team-05", got)
	}
}

func TestTags(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, emulator.Options{})
	id := e.createDomain(t, iamDomainInput("x"))
	if _, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: &id, UserProfileName: aws.String("alice"),
		Tags: []smtypes.Tag{{Key: aws.String("studiouserid"), Value: aws.String("alice")}}}); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:sagemaker:us-east-1:123456789012:user-profile/" + id + "/alice"
	if _, err := e.sm.AddTags(ctx, &sagemaker.AddTagsInput{ResourceArn: &arn, Tags: []smtypes.Tag{
		{Key: aws.String("studiouserid"), Value: aws.String("alice2")}, {Key: aws.String("team"), Value: aws.String("ml")}, {Key: aws.String("gone"), Value: aws.String("")},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sm.DeleteTags(ctx, &sagemaker.DeleteTagsInput{ResourceArn: &arn, TagKeys: []string{"gone", "never-there"}}); err != nil {
		t.Fatal(err)
	}
	out, err := e.sm.ListTags(ctx, &sagemaker.ListTagsInput{ResourceArn: &arn})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range out.Tags {
		got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if d := cmp.Diff(map[string]string{"studiouserid": "alice2", "team": "ml"}, got); d != "" {
		t.Errorf("tags (-want +got):\n%s", d)
	}
}

func TestThrottling(t *testing.T) {
	t.Parallel()
	const calls = 600
	run := func(seed int64) []bool {
		e := newEnv(t, emulator.Options{ThrottleRate: 0.3, Seed: seed})
		var throttled []bool
		for range calls {
			_, err := e.sm.ListDomains(context.Background(), &sagemaker.ListDomainsInput{})
			switch code := errCode(t, err); code {
			case "":
				throttled = append(throttled, false)
			case "ThrottlingException":
				throttled = append(throttled, true)
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		n := 0
		for _, th := range throttled {
			if th {
				n++
			}
		}
		if got := e.em.Calls("ListDomains"); got != calls-n {
			t.Errorf("Calls(ListDomains) = %d, want %d (non-throttled calls)", got, calls-n)
		}
		share := float64(n) / calls
		if math.Abs(share-0.3) > 0.06 {
			t.Errorf("seed %d: %.3f of calls throttled, want 0.30 ± 0.06", seed, share)
		}
		e.em.SetThrottleRate(0)
		for range 20 {
			if _, err := e.sm.ListDomains(context.Background(), &sagemaker.ListDomainsInput{}); err != nil {
				t.Fatalf("after SetThrottleRate(0): %v", err)
			}
		}
		return throttled
	}
	a, b := run(42), run(42)
	if !cmp.Equal(a, b) {
		t.Error("the same seed throttled different calls")
	}
	if c := run(43); cmp.Equal(a, c) {
		t.Error("seeds 42 and 43 throttled exactly the same calls")
	}
}

// TestThrottlingRetriedBySDK shows the SDK's standard retryer treats the answer as a
// throttle and recovers, so callers see no errors and no duplicates.
func TestThrottlingRetriedBySDK(t *testing.T) {
	t.Parallel()
	em := emulator.New(emulator.Options{ThrottleRate: 0.3, Seed: 1})
	srv := newServer(t, em)
	sm := sagemaker.NewFromConfig(aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(srv), Credentials: credentials.NewStaticCredentialsProvider("x", "y", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 20
				o.MaxBackoff = time.Millisecond
				o.RateLimiter = noLimit{}
			})
		},
	})
	ctx := context.Background()
	out, err := sm.CreateDomain(ctx, iamDomainInput("x"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: out.DomainId, UserProfileName: aws.String(fmt.Sprint("user-", i))})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("CreateUserProfile through throttling: %v", err)
		}
	}
	if got := em.Calls("CreateUserProfile"); got != 40 {
		t.Errorf("Calls(CreateUserProfile) = %d, want 40", got)
	}
	uids := map[string]bool{}
	pg := sagemaker.NewListUserProfilesPaginator(sm, &sagemaker.ListUserProfilesInput{DomainIdEquals: out.DomainId})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.UserProfiles {
			d, err := sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{DomainId: out.DomainId, UserProfileName: p.UserProfileName})
			if err != nil {
				t.Fatal(err)
			}
			uids[aws.ToString(d.HomeEfsFileSystemUid)] = true
		}
	}
	if len(uids) != 40 {
		t.Errorf("%d distinct UIDs among 40 profiles", len(uids))
	}
}

type noLimit struct{}

func (noLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noLimit) AddTokens(uint) error { return nil }

func newServer(t *testing.T, em *emulator.Emulator) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- em.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func TestConcurrentClients(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	ctx := context.Background()
	id := e.createDomain(t, iamDomainInput("busy"))
	var wg sync.WaitGroup
	const workers, each = 16, 10
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				name := fmt.Sprintf("w%02d-%02d", w, i)
				if _, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: &id, UserProfileName: &name}); err != nil {
					t.Error(err)
					return
				}
				if _, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: &id, SpaceName: &name}); err != nil {
					t.Error(err)
					return
				}
				if _, err := e.sm.ListUserProfiles(ctx, &sagemaker.ListUserProfilesInput{DomainIdEquals: &id}); err != nil {
					t.Error(err)
				}
				// Everyone races for the same name; exactly one wins.
				_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: &id, UserProfileName: aws.String(fmt.Sprint("shared-", i))})
				if err != nil && errCode(t, err) != "ResourceInUse" {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	uids := map[string]string{}
	pg := sagemaker.NewListUserProfilesPaginator(e.sm, &sagemaker.ListUserProfilesInput{DomainIdEquals: &id, MaxResults: aws.Int32(100)})
	n := 0
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.UserProfiles {
			n++
			d, _ := e.sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{DomainId: &id, UserProfileName: p.UserProfileName})
			uid := aws.ToString(d.HomeEfsFileSystemUid)
			if other, dup := uids[uid]; dup {
				t.Errorf("UID %s given to %s and %s", uid, other, aws.ToString(p.UserProfileName))
			}
			uids[uid] = aws.ToString(p.UserProfileName)
		}
	}
	if want := workers*each + each; n != want {
		t.Errorf("%d profiles, want %d", n, want)
	}
	if got, want := e.em.Calls("CreateUserProfile"), workers*each*2; got != want {
		t.Errorf("Calls(CreateUserProfile) = %d, want %d", got, want)
	}
}

func TestIdentityCenter(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, emulator.Options{})
	aliceID := e.em.AddIdentityCenterUser("alice")
	if again := e.em.AddIdentityCenterUser("alice"); again != aliceID {
		t.Errorf("adding alice twice gave IDs %s and %s", aliceID, again)
	}
	bobID := e.em.AddIdentityCenterUser("bob")
	store := e.em.IdentityStoreID()

	inst, err := e.sso.ListInstances(ctx, &ssoadmin.ListInstancesInput{})
	if err != nil || len(inst.Instances) != 1 {
		t.Fatalf("ListInstances = %v, %v", inst, err)
	}
	if got := aws.ToString(inst.Instances[0].IdentityStoreId); got != store {
		t.Errorf("instance's identity store %s, want %s", got, store)
	}

	uid, err := e.ids.GetUserId(ctx, &identitystore.GetUserIdInput{IdentityStoreId: &store, AlternateIdentifier: &idtypes.AlternateIdentifierMemberUniqueAttribute{
		Value: idtypes.UniqueAttribute{AttributePath: aws.String("userName"), AttributeValue: document.NewLazyDocument("alice")},
	}})
	if err != nil || aws.ToString(uid.UserId) != aliceID {
		t.Fatalf("GetUserId(alice) = %v, %v; want %s", uid, err, aliceID)
	}
	_, err = e.ids.GetUserId(ctx, &identitystore.GetUserIdInput{IdentityStoreId: &store, AlternateIdentifier: &idtypes.AlternateIdentifierMemberUniqueAttribute{
		Value: idtypes.UniqueAttribute{AttributePath: aws.String("userName"), AttributeValue: document.NewLazyDocument("carol")},
	}})
	var rnf *idtypes.ResourceNotFoundException
	if !errors.As(err, &rnf) || rnf.ResourceType != idtypes.ResourceTypeUser {
		t.Errorf("GetUserId(carol) = %v, want ResourceNotFoundException for a USER", err)
	}
	du, err := e.ids.DescribeUser(ctx, &identitystore.DescribeUserInput{IdentityStoreId: &store, UserId: &bobID})
	if err != nil || aws.ToString(du.UserName) != "bob" {
		t.Errorf("DescribeUser(bob) = %v, %v", du, err)
	}
	lu, err := e.ids.ListUsers(ctx, &identitystore.ListUsersInput{IdentityStoreId: &store, Filters: []idtypes.Filter{{AttributePath: aws.String("UserName"), AttributeValue: aws.String("bob")}}})
	if err != nil || len(lu.Users) != 1 || aws.ToString(lu.Users[0].UserId) != bobID {
		t.Errorf("ListUsers(UserName=bob) = %v, %v", lu, err)
	}

	in := ssoDomainInput("sso")
	in.DomainSettings = &smtypes.DomainSettings{TrustedIdentityPropagationSettings: &smtypes.TrustedIdentityPropagationSettings{Status: smtypes.FeatureStatusEnabled}}
	id := e.createDomain(t, in)
	d, _ := e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
	appArn := aws.ToString(d.SingleSignOnApplicationArn)
	if appArn == "" || d.SingleSignOnManagedApplicationInstanceId == nil {
		t.Fatalf("SSO domain without Identity Center application: %v / %v", d.SingleSignOnApplicationArn, d.SingleSignOnManagedApplicationInstanceId)
	}
	if d.DomainSettings.TrustedIdentityPropagationSettings.Status != smtypes.FeatureStatusEnabled {
		t.Error("trusted identity propagation not kept")
	}
	if _, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: &id, UserProfileName: aws.String("alice"),
		SingleSignOnUserIdentifier: aws.String("UserName"), SingleSignOnUserValue: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	p, _ := e.sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{DomainId: &id, UserProfileName: aws.String("alice")})
	if aws.ToString(p.SingleSignOnUserIdentifier) != "UserName" || aws.ToString(p.SingleSignOnUserValue) != "alice" {
		t.Errorf("profile's Identity Center mapping = %v/%v", aws.ToString(p.SingleSignOnUserIdentifier), aws.ToString(p.SingleSignOnUserValue))
	}
	// A private space is fine on an SSO domain.
	if _, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: &id, SpaceName: aws.String("alice-lab"),
		OwnershipSettings:    &smtypes.OwnershipSettings{OwnerUserProfileName: aws.String("alice")},
		SpaceSharingSettings: &smtypes.SpaceSharingSettings{SharingType: smtypes.SharingTypePrivate}}); err != nil {
		t.Errorf("private space on SSO domain: %v", err)
	}

	app, err := e.sso.DescribeApplication(ctx, &ssoadmin.DescribeApplicationInput{ApplicationArn: &appArn})
	if err != nil || aws.ToString(app.InstanceArn) != aws.ToString(inst.Instances[0].InstanceArn) || app.Status != ssotypes.ApplicationStatusEnabled {
		t.Errorf("DescribeApplication = %+v, %v", app, err)
	}
	assign := func(user string) error {
		_, err := e.sso.CreateApplicationAssignment(ctx, &ssoadmin.CreateApplicationAssignmentInput{ApplicationArn: &appArn, PrincipalId: &user, PrincipalType: ssotypes.PrincipalTypeUser})
		return err
	}
	for _, u := range []string{aliceID, bobID} {
		if err := assign(u); err != nil {
			t.Fatalf("assigning %s: %v", u, err)
		}
	}
	if code := errCode(t, assign(aliceID)); code != "ConflictException" {
		t.Errorf("assigning alice twice: %q, want ConflictException", code)
	}
	if code := errCode(t, assign("0000000000-00000000-0000-0000-0000-000000000000")); code != "ResourceNotFoundException" {
		t.Errorf("assigning an unknown user: %q, want ResourceNotFoundException", code)
	}
	if _, err := e.sso.DeleteApplicationAssignment(ctx, &ssoadmin.DeleteApplicationAssignmentInput{ApplicationArn: &appArn, PrincipalId: &bobID, PrincipalType: ssotypes.PrincipalTypeUser}); err != nil {
		t.Fatal(err)
	}
	var assigned []string
	pg := ssoadmin.NewListApplicationAssignmentsPaginator(e.sso, &ssoadmin.ListApplicationAssignmentsInput{ApplicationArn: &appArn})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.ApplicationAssignments {
			assigned = append(assigned, aws.ToString(a.PrincipalId))
		}
	}
	if d := cmp.Diff([]string{aliceID}, assigned); d != "" {
		t.Errorf("assignments (-want +got):\n%s", d)
	}
	_, err = e.sso.DescribeApplication(ctx, &ssoadmin.DescribeApplicationInput{ApplicationArn: aws.String("arn:aws:sso::123456789012:application/ssoins-0000000000000000/apl-0000000000000000")})
	if code := errCode(t, err); code != "ResourceNotFoundException" {
		t.Errorf("DescribeApplication of unknown ARN: %q", code)
	}
}

func TestWireFormat(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	for _, tc := range []struct {
		name       string
		target     string
		header     map[string]string
		body       any
		wantStatus int
		wantType   string
	}{
		{"unknown SageMaker operation", "SageMaker.CreateTrainingJob", nil, map[string]any{}, 400, "com.amazon.coral.service#UnknownOperationException"},
		{"unknown service", "DynamoDB_20120810.ListTables", nil, map[string]any{}, 400, "com.amazon.coral.service#UnknownOperationException"},
		{"no target", "", nil, map[string]any{}, 400, "com.amazon.coral.service#UnknownOperationException"},
		{"unsigned", "SageMaker.ListDomains", map[string]string{"Authorization": ""}, map[string]any{}, 400, "MissingAuthenticationTokenException"},
		{"wrong member type", "SageMaker.ListDomains", nil, map[string]any{"MaxResults": "ten"}, 400, "SerializationException"},
		{"error shape", "SageMaker.DescribeDomain", nil, map[string]any{"DomainId": "d-000000000000"}, 400, "ResourceNotFound"},
		{"success", "SageMaker.ListDomains", nil, map[string]any{}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, out := rawCall(t, e.url, tc.target, tc.body, tc.header)
			if status != tc.wantStatus {
				t.Errorf("HTTP %d, want %d (%v)", status, tc.wantStatus, out)
			}
			if ct := h.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
				t.Errorf("Content-Type %q", ct)
			}
			if h.Get("X-Amzn-Requestid") == "" {
				t.Error("no x-amzn-RequestId header")
			}
			if tc.wantType == "" {
				return
			}
			if out["__type"] != tc.wantType || h.Get("X-Amzn-ErrorType") != tc.wantType {
				t.Errorf("__type %v, X-Amzn-ErrorType %q; want %s", out["__type"], h.Get("X-Amzn-ErrorType"), tc.wantType)
			}
		})
	}
	// Timestamps are epoch seconds as JSON numbers.
	if _, _, out := rawCall(t, e.url, "SageMaker.CreateDomain", map[string]any{"DomainName": "wire", "AuthMode": "IAM", "VpcId": "vpc-0123456789abcdef0", "SubnetIds": []string{"subnet-0123456789abcdef0"}, "DefaultUserSettings": map[string]any{"ExecutionRole": testRole}}, nil); out["DomainId"] == nil {
		t.Fatalf("CreateDomain = %v", out)
	}
	_, _, out := rawCall(t, e.url, "SageMaker.ListDomains", map[string]any{}, nil)
	ct, ok := out["Domains"].([]any)[0].(map[string]any)["CreationTime"].(float64)
	if !ok || ct < 1e9 || ct > 1e10 {
		t.Errorf("CreationTime %v is not epoch seconds", out["Domains"])
	}
	if _, err := http.Get(e.url); err != nil {
		t.Errorf("GET /: %v", err)
	}
}

func TestSeedMakesIDsReproducible(t *testing.T) {
	ids := func(seed int64) []string {
		e := newEnv(t, emulator.Options{Seed: seed})
		id := e.createDomain(t, iamDomainInput("x"))
		d, _ := e.sm.DescribeDomain(context.Background(), &sagemaker.DescribeDomainInput{DomainId: &id})
		return []string{id, aws.ToString(d.HomeEfsFileSystemId), e.em.IdentityStoreID(), e.em.AddIdentityCenterUser("alice")}
	}
	if a, b := ids(5), ids(5); !cmp.Equal(a, b) {
		t.Errorf("seed 5 gave %v and %v", a, b)
	}
	if a, b := ids(5), ids(6); cmp.Equal(a, b) {
		t.Errorf("seeds 5 and 6 both gave %v", a)
	}
}

// UIDs sort numerically in creation order; callers still must read them.
func TestUIDsCountUp(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	id := e.createDomain(t, iamDomainInput("x"))
	var got []int
	for i := range 3 {
		n, _ := strconv.Atoi(aws.ToString(e.createProfile(t, id, fmt.Sprint("u", i)).HomeEfsFileSystemUid))
		got = append(got, n)
	}
	if !sort.IntsAreSorted(got) || got[0] != emulator.FirstUID {
		t.Errorf("UIDs %v, want increasing from %d", got, emulator.FirstUID)
	}
}
