//go:build linux

package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/google/go-cmp/cmp"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// asJSON renders an SDK structure as generic JSON so structures can be compared
// without reaching into the SDK's unexported fields.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDomainLifecycle(t *testing.T) {
	clock := newClock()
	root := t.TempDir()
	e := newEnv(t, emulator.Options{ReadyAfter: time.Minute, Now: clock.Now, EFSRoot: root, Seed: 7})
	ctx := context.Background()

	in := iamDomainInput("studio-main")
	in.AppNetworkAccessType = smtypes.AppNetworkAccessTypeVpcOnly
	in.AppSecurityGroupManagement = smtypes.AppSecurityGroupManagementCustomer
	in.KmsKeyId = aws.String("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	in.TagPropagation = smtypes.TagPropagationEnabled
	in.Tags = []smtypes.Tag{{Key: aws.String("team"), Value: aws.String("ml")}}
	in.DefaultUserSettings = &smtypes.UserSettings{
		ExecutionRole:  aws.String(testRole),
		SecurityGroups: []string{"sg-0123456789abcdef0"},
		JupyterServerAppSettings: &smtypes.JupyterServerAppSettings{
			DefaultResourceSpec: &smtypes.ResourceSpec{InstanceType: smtypes.AppInstanceTypeSystem},
			LifecycleConfigArns: []string{"arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/backup"},
		},
		SharingSettings: &smtypes.SharingSettings{NotebookOutputOption: smtypes.NotebookOutputOptionDisabled},
		StudioWebPortal: smtypes.StudioWebPortalEnabled,
	}
	in.DefaultSpaceSettings = &smtypes.DefaultSpaceSettings{ExecutionRole: aws.String(testRole)}
	in.DomainSettings = &smtypes.DomainSettings{
		SecurityGroupIds:            []string{"sg-0fedcba9876543210"},
		ExecutionRoleIdentityConfig: smtypes.ExecutionRoleIdentityConfigUserProfileName,
	}
	created, err := e.sm.CreateDomain(ctx, in)
	if err != nil {
		t.Fatalf("creating domain: %v", err)
	}
	id := aws.ToString(created.DomainId)
	if !regexp.MustCompile(`^d-[a-z0-9]{12}$`).MatchString(id) {
		t.Errorf("DomainId %q is not d- and 12 lowercase alphanumerics", id)
	}
	if want := "arn:aws:sagemaker:us-east-1:123456789012:domain/" + id; aws.ToString(created.DomainArn) != want {
		t.Errorf("DomainArn = %q, want %q", aws.ToString(created.DomainArn), want)
	}
	if want := "https://" + id + ".studio.us-east-1.sagemaker.aws"; aws.ToString(created.Url) != want {
		t.Errorf("Url = %q, want %q", aws.ToString(created.Url), want)
	}

	desc, err := e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
	if err != nil {
		t.Fatalf("describing domain: %v", err)
	}
	if desc.Status != smtypes.DomainStatusPending {
		t.Errorf("status right after create = %s, want Pending", desc.Status)
	}
	if !desc.CreationTime.Equal(clock.Now()) {
		t.Errorf("CreationTime = %v, want %v", desc.CreationTime, clock.Now())
	}
	fsID := aws.ToString(desc.HomeEfsFileSystemId)
	if !regexp.MustCompile(`^fs-[0-9a-f]{17}$`).MatchString(fsID) {
		t.Errorf("HomeEfsFileSystemId %q is not fs- and 17 hex digits", fsID)
	}
	if desc.SingleSignOnApplicationArn != nil || desc.SingleSignOnManagedApplicationInstanceId != nil {
		t.Errorf("IAM domain has Identity Center application %v / %v", desc.SingleSignOnApplicationArn, desc.SingleSignOnManagedApplicationInstanceId)
	}
	// What went in comes back.
	for _, c := range []struct {
		name    string
		in, out any
	}{
		{"DefaultUserSettings", in.DefaultUserSettings, desc.DefaultUserSettings},
		{"DefaultSpaceSettings", in.DefaultSpaceSettings, desc.DefaultSpaceSettings},
		{"DomainSettings", in.DomainSettings, desc.DomainSettings},
		{"scalars", []any{in.DomainName, in.AuthMode, in.VpcId, in.SubnetIds, in.KmsKeyId, in.AppNetworkAccessType, in.AppSecurityGroupManagement, in.TagPropagation},
			[]any{desc.DomainName, desc.AuthMode, desc.VpcId, desc.SubnetIds, desc.KmsKeyId, desc.AppNetworkAccessType, desc.AppSecurityGroupManagement, desc.TagPropagation}},
	} {
		if d := cmp.Diff(asJSON(t, c.in), asJSON(t, c.out)); d != "" {
			t.Errorf("%s changed between CreateDomain and DescribeDomain (-in +out):\n%s", c.name, d)
		}
	}
	if desc.SecurityGroupIdForDomainBoundary == nil {
		t.Error("VpcOnly domain has no SecurityGroupIdForDomainBoundary")
	}
	if fi, err := os.Stat(filepath.Join(root, fsID)); err != nil || !fi.IsDir() {
		t.Errorf("home EFS directory for %s: %v", fsID, err)
	}

	// Nothing can be created in a Pending domain.
	_, err = e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: &id, UserProfileName: aws.String("alice")})
	if got := errCode(t, err); got != "ResourceInUse" {
		t.Errorf("CreateUserProfile in a Pending domain: code %q, want ResourceInUse (%v)", got, err)
	}

	clock.Advance(time.Minute)
	desc, _ = e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
	if desc.Status != smtypes.DomainStatusInService {
		t.Fatalf("status after ReadyAfter = %s, want InService", desc.Status)
	}

	// UpdateDomain: Updating, then InService with the members merged.
	_, err = e.sm.UpdateDomain(ctx, &sagemaker.UpdateDomainInput{
		DomainId:            &id,
		DefaultUserSettings: &smtypes.UserSettings{SecurityGroups: []string{"sg-0aaaaaaaaaaaaaaaa"}},
		DomainSettingsForUpdate: &smtypes.DomainSettingsForUpdate{
			ExecutionRoleIdentityConfig: smtypes.ExecutionRoleIdentityConfigDisabled,
		},
	})
	if err != nil {
		t.Fatalf("updating domain: %v", err)
	}
	desc, _ = e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
	if desc.Status != smtypes.DomainStatusUpdating {
		t.Errorf("status after update = %s, want Updating", desc.Status)
	}
	_, err = e.sm.UpdateDomain(ctx, &sagemaker.UpdateDomainInput{DomainId: &id})
	if got := errCode(t, err); got != "ResourceInUse" {
		t.Errorf("UpdateDomain while Updating: code %q, want ResourceInUse", got)
	}
	clock.Advance(time.Minute)
	desc, _ = e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
	if desc.Status != smtypes.DomainStatusInService {
		t.Errorf("status after update settled = %s, want InService", desc.Status)
	}
	if got := desc.DefaultUserSettings; aws.ToString(got.ExecutionRole) != testRole || !cmp.Equal(got.SecurityGroups, []string{"sg-0aaaaaaaaaaaaaaaa"}) {
		t.Errorf("DefaultUserSettings after update: role %v, security groups %v", aws.ToString(got.ExecutionRole), got.SecurityGroups)
	}
	if got := desc.DomainSettings; got.ExecutionRoleIdentityConfig != smtypes.ExecutionRoleIdentityConfigDisabled || !cmp.Equal(got.SecurityGroupIds, []string{"sg-0fedcba9876543210"}) {
		t.Errorf("DomainSettings after update = %+v", got)
	}
	if !desc.LastModifiedTime.After(*desc.CreationTime) {
		t.Errorf("LastModifiedTime %v not after CreationTime %v", desc.LastModifiedTime, desc.CreationTime)
	}

	// DeleteDomain, retaining the EFS (the default).
	if _, err := e.sm.DeleteDomain(ctx, &sagemaker.DeleteDomainInput{DomainId: &id}); err != nil {
		t.Fatalf("deleting domain: %v", err)
	}
	desc, _ = e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
	if desc.Status != smtypes.DomainStatusDeleting {
		t.Errorf("status after delete = %s, want Deleting", desc.Status)
	}
	clock.Advance(time.Minute)
	_, err = e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
	var nf *smtypes.ResourceNotFound
	if !errors.As(err, &nf) {
		t.Errorf("DescribeDomain after delete: %v, want *types.ResourceNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(root, fsID)); err != nil {
		t.Errorf("retained home EFS is gone: %v", err)
	}
	if _, err := e.sm.ListTags(ctx, &sagemaker.ListTagsInput{ResourceArn: created.DomainArn}); errCode(t, err) != "ResourceNotFound" {
		t.Errorf("ListTags of a deleted domain: %v, want ResourceNotFound", err)
	}
}

