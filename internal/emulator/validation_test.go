package emulator_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// TestValidation checks each rule of the real API, through the SDK where it sends the
// request and over raw JSON where the SDK itself refuses (missing required members).
func TestValidation(t *testing.T) {
	ctx := context.Background()
	tip := &smtypes.DomainSettings{TrustedIdentityPropagationSettings: &smtypes.TrustedIdentityPropagationSettings{Status: smtypes.FeatureStatusEnabled}}
	many := func(n int, prefix string) []smtypes.Tag {
		var tags []smtypes.Tag
		for i := range n {
			tags = append(tags, smtypes.Tag{Key: aws.String(fmt.Sprintf("%s%d", prefix, i)), Value: aws.String("v")})
		}
		return tags
	}
	// raw sends a SageMaker call as JSON and turns an error answer into its code.
	raw := func(t *testing.T, e *env, op string, body any) error {
		status, _, out := rawCall(t, e.url, "SageMaker."+op, body, nil)
		if status == 200 {
			return nil
		}
		return fmt.Errorf("%v: %v", out["__type"], out["message"])
	}

	tests := []struct {
		name    string
		opts    emulator.Options
		call    func(t *testing.T, e *env) error
		want    string // error code, "" for success
		wantMsg string
	}{
		// CreateDomain
		{name: "domain name pattern", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateDomain(ctx, iamDomainInput("bad_name"))
			return err
		}, want: "ValidationException", wantMsg: "Value 'bad_name' at 'domainName' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{name: "domain name length", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateDomain(ctx, iamDomainInput(strings.Repeat("a", 64)))
			return err
		}, want: "ValidationException", wantMsg: "length less than or equal to 63"},
		{name: "domain name required", call: func(t *testing.T, e *env) error {
			return raw(t, e, "CreateDomain", map[string]any{"AuthMode": "IAM", "DefaultUserSettings": map[string]any{"ExecutionRole": testRole}})
		}, want: "ValidationException", wantMsg: "Value null at 'domainName' failed to satisfy constraint: Member must not be null"},
		{name: "DefaultUserSettings required", call: func(t *testing.T, e *env) error {
			return raw(t, e, "CreateDomain", map[string]any{"DomainName": "x", "AuthMode": "IAM"})
		}, want: "ValidationException", wantMsg: "'defaultUserSettings'"},
		{name: "execution role required", call: func(t *testing.T, e *env) error {
			in := iamDomainInput("x")
			in.DefaultUserSettings = &smtypes.UserSettings{}
			_, err := e.sm.CreateDomain(ctx, in)
			return err
		}, want: "ValidationException", wantMsg: "'defaultUserSettings.executionRole'"},
		{name: "execution role pattern", call: func(t *testing.T, e *env) error {
			in := iamDomainInput("x")
			in.DefaultUserSettings = &smtypes.UserSettings{ExecutionRole: aws.String("my-role")}
			_, err := e.sm.CreateDomain(ctx, in)
			return err
		}, want: "ValidationException", wantMsg: "Value 'my-role' at 'defaultUserSettings.executionRole'"},
		{name: "auth mode enum", call: func(t *testing.T, e *env) error {
			in := iamDomainInput("x")
			in.AuthMode = "LDAP"
			_, err := e.sm.CreateDomain(ctx, in)
			return err
		}, want: "ValidationException", wantMsg: "Member must satisfy enum value set: [SSO, IAM]"},
		{name: "network access enum", call: func(t *testing.T, e *env) error {
			in := iamDomainInput("x")
			in.AppNetworkAccessType = "Internet"
			_, err := e.sm.CreateDomain(ctx, in)
			return err
		}, want: "ValidationException", wantMsg: "'appNetworkAccessType'"},
		{name: "VpcOnly needs a VPC", call: func(t *testing.T, e *env) error {
			in := iamDomainInput("x")
			in.AppNetworkAccessType, in.VpcId, in.SubnetIds = smtypes.AppNetworkAccessTypeVpcOnly, nil, nil
			_, err := e.sm.CreateDomain(ctx, in)
			return err
		}, want: "ValidationException"},
		{name: "trusted identity propagation on IAM domain", call: func(t *testing.T, e *env) error {
			in := iamDomainInput("x")
			in.DomainSettings = tip
			_, err := e.sm.CreateDomain(ctx, in)
			return err
		}, want: "ValidationException", wantMsg: "TrustedIdentityPropagationSettings"},
		{name: "trusted identity propagation on SSO domain", call: func(t *testing.T, e *env) error {
			in := ssoDomainInput("x")
			in.DomainSettings = tip
			_, err := e.sm.CreateDomain(ctx, in)
			return err
		}},
		{name: "trusted identity propagation added to IAM domain", call: func(t *testing.T, e *env) error {
			id := e.createDomain(t, iamDomainInput("x"))
			_, err := e.sm.UpdateDomain(ctx, &sagemaker.UpdateDomainInput{DomainId: &id, DomainSettingsForUpdate: &smtypes.DomainSettingsForUpdate{TrustedIdentityPropagationSettings: tip.TrustedIdentityPropagationSettings}})
			return err
		}, want: "ValidationException", wantMsg: "TrustedIdentityPropagationSettings"},
		{name: "domain quota", opts: emulator.Options{MaxDomains: 1}, call: func(t *testing.T, e *env) error {
			e.createDomain(t, iamDomainInput("one"))
			_, err := e.sm.CreateDomain(ctx, iamDomainInput("two"))
			return err
		}, want: "ResourceLimitExceeded"},
		{name: "retention policy enum", call: func(t *testing.T, e *env) error {
			id := e.createDomain(t, iamDomainInput("x"))
			_, err := e.sm.DeleteDomain(ctx, &sagemaker.DeleteDomainInput{DomainId: &id, RetentionPolicy: &smtypes.RetentionPolicy{HomeEfsFileSystem: "Keep"}})
			return err
		}, want: "ValidationException"},
		{name: "unknown domain", call: func(t *testing.T, e *env) error {
			_, err := e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: aws.String("d-000000000000")})
			return err
		}, want: "ResourceNotFound"},

		// CreateUserProfile
		{name: "profile name leading dash", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: aws.String(e.createDomain(t, iamDomainInput("x"))), UserProfileName: aws.String("-alice")})
			return err
		}, want: "ValidationException", wantMsg: "at 'userProfileName'"},
		{name: "profile name underscore", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: aws.String(e.createDomain(t, iamDomainInput("x"))), UserProfileName: aws.String("alice_1")})
			return err
		}, want: "ValidationException"},
		{name: "profile name 64 characters", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: aws.String(e.createDomain(t, iamDomainInput("x"))), UserProfileName: aws.String(strings.Repeat("a", 64))})
			return err
		}, want: "ValidationException"},
		{name: "profile name with inner dashes, 63 characters", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: aws.String(e.createDomain(t, iamDomainInput("x"))), UserProfileName: aws.String("a--b" + strings.Repeat("c", 59))})
			return err
		}},
		{name: "profile name required", call: func(t *testing.T, e *env) error {
			return raw(t, e, "CreateUserProfile", map[string]any{"DomainId": e.createDomain(t, iamDomainInput("x"))})
		}, want: "ValidationException", wantMsg: "Value null at 'userProfileName'"},
		{name: "duplicate profile", call: func(t *testing.T, e *env) error {
			id := e.createDomain(t, iamDomainInput("x"))
			e.createProfile(t, id, "alice")
			_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: &id, UserProfileName: aws.String("alice")})
			return err
		}, want: "ResourceInUse"},
		{name: "profile in unknown domain", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: aws.String("d-000000000000"), UserProfileName: aws.String("alice")})
			return err
		}, want: "ResourceNotFound"},
		{name: "Identity Center fields on IAM domain", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: aws.String(e.createDomain(t, iamDomainInput("x"))), UserProfileName: aws.String("alice"),
				SingleSignOnUserIdentifier: aws.String("UserName"), SingleSignOnUserValue: aws.String("alice")})
			return err
		}, want: "ValidationException", wantMsg: "SingleSignOnUser"},
		{name: "Identity Center fields missing on SSO domain", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: aws.String(e.createDomain(t, ssoDomainInput("x"))), UserProfileName: aws.String("alice")})
			return err
		}, want: "ValidationException", wantMsg: "SingleSignOnUser"},
		{name: "Identity Center identifier other than UserName", call: func(t *testing.T, e *env) error {
			e.em.AddIdentityCenterUser("alice")
			_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: aws.String(e.createDomain(t, ssoDomainInput("x"))), UserProfileName: aws.String("alice"),
				SingleSignOnUserIdentifier: aws.String("Email"), SingleSignOnUserValue: aws.String("alice")})
			return err
		}, want: "ValidationException", wantMsg: "'singleSignOnUserIdentifier'"},
		{name: "Identity Center user unknown", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: aws.String(e.createDomain(t, ssoDomainInput("x"))), UserProfileName: aws.String("alice"),
				SingleSignOnUserIdentifier: aws.String("UserName"), SingleSignOnUserValue: aws.String("alice")})
			return err
		}, want: "ValidationException"},
		{name: "Identity Center user given a second profile", call: func(t *testing.T, e *env) error {
			e.em.AddIdentityCenterUser("alice")
			id := e.createDomain(t, ssoDomainInput("x"))
			for _, n := range []string{"alice", "alice2"} {
				_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: &id, UserProfileName: aws.String(n),
					SingleSignOnUserIdentifier: aws.String("UserName"), SingleSignOnUserValue: aws.String("alice")})
				if err != nil {
					return err
				}
			}
			return nil
		}, want: "ResourceInUse"},
		{name: "profile quota", opts: emulator.Options{MaxUserProfilesPerDomain: 1}, call: func(t *testing.T, e *env) error {
			id := e.createDomain(t, iamDomainInput("x"))
			e.createProfile(t, id, "a")
			_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: &id, UserProfileName: aws.String("b")})
			return err
		}, want: "ResourceLimitExceeded"},
		{name: "unknown profile", call: func(t *testing.T, e *env) error {
			_, err := e.sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{DomainId: aws.String(e.createDomain(t, iamDomainInput("x"))), UserProfileName: aws.String("nobody")})
			return err
		}, want: "ResourceNotFound"},

		// CreateSpace
		{name: "private space of unknown owner", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: aws.String(e.createDomain(t, iamDomainInput("x"))), SpaceName: aws.String("lab"),
				OwnershipSettings:    &smtypes.OwnershipSettings{OwnerUserProfileName: aws.String("ghost")},
				SpaceSharingSettings: &smtypes.SpaceSharingSettings{SharingType: smtypes.SharingTypePrivate}})
			return err
		}, want: "ResourceNotFound"},
		{name: "private space without owner", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: aws.String(e.createDomain(t, iamDomainInput("x"))), SpaceName: aws.String("lab"),
				SpaceSharingSettings: &smtypes.SpaceSharingSettings{SharingType: smtypes.SharingTypePrivate}})
			return err
		}, want: "ValidationException"},
		{name: "sharing type enum", call: func(t *testing.T, e *env) error {
			id := e.createDomain(t, iamDomainInput("x"))
			e.createProfile(t, id, "alice")
			_, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: &id, SpaceName: aws.String("lab"),
				OwnershipSettings:    &smtypes.OwnershipSettings{OwnerUserProfileName: aws.String("alice")},
				SpaceSharingSettings: &smtypes.SpaceSharingSettings{SharingType: "Public"}})
			return err
		}, want: "ValidationException", wantMsg: "[Private, Shared]"},
		{name: "space name pattern", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: aws.String(e.createDomain(t, iamDomainInput("x"))), SpaceName: aws.String("team space")})
			return err
		}, want: "ValidationException", wantMsg: "'spaceName'"},
		{name: "duplicate space", call: func(t *testing.T, e *env) error {
			id := e.createDomain(t, iamDomainInput("x"))
			for range 2 {
				if _, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: &id, SpaceName: aws.String("team")}); err != nil {
					return err
				}
			}
			return nil
		}, want: "ResourceInUse"},

		// Apps
		{name: "app for profile and space", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateApp(ctx, &sagemaker.CreateAppInput{DomainId: aws.String(e.createDomain(t, iamDomainInput("x"))), UserProfileName: aws.String("a"), SpaceName: aws.String("b"),
				AppType: smtypes.AppTypeJupyterLab, AppName: aws.String("default")})
			return err
		}, want: "ValidationException"},
		{name: "app type enum", call: func(t *testing.T, e *env) error {
			id := e.createDomain(t, iamDomainInput("x"))
			e.createProfile(t, id, "alice")
			_, err := e.sm.CreateApp(ctx, &sagemaker.CreateAppInput{DomainId: &id, UserProfileName: aws.String("alice"), AppType: "Notebook", AppName: aws.String("default")})
			return err
		}, want: "ValidationException", wantMsg: "'appType'"},
		{name: "app of unknown profile", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateApp(ctx, &sagemaker.CreateAppInput{DomainId: aws.String(e.createDomain(t, iamDomainInput("x"))), UserProfileName: aws.String("ghost"), AppType: smtypes.AppTypeJupyterServer, AppName: aws.String("default")})
			return err
		}, want: "ResourceNotFound"},
		{name: "ListApps with profile and space", call: func(t *testing.T, e *env) error {
			_, err := e.sm.ListApps(ctx, &sagemaker.ListAppsInput{UserProfileNameEquals: aws.String("a"), SpaceNameEquals: aws.String("b")})
			return err
		}, want: "ValidationException"},

		// Lists
		{name: "MaxResults above 100", call: func(t *testing.T, e *env) error {
			_, err := e.sm.ListUserProfiles(ctx, &sagemaker.ListUserProfilesInput{MaxResults: aws.Int32(101)})
			return err
		}, want: "ValidationException", wantMsg: "less than or equal to 100"},
		{name: "MaxResults 0", call: func(t *testing.T, e *env) error {
			_, err := e.sm.ListDomains(ctx, &sagemaker.ListDomainsInput{MaxResults: aws.Int32(0)})
			return err
		}, want: "ValidationException"},
		{name: "sort key enum", call: func(t *testing.T, e *env) error {
			_, err := e.sm.ListSpaces(ctx, &sagemaker.ListSpacesInput{SortBy: "Name"})
			return err
		}, want: "ValidationException"},
		{name: "forged NextToken", call: func(t *testing.T, e *env) error {
			_, err := e.sm.ListSpaces(ctx, &sagemaker.ListSpacesInput{NextToken: aws.String("not-a-token")})
			return err
		}, want: "ValidationException"},
		{name: "NextToken of another List", call: func(t *testing.T, e *env) error {
			for i := range 3 {
				e.createDomain(t, iamDomainInput(fmt.Sprint("d", i)))
			}
			out, err := e.sm.ListDomains(ctx, &sagemaker.ListDomainsInput{MaxResults: aws.Int32(1)})
			if err != nil {
				return err
			}
			_, err = e.sm.ListUserProfiles(ctx, &sagemaker.ListUserProfilesInput{NextToken: out.NextToken})
			return err
		}, want: "ValidationException"},
		{name: "ListTags MaxResults below 50", call: func(t *testing.T, e *env) error {
			out, _ := e.sm.CreateDomain(ctx, iamDomainInput("x"))
			_, err := e.sm.ListTags(ctx, &sagemaker.ListTagsInput{ResourceArn: out.DomainArn, MaxResults: aws.Int32(10)})
			return err
		}, want: "ValidationException"},

		// Tags
		{name: "51 tags", call: func(t *testing.T, e *env) error {
			in := iamDomainInput("x")
			in.Tags = many(51, "k")
			_, err := e.sm.CreateDomain(ctx, in)
			return err
		}, want: "ValidationException", wantMsg: "less than or equal to 50"},
		{name: "50 tags", call: func(t *testing.T, e *env) error {
			in := iamDomainInput("x")
			in.Tags = many(50, "k")
			_, err := e.sm.CreateDomain(ctx, in)
			return err
		}},
		{name: "AddTags past 50", call: func(t *testing.T, e *env) error {
			in := iamDomainInput("x")
			in.Tags = many(30, "a")
			out, _ := e.sm.CreateDomain(ctx, in)
			_, err := e.sm.AddTags(ctx, &sagemaker.AddTagsInput{ResourceArn: out.DomainArn, Tags: many(21, "b")})
			return err
		}, want: "ValidationException"},
		{name: "aws: prefix reserved", call: func(t *testing.T, e *env) error {
			in := iamDomainInput("x")
			in.Tags = []smtypes.Tag{{Key: aws.String("aws:cloudformation:stack-name"), Value: aws.String("s")}}
			_, err := e.sm.CreateDomain(ctx, in)
			return err
		}, want: "ValidationException", wantMsg: "aws:"},
		{name: "tag key pattern", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: aws.String(e.createDomain(t, iamDomainInput("x"))), UserProfileName: aws.String("a"),
				Tags: []smtypes.Tag{{Key: aws.String("bad*key"), Value: aws.String("v")}}})
			return err
		}, want: "ValidationException", wantMsg: "'tags.1.member.key'"},
		{name: "tags of unknown ARN", call: func(t *testing.T, e *env) error {
			_, err := e.sm.ListTags(ctx, &sagemaker.ListTagsInput{ResourceArn: aws.String("arn:aws:sagemaker:us-east-1:123456789012:domain/d-000000000000")})
			return err
		}, want: "ResourceNotFound"},
		{name: "AddTags to unknown ARN", call: func(t *testing.T, e *env) error {
			_, err := e.sm.AddTags(ctx, &sagemaker.AddTagsInput{ResourceArn: aws.String("arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-000000000000/x"), Tags: many(1, "k")})
			return err
		}, want: "ResourceNotFound"},

		// Studio lifecycle configurations
		{name: "LCC content not base64", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateStudioLifecycleConfig(ctx, &sagemaker.CreateStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String("backup"),
				StudioLifecycleConfigAppType: smtypes.StudioLifecycleConfigAppTypeJupyterLab, StudioLifecycleConfigContent: aws.String("#!/bin/bash\necho hi")})
			return err
		}, want: "ValidationException"},
		{name: "LCC app type enum", call: func(t *testing.T, e *env) error {
			_, err := e.sm.CreateStudioLifecycleConfig(ctx, &sagemaker.CreateStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String("backup"),
				StudioLifecycleConfigAppType: "TensorBoard", StudioLifecycleConfigContent: aws.String("ZWNobw==")})
			return err
		}, want: "ValidationException"},
		{name: "duplicate LCC", call: func(t *testing.T, e *env) error {
			for range 2 {
				if _, err := e.sm.CreateStudioLifecycleConfig(ctx, &sagemaker.CreateStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String("backup"),
					StudioLifecycleConfigAppType: smtypes.StudioLifecycleConfigAppTypeJupyterLab, StudioLifecycleConfigContent: aws.String("ZWNobw==")}); err != nil {
					return err
				}
			}
			return nil
		}, want: "ResourceInUse"},
		{name: "LCC in use", call: func(t *testing.T, e *env) error {
			out, err := e.sm.CreateStudioLifecycleConfig(ctx, &sagemaker.CreateStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String("backup"),
				StudioLifecycleConfigAppType: smtypes.StudioLifecycleConfigAppTypeJupyterLab, StudioLifecycleConfigContent: aws.String(base64.StdEncoding.EncodeToString([]byte("echo")))})
			if err != nil {
				return err
			}
			in := iamDomainInput("x")
			in.DefaultUserSettings.JupyterLabAppSettings = &smtypes.JupyterLabAppSettings{LifecycleConfigArns: []string{*out.StudioLifecycleConfigArn}}
			e.createDomain(t, in)
			_, err = e.sm.DeleteStudioLifecycleConfig(ctx, &sagemaker.DeleteStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String("backup")})
			return err
		}, want: "ResourceInUse"},
		{name: "unknown LCC", call: func(t *testing.T, e *env) error {
			_, err := e.sm.DescribeStudioLifecycleConfig(ctx, &sagemaker.DescribeStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String("nope")})
			return err
		}, want: "ResourceNotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.opts)
			err := tc.call(t, e)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want %s, got success", tc.want)
			}
			if code := codeOf(err); code != tc.want {
				t.Errorf("error code %q, want %q (%v)", code, tc.want, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tc.wantMsg)
			}
		})
	}
}
