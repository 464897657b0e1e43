package studio

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/google/go-cmp/cmp"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// TestRoundTrip is the whole control plane end to end: build an IAM domain with 300
// profiles and 40 spaces and an Identity Center domain with trusted identity
// propagation in emulator A; snapshot each, plan it under a new name, apply the plan
// on a fresh emulator B; a snapshot of B's new domain must equal A's in everything but
// identity (IDs, ARNs, UIDs, the name, the job tag), the UID map must be complete and
// read from B, and applying again must create nothing.
func TestRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("large domains")
	}
	ctx := context.Background()
	emA, cA := newTestEnv(t, emulator.Options{Seed: 1})
	emB, cB := newTestEnv(t, emulator.Options{Seed: 2})

	// A builds the SSO domain first and B last, so the same name gets a different
	// UID in A and in B (the emulator numbers UIDs across domains, from 200001) and a
	// map that copied the old UIDs would be caught.
	// The every-setting domain goes first in A and last in B, for the same reason.
	everyID := buildEverySettingDomain(t, cA)
	const nSSO = 10
	for i := range nSSO {
		user := fmt.Sprintf("person%02d@example.com", i)
		emA.AddIdentityCenterUser(user)
		emB.AddIdentityCenterUser(user)
	}
	ssoID := createDomain(t, cA, &sagemaker.CreateDomainInput{
		DomainName: aws.String("sso-studio"), AuthMode: smtypes.AuthModeSso,
		VpcId: aws.String(testVPC), SubnetIds: []string{"subnet-0123456789abcdef0"},
		Tags: smTags("env", "prod"),
	}, map[string]json.RawMessage{
		"DefaultUserSettings":  json.RawMessage(`{"ExecutionRole":"` + role("SSODefault") + `","StudioWebPortal":"ENABLED"}`),
		"DefaultSpaceSettings": json.RawMessage(`{"ExecutionRole":"` + role("SSOSpaces") + `"}`),
		"DomainSettings":       json.RawMessage(`{"ExecutionRoleIdentityConfig":"USER_PROFILE_NAME","TrustedIdentityPropagationSettings":{"Status":"ENABLED"}}`),
	})
	for i := range nSSO {
		name := fmt.Sprintf("person-%02d", i)
		settings := ""
		if i%2 == 0 {
			settings = `{"ExecutionRole":"` + role("Exec-"+name) + `"}`
		}
		createProfile(t, cA, ssoID, name, settings, smTags("studiouserid", name), fmt.Sprintf("person%02d@example.com", i))
		createSpace(t, cA, ssoID, name+"-lab", name, "Private", `{"AppType":"JupyterLab"}`, smTags("owner", name))
	}

	const nProfiles, nSpaces = 300, 40
	iamID := createDomain(t, cA, &sagemaker.CreateDomainInput{
		DomainName: aws.String("research"), AuthMode: smtypes.AuthModeIam,
		VpcId: aws.String(testVPC), SubnetIds: []string{"subnet-0123456789abcdef0", "subnet-0fedcba9876543210"},
		AppNetworkAccessType: smtypes.AppNetworkAccessTypeVpcOnly,
		KmsKeyId:             aws.String("arn:aws:kms:us-east-1:" + testAccount + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"),
		TagPropagation:       smtypes.TagPropagationEnabled,
		Tags:                 smTags("team", "research", "cost-center", "42"),
	}, map[string]json.RawMessage{
		"DefaultUserSettings":  json.RawMessage(`{"ExecutionRole":"` + role("StudioDefault") + `","SecurityGroups":["sg-0aaaaaaaaaaaaaaa1"],"FutureMember":{"Answer":42}}`),
		"DefaultSpaceSettings": json.RawMessage(`{"ExecutionRole":"` + role("StudioSpaces") + `","SecurityGroups":["sg-0aaaaaaaaaaaaaaa1"]}`),
		"DomainSettings":       json.RawMessage(`{"SecurityGroupIds":["sg-0bbbbbbbbbbbbbbb2"],"DockerSettings":{"EnableDockerAccess":"ENABLED"}}`),
	})
	for i := range nProfiles {
		name := fmt.Sprintf("user-%03d", i)
		settings := ""
		if i%3 != 0 {
			settings = `{"ExecutionRole":"` + role("Exec-"+name) + `","SecurityGroups":["sg-0aaaaaaaaaaaaaaa1"],"FutureMember":"p` + fmt.Sprint(i) + `"}`
		}
		createProfile(t, cA, iamID, name, settings, smTags("studiouserid", name, "index", fmt.Sprint(i)), "")
	}
	for i := range nSpaces {
		owner := fmt.Sprintf("user-%03d", i*7)
		sharing, settings := "Private", `{"AppType":"JupyterLab","SpaceStorageSettings":{"EbsStorageSettings":{"EbsVolumeSizeInGb":10}}}`
		if i%4 == 0 {
			sharing, settings = "Shared", `{"AppType":"CodeEditor","FutureSpaceMember":[1,2]}`
		}
		createSpace(t, cA, iamID, fmt.Sprintf("space-%02d", i), owner, sharing, settings, smTags("owner", owner))
	}

	for _, tc := range []struct {
		oldID, newName   string
		profiles, spaces int
		assigned         int
	}{
		{iamID, "research-v2", nProfiles, nSpaces, 0},
		{ssoID, "sso-studio-v2", nSSO, nSSO, nSSO},
		{everyID, "every-setting-v2", 2, 2, 0},
	} {
		t.Run(tc.newName, func(t *testing.T) {
			old, err := TakeSnapshot(ctx, cA, tc.oldID, SnapshotOptions{Concurrency: 8})
			if err != nil {
				t.Fatal(err)
			}
			if len(old.UserProfiles) != tc.profiles || len(old.Spaces) != tc.spaces {
				t.Fatalf("old snapshot has %d profiles and %d spaces, want %d and %d", len(old.UserProfiles), len(old.Spaces), tc.profiles, tc.spaces)
			}
			if tc.oldID == everyID {
				// The snapshot keeps every block (a block it dropped would be equally
				// absent from both sides of the comparison below).
				if old.Domain.HomeEfsFileSystemCreation != "Disabled" {
					t.Errorf("snapshot HomeEfsFileSystemCreation = %q, want Disabled", old.Domain.HomeEfsFileSystemCreation)
				}
				all := string(old.Domain.DomainSettings) + string(old.Domain.DefaultUserSettings) + string(old.Domain.DefaultSpaceSettings) +
					string(old.UserProfiles[0].UserSettings) + string(old.Spaces[0].SpaceSettings)
				for _, block := range []string{"CustomFileSystemConfigs", "DockerSettings", "AmazonQSettings", "UnifiedStudioSettings",
					`"IpAddressType":"dualstack"`, "StudioWebPortalSettings", "AppLifecycleManagement", "CustomPosixUserConfig", "CustomFileSystems", "EbsStorageSettings"} {
					if !strings.Contains(all, block) {
						t.Errorf("the snapshot lost %s", block)
					}
				}
			}
			p, err := NewPlan(old, Overrides{DomainName: tc.newName}, PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if errs := p.Errors(); len(errs) > 0 {
				t.Fatalf("plan problems: %v", errs)
			}
			a := &Applier{Clients: cB, JobID: "rt-" + tc.newName, Concurrency: 8, CreateInterval: time.Microsecond,
				Waiter: Waiter{PollInterval: time.Millisecond, Timeout: time.Minute}}
			res, err := a.Apply(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := TakeSnapshot(ctx, cB, res.Domain.ID, SnapshotOptions{Concurrency: 8})
			if err != nil {
				t.Fatal(err)
			}
			if got.Domain.Name != tc.newName {
				t.Errorf("new domain is named %q", got.Domain.Name)
			}
			if diff := cmp.Diff(identityFree(t, old), identityFree(t, got)); diff != "" {
				t.Errorf("the new domain differs from the old one (-old +new):\n%s", diff)
			}
			checkUIDMap(t, old, got, res)

			if tc.assigned > 0 {
				out, err := cB.SSOAdmin.ListApplicationAssignments(ctx, &ssoadmin.ListApplicationAssignmentsInput{ApplicationArn: aws.String(res.Domain.SSOApplicationArn)})
				if err != nil {
					t.Fatal(err)
				}
				if len(out.ApplicationAssignments) != tc.assigned {
					t.Errorf("%d users assigned to the new application, want %d", len(out.ApplicationAssignments), tc.assigned)
				}
			}

			before := createCalls(emB)
			again, err := a.Apply(ctx, p)
			if err != nil {
				t.Fatalf("second Apply: %v", err)
			}
			if diff := cmp.Diff(before, createCalls(emB)); diff != "" {
				t.Errorf("second Apply created something (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(res, again); diff != "" {
				t.Errorf("second Apply result (-first +second):\n%s", diff)
			}
		})
	}
}

// identityFree is the snapshot document without what must differ between the old
// domain and its copy: IDs, ARNs, names of the domain, UIDs, the EFS, the Identity
// Center application, the job tag, the time.
func identityFree(t *testing.T, s *Snapshot) string {
	t.Helper()
	c := *s
	c.TakenAt = time.Time{}
	d := &c.Domain
	d.ID, d.ARN, d.Name, d.HomeEfsFileSystemID = "", "", "", ""
	d.SingleSignOnApplicationArn, d.SingleSignOnManagedApplicationInstanceID = "", ""
	d.Tags = withoutJobTag(d.Tags)
	c.UserProfiles = append([]UserProfile(nil), s.UserProfiles...)
	for i := range c.UserProfiles {
		p := &c.UserProfiles[i]
		p.ARN, p.HomeEfsFileSystemUID = "", ""
		p.Tags = withoutJobTag(p.Tags)
	}
	c.Spaces = append([]Space(nil), s.Spaces...)
	for i := range c.Spaces {
		sp := &c.Spaces[i]
		sp.ARN, sp.HomeEfsFileSystemUID = "", ""
		sp.Tags = withoutJobTag(sp.Tags)
	}
	b, err := MarshalSnapshot(&c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func withoutJobTag(tags []Tag) []Tag {
	out := []Tag{}
	for _, t := range tags {
		if t.Key != JobTagKey {
			out = append(out, t)
		}
	}
	return out
}

// checkUIDMap asserts one mapping per profile and space, old UIDs from the old
// snapshot, new UIDs as the new domain reports them, none carried over.
func checkUIDMap(t *testing.T, old, got *Snapshot, res *Result) {
	t.Helper()
	want := map[string]UIDMapping{}
	for _, p := range old.UserProfiles {
		want[KindUserProfile+"/"+p.Name] = UIDMapping{Kind: KindUserProfile, Name: p.Name, OldUID: p.HomeEfsFileSystemUID}
	}
	for _, sp := range old.Spaces {
		want[KindSpace+"/"+sp.Name] = UIDMapping{Kind: KindSpace, Name: sp.Name, OldUID: sp.HomeEfsFileSystemUID}
	}
	for _, p := range got.UserProfiles {
		m := want[KindUserProfile+"/"+p.Name]
		m.NewUID = p.HomeEfsFileSystemUID
		want[KindUserProfile+"/"+p.Name] = m
	}
	for _, sp := range got.Spaces {
		m := want[KindSpace+"/"+sp.Name]
		m.NewUID = sp.HomeEfsFileSystemUID
		want[KindSpace+"/"+sp.Name] = m
	}
	gotMap := map[string]UIDMapping{}
	for _, m := range res.UIDMap {
		gotMap[m.Kind+"/"+m.Name] = m
		if m.NewUID == "" || m.OldUID == m.NewUID {
			t.Errorf("%s %s: old UID %q, new UID %q", m.Kind, m.Name, m.OldUID, m.NewUID)
		}
	}
	if len(res.UIDMap) != len(old.UserProfiles)+len(old.Spaces) {
		t.Errorf("UID map has %d entries, want %d", len(res.UIDMap), len(old.UserProfiles)+len(old.Spaces))
	}
	if diff := cmp.Diff(want, gotMap); diff != "" {
		t.Errorf("UID map (-want +got):\n%s", diff)
	}
}

// Every settings block the service has today, each member set to a value other than
// its default, so a rebuild that drops or rewrites one is caught by the comparison.
const (
	everyCustomFS   = `"CustomFileSystemConfigs":[{"EFSFileSystemConfig":{"FileSystemId":"fs-0123456789abcdef0","FileSystemPath":"/team"}},{"FSxLustreFileSystemConfig":{"FileSystemId":"fs-0fedcba9876543210","FileSystemPath":"/scratch"}}]`
	everyPosix      = `"CustomPosixUserConfig":{"Uid":10001,"Gid":1001}`
	everyLifecycle  = `"AppLifecycleManagement":{"IdleSettings":{"LifecycleManagement":"ENABLED","IdleTimeoutInMinutes":120,"MinIdleTimeoutInMinutes":60,"MaxIdleTimeoutInMinutes":240}}`
	everyUserExtras = everyCustomFS + `,` + everyPosix +
		`,"StudioWebPortalSettings":{"HiddenMlTools":["DataWrangler"],"HiddenAppTypes":["JupyterServer"],"HiddenInstanceTypes":["ml.p4d.24xlarge"],"ExecutionRoleSessionNameMode":"USER_IDENTITY"}` +
		`,"JupyterLabAppSettings":{` + everyLifecycle + `,"DefaultResourceSpec":{"InstanceType":"ml.t3.medium"}}` +
		`,"CodeEditorAppSettings":{` + everyLifecycle + `}` +
		`,"SpaceStorageSettings":{"DefaultEbsStorageSettings":{"DefaultEbsVolumeSizeInGb":5,"MaximumEbsVolumeSizeInGb":100}}` +
		`,"DefaultLandingUri":"studio::","StudioWebPortal":"ENABLED","AutoMountHomeEFS":"Disabled"`
)

// buildEverySettingDomain makes a domain with HomeEfsFileSystemCreation, every
// DomainSettings block (DockerSettings, AmazonQSettings, UnifiedStudioSettings,
// IpAddressType, ...), and user, space and default settings using
// CustomFileSystemConfigs, CustomPosixUserConfig, StudioWebPortalSettings and
// AppLifecycleManagement; two profiles and two EBS-backed spaces.
func buildEverySettingDomain(t *testing.T, c Clients) string {
	t.Helper()
	id := createDomain(t, c, &sagemaker.CreateDomainInput{
		DomainName: aws.String("every-setting"), AuthMode: smtypes.AuthModeIam,
		VpcId: aws.String(testVPC), SubnetIds: []string{"subnet-0123456789abcdef0"},
		AppSecurityGroupManagement: smtypes.AppSecurityGroupManagementCustomer,
		TagPropagation:             smtypes.TagPropagationEnabled,
		HomeEfsFileSystemCreation:  smtypes.HomeEfsFileSystemCreationDisabled,
		Tags:                       smTags("team", "platform"),
	}, map[string]json.RawMessage{
		"DefaultUserSettings":  json.RawMessage(`{"ExecutionRole":"` + role("EveryDefault") + `","SecurityGroups":["sg-0aaaaaaaaaaaaaaa1"],` + everyUserExtras + `}`),
		"DefaultSpaceSettings": json.RawMessage(`{"ExecutionRole":"` + role("EverySpaces") + `","SecurityGroups":["sg-0aaaaaaaaaaaaaaa1"],` + everyCustomFS + `,` + everyPosix + `,"JupyterLabAppSettings":{` + everyLifecycle + `},"SpaceStorageSettings":{"DefaultEbsStorageSettings":{"DefaultEbsVolumeSizeInGb":10,"MaximumEbsVolumeSizeInGb":200}}}`),
		"DomainSettings": json.RawMessage(`{"SecurityGroupIds":["sg-0bbbbbbbbbbbbbbb2"],"ExecutionRoleIdentityConfig":"USER_PROFILE_NAME","IpAddressType":"dualstack",` +
			`"DockerSettings":{"EnableDockerAccess":"ENABLED","VpcOnlyTrustedAccounts":["` + testAccount + `"],"RootlessDocker":"ENABLED"},` +
			`"AmazonQSettings":{"Status":"ENABLED","QProfileArn":"arn:aws:codewhisperer:us-east-1:` + testAccount + `:profile/ABCDEFGHIJ"},` +
			`"UnifiedStudioSettings":{"StudioWebPortalAccess":"ENABLED","DomainAccountId":"` + testAccount + `","DomainRegion":"us-east-1","DomainId":"dzd_abc123","ProjectId":"proj123","EnvironmentId":"env123","ProjectS3Path":"s3://research-bucket/dzd_abc123/proj123"}}`),
	})
	for i, name := range []string{"ana", "ben"} {
		createProfile(t, c, id, name, `{"ExecutionRole":"`+role("Every-"+name)+`",`+everyUserExtras+`}`, smTags("studiouserid", name), "")
		settings := `{"AppType":"JupyterLab","RemoteAccess":"ENABLED","SpaceManagedResources":"ENABLED","SpaceStorageSettings":{"EbsStorageSettings":{"EbsVolumeSizeInGb":20}},` +
			`"JupyterLabAppSettings":{` + everyLifecycle + `,"CodeRepositories":[{"RepositoryUrl":"https://github.com/example/repo.git"}]},"CustomFileSystems":[{"EFSFileSystem":{"FileSystemId":"fs-0123456789abcdef0"}}]}`
		if i == 1 {
			settings = `{"AppType":"CodeEditor","SpaceStorageSettings":{"EbsStorageSettings":{"EbsVolumeSizeInGb":30}},"CodeEditorAppSettings":{` + everyLifecycle + `}}`
		}
		createSpace(t, c, id, name+"-space", name, "Private", settings, smTags("owner", name))
	}
	return id
}