func TestDeleteDomainRetentionDelete(t *testing.T) {
	root := t.TempDir()
	e := newEnv(t, emulator.Options{EFSRoot: root})
	ctx := context.Background()
	id := e.createDomain(t, iamDomainInput("gone"))
	p := e.createProfile(t, id, "alice")
	desc, _ := e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
	fsDir := filepath.Join(root, aws.ToString(desc.HomeEfsFileSystemId))

	_, err := e.sm.DeleteDomain(ctx, &sagemaker.DeleteDomainInput{DomainId: &id, RetentionPolicy: &smtypes.RetentionPolicy{HomeEfsFileSystem: smtypes.RetentionTypeDelete}})
	if got := errCode(t, err); got != "ResourceInUse" {
		t.Fatalf("DeleteDomain with a profile left: code %q, want ResourceInUse", got)
	}
	if _, err := e.sm.DeleteUserProfile(ctx, &sagemaker.DeleteUserProfileInput{DomainId: &id, UserProfileName: p.UserProfileName}); err != nil {
		t.Fatal(err)
	}
	_, err = e.sm.DeleteDomain(ctx, &sagemaker.DeleteDomainInput{DomainId: &id, RetentionPolicy: &smtypes.RetentionPolicy{HomeEfsFileSystem: smtypes.RetentionTypeDelete}})
	if err != nil {
		t.Fatalf("deleting domain: %v", err)
	}
	if _, err := e.sm.ListDomains(ctx, &sagemaker.ListDomainsInput{}); err != nil { // a read settles the delete
		t.Fatal(err)
	}
	if _, err := os.Stat(fsDir); !os.IsNotExist(err) {
		t.Errorf("home EFS %s after DeleteDomain with HomeEfsFileSystem=Delete: %v, want it gone", fsDir, err)
	}
}

func TestHomeDirectories(t *testing.T) {
	f := false
	for _, tc := range []struct {
		name            string
		homeDirOnCreate *bool
		wantAfterCreate bool
	}{
		{"on create (default)", nil, true},
		{"on first app (Studio Classic)", &f, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			e := newEnv(t, emulator.Options{EFSRoot: root, HomeDirOnCreate: tc.homeDirOnCreate})
			ctx := context.Background()
			id := e.createDomain(t, iamDomainInput("homes"))
			desc, _ := e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
			fs := aws.ToString(desc.HomeEfsFileSystemId)

			seen := map[string]bool{}
			var uids []string
			for _, n := range []string{"alice", "bob"} {
				p := e.createProfile(t, id, n)
				uids = append(uids, aws.ToString(p.HomeEfsFileSystemUid))
			}
			if _, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: &id, SpaceName: aws.String("team")}); err != nil {
				t.Fatal(err)
			}
			sp, err := e.sm.DescribeSpace(ctx, &sagemaker.DescribeSpaceInput{DomainId: &id, SpaceName: aws.String("team")})
			if err != nil {
				t.Fatal(err)
			}
			uids = append(uids, aws.ToString(sp.HomeEfsFileSystemUid))
			for _, uid := range uids {
				n, err := strconv.Atoi(uid)
				if err != nil || n < 200000 || n > 299999 {
					t.Errorf("HomeEfsFileSystemUid %q is not a number in the 200000 range", uid)
				}
				if seen[uid] {
					t.Errorf("HomeEfsFileSystemUid %s handed out twice", uid)
				}
				seen[uid] = true
				_, err = os.Stat(filepath.Join(root, fs, uid))
				if exists := err == nil; exists != tc.wantAfterCreate {
					t.Errorf("home %s exists after create = %v, want %v", uid, exists, tc.wantAfterCreate)
				}
			}

			if _, err := e.sm.CreateApp(ctx, &sagemaker.CreateAppInput{DomainId: &id, UserProfileName: aws.String("alice"), AppType: smtypes.AppTypeJupyterServer, AppName: aws.String("default")}); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, fs, uids[0])
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatalf("alice's home after her first app: %v", err)
			}
			if fi.Mode().Perm() != 0o755 || !fi.IsDir() {
				t.Errorf("home mode = %v, want drwxr-xr-x", fi.Mode())
			}
			if os.Geteuid() == 0 {
				st := fi.Sys().(*syscall.Stat_t)
				if strconv.Itoa(int(st.Uid)) != uids[0] || st.Gid != emulator.HomeGID {
					t.Errorf("home owned by %d:%d, want %s:%d", st.Uid, st.Gid, uids[0], emulator.HomeGID)
				}
			}
		})
	}

	// UIDs are never reused, not even by a new domain.
	e := newEnv(t, emulator.Options{})
	a := e.createProfile(t, e.createDomain(t, iamDomainInput("one")), "alice")
	b := e.createProfile(t, e.createDomain(t, iamDomainInput("two")), "alice")
	if aws.ToString(a.HomeEfsFileSystemUid) == aws.ToString(b.HomeEfsFileSystemUid) {
		t.Errorf("profiles in two domains share UID %s", aws.ToString(a.HomeEfsFileSystemUid))
	}
}

func TestProfileSpaceAppLifecycle(t *testing.T) {
	clock := newClock()
	e := newEnv(t, emulator.Options{ReadyAfter: 30 * time.Second, Now: clock.Now})
	ctx := context.Background()
	id := e.createDomain(t, iamDomainInput("apps"))
	clock.Advance(30 * time.Second)

	us := &smtypes.UserSettings{
		ExecutionRole:         aws.String("arn:aws:iam::123456789012:role/alice"),
		JupyterLabAppSettings: &smtypes.JupyterLabAppSettings{DefaultResourceSpec: &smtypes.ResourceSpec{InstanceType: smtypes.AppInstanceTypeMlT3Medium}},
	}
	if _, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: &id, UserProfileName: aws.String("alice"), UserSettings: us}); err != nil {
		t.Fatal(err)
	}
	p, _ := e.sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{DomainId: &id, UserProfileName: aws.String("alice")})
	if p.Status != smtypes.UserProfileStatusPending {
		t.Errorf("profile status = %s, want Pending", p.Status)
	}
	if d := cmp.Diff(asJSON(t, us), asJSON(t, p.UserSettings)); d != "" {
		t.Errorf("UserSettings round trip (-in +out):\n%s", d)
	}
	// A private space needs its owner InService.
	spaceIn := &sagemaker.CreateSpaceInput{
		DomainId: &id, SpaceName: aws.String("alice-lab"), SpaceDisplayName: aws.String("Alice's lab"),
		OwnershipSettings:    &smtypes.OwnershipSettings{OwnerUserProfileName: aws.String("alice")},
		SpaceSharingSettings: &smtypes.SpaceSharingSettings{SharingType: smtypes.SharingTypePrivate},
		SpaceSettings: &smtypes.SpaceSettings{
			AppType:              smtypes.AppTypeJupyterLab,
			SpaceStorageSettings: &smtypes.SpaceStorageSettings{EbsStorageSettings: &smtypes.EbsStorageSettings{EbsVolumeSizeInGb: aws.Int32(20)}},
		},
	}
	if _, err := e.sm.CreateSpace(ctx, spaceIn); errCode(t, err) != "ResourceInUse" {
		t.Errorf("CreateSpace owned by a Pending profile: %v, want ResourceInUse", err)
	}
	clock.Advance(30 * time.Second)
	if _, err := e.sm.CreateSpace(ctx, spaceIn); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Second)
	sp, err := e.sm.DescribeSpace(ctx, &sagemaker.DescribeSpaceInput{DomainId: &id, SpaceName: spaceIn.SpaceName})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(asJSON(t, []any{spaceIn.SpaceSettings, spaceIn.OwnershipSettings, spaceIn.SpaceSharingSettings, spaceIn.SpaceDisplayName}),
		asJSON(t, []any{sp.SpaceSettings, sp.OwnershipSettings, sp.SpaceSharingSettings, sp.SpaceDisplayName})); d != "" {
		t.Errorf("space settings round trip (-in +out):\n%s", d)
	}
	if want := "arn:aws:sagemaker:us-east-1:123456789012:space/" + id + "/alice-lab"; aws.ToString(sp.SpaceArn) != want {
		t.Errorf("SpaceArn = %s, want %s", aws.ToString(sp.SpaceArn), want)
	}
	list, err := e.sm.ListSpaces(ctx, &sagemaker.ListSpacesInput{DomainIdEquals: &id})
	if err != nil || len(list.Spaces) != 1 {
		t.Fatalf("ListSpaces = %+v, %v", list, err)
	}
	got := list.Spaces[0]
	if got.SpaceSettingsSummary == nil || got.SpaceSettingsSummary.AppType != smtypes.AppTypeJupyterLab ||
		aws.ToString(got.OwnershipSettingsSummary.OwnerUserProfileName) != "alice" ||
		got.SpaceSharingSettingsSummary.SharingType != smtypes.SharingTypePrivate ||
		aws.ToInt32(got.SpaceSettingsSummary.SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb) != 20 {
		t.Errorf("ListSpaces summary = %+v", asJSON(t, got))
	}

	// An app holds its profile.
	appIn := &sagemaker.CreateAppInput{DomainId: &id, UserProfileName: aws.String("alice"), AppType: smtypes.AppTypeJupyterServer, AppName: aws.String("default")}
	appOut, err := e.sm.CreateApp(ctx, appIn)
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:sagemaker:us-east-1:123456789012:app/" + id + "/alice/jupyterserver/default"; aws.ToString(appOut.AppArn) != want {
		t.Errorf("AppArn = %s, want %s", aws.ToString(appOut.AppArn), want)
	}
	if _, err := e.sm.CreateApp(ctx, appIn); errCode(t, err) != "ResourceInUse" {
		t.Errorf("creating the same app twice: %v, want ResourceInUse", err)
	}
	spaceApp := &sagemaker.CreateAppInput{DomainId: &id, SpaceName: spaceIn.SpaceName, AppType: smtypes.AppTypeJupyterLab, AppName: aws.String("default")}
	if _, err := e.sm.CreateApp(ctx, spaceApp); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Second)
	if _, err := e.sm.DeleteUserProfile(ctx, &sagemaker.DeleteUserProfileInput{DomainId: &id, UserProfileName: aws.String("alice")}); errCode(t, err) != "ResourceInUse" {
		t.Errorf("DeleteUserProfile with an app: %v, want ResourceInUse", err)
	}
	if _, err := e.sm.DeleteSpace(ctx, &sagemaker.DeleteSpaceInput{DomainId: &id, SpaceName: spaceIn.SpaceName}); errCode(t, err) != "ResourceInUse" {
		t.Errorf("DeleteSpace with an app: %v, want ResourceInUse", err)
	}
	for _, a := range []*sagemaker.CreateAppInput{appIn, spaceApp} {
		if _, err := e.sm.DeleteApp(ctx, &sagemaker.DeleteAppInput{DomainId: &id, UserProfileName: a.UserProfileName, SpaceName: a.SpaceName, AppType: a.AppType, AppName: a.AppName}); err != nil {
			t.Fatal(err)
		}
	}
	da, _ := e.sm.DescribeApp(ctx, &sagemaker.DescribeAppInput{DomainId: &id, UserProfileName: aws.String("alice"), AppType: smtypes.AppTypeJupyterServer, AppName: aws.String("default")})
	if da.Status != smtypes.AppStatusDeleting {
		t.Errorf("app status after delete = %s, want Deleting", da.Status)
	}
	clock.Advance(30 * time.Second)
	apps, err := e.sm.ListApps(ctx, &sagemaker.ListAppsInput{DomainIdEquals: &id, UserProfileNameEquals: aws.String("alice")})
	if err != nil || len(apps.Apps) != 1 || apps.Apps[0].Status != smtypes.AppStatusDeleted {
		t.Fatalf("ListApps after delete = %+v, %v; want alice's app listed as Deleted", asJSON(t, apps), err)
	}

	// Now the space goes, then the profile (it owned the space), then the domain.
	if _, err := e.sm.DeleteUserProfile(ctx, &sagemaker.DeleteUserProfileInput{DomainId: &id, UserProfileName: aws.String("alice")}); errCode(t, err) != "ResourceInUse" {
		t.Errorf("DeleteUserProfile owning a space: %v, want ResourceInUse", err)
	}
	if _, err := e.sm.DeleteSpace(ctx, &sagemaker.DeleteSpaceInput{DomainId: &id, SpaceName: spaceIn.SpaceName}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sm.DeleteDomain(ctx, &sagemaker.DeleteDomainInput{DomainId: &id}); errCode(t, err) != "ResourceInUse" {
		t.Errorf("DeleteDomain with profile and (Deleting) space: %v, want ResourceInUse", err)
	}
	clock.Advance(30 * time.Second)
	if _, err := e.sm.DeleteUserProfile(ctx, &sagemaker.DeleteUserProfileInput{DomainId: &id, UserProfileName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Second)
	if _, err := e.sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{DomainId: &id, UserProfileName: aws.String("alice")}); errCode(t, err) != "ResourceNotFound" {
		t.Errorf("DescribeUserProfile after delete: %v, want ResourceNotFound", err)
	}
	if _, err := e.sm.DeleteDomain(ctx, &sagemaker.DeleteDomainInput{DomainId: &id}); err != nil {
		t.Errorf("DeleteDomain once empty: %v", err)
	}
}

func TestFailNext(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	ctx := context.Background()
	e.em.FailNext("Domain", "broken", "The VPC has no free IP addresses")
	e.em.FailNext("UserProfile", "bob", "Execution role cannot be assumed")
	e.em.FailNext("Space", "shared", "EFS is unreachable")
	e.em.FailNext("App", "default", "Insufficient capacity")

	bad := e.createDomain(t, iamDomainInput("broken"))
	d, _ := e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &bad})
	if d.Status != smtypes.DomainStatusFailed || aws.ToString(d.FailureReason) != "The VPC has no free IP addresses" {
		t.Errorf("domain: %s %q, want Failed with the reason", d.Status, aws.ToString(d.FailureReason))
	}
	// Only the next one fails.
	good := e.createDomain(t, iamDomainInput("broken"))
	if d, _ := e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &good}); d.Status != smtypes.DomainStatusInService || d.FailureReason != nil {
		t.Errorf("second domain of that name: %s %v, want InService", d.Status, d.FailureReason)
	}
	if p := e.createProfile(t, good, "bob"); p.Status != smtypes.UserProfileStatusFailed || aws.ToString(p.FailureReason) != "Execution role cannot be assumed" {
		t.Errorf("profile: %s %q", p.Status, aws.ToString(p.FailureReason))
	}
	e.createProfile(t, good, "carol")
	if _, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: &good, SpaceName: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.sm.DescribeSpace(ctx, &sagemaker.DescribeSpaceInput{DomainId: &good, SpaceName: aws.String("shared")}); s.Status != smtypes.SpaceStatusFailed || aws.ToString(s.FailureReason) != "EFS is unreachable" {
		t.Errorf("space: %s %q", s.Status, aws.ToString(s.FailureReason))
	}
	app := &sagemaker.CreateAppInput{DomainId: &good, UserProfileName: aws.String("carol"), AppType: smtypes.AppTypeJupyterServer, AppName: aws.String("default")}
	if _, err := e.sm.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	a, _ := e.sm.DescribeApp(ctx, &sagemaker.DescribeAppInput{DomainId: &good, UserProfileName: app.UserProfileName, AppType: app.AppType, AppName: app.AppName})
	if a.Status != smtypes.AppStatusFailed || aws.ToString(a.FailureReason) != "Insufficient capacity" {
		t.Errorf("app: %s %q", a.Status, aws.ToString(a.FailureReason))
	}
	// A Failed resource can be deleted.
	if _, err := e.sm.DeleteUserProfile(ctx, &sagemaker.DeleteUserProfileInput{DomainId: &good, UserProfileName: aws.String("bob")}); err != nil {
		t.Errorf("deleting a Failed profile: %v", err)
	}
	if _, err := e.sm.DeleteDomain(ctx, &sagemaker.DeleteDomainInput{DomainId: &bad}); err != nil {
		t.Errorf("deleting a Failed domain: %v", err)
	}
}
