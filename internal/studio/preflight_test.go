package studio

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

const (
	trustAssumeOnly = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	trustWithTIP    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["sagemaker.amazonaws.com"]},"Action":["sts:AssumeRole","sts:SetContext"]}]}`
	trustEC2        = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`
)

// world is a rehearsal account built through the emulator's EC2, KMS and IAM APIs.
type world struct {
	vpc, subnet, sg string
	key             string
}

func buildNetwork(t *testing.T, c Clients, cidr string) world {
	t.Helper()
	ctx := context.Background()
	v, err := c.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr + ".0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	w := world{vpc: aws.ToString(v.Vpc.VpcId)}
	s, err := c.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(w.vpc), CidrBlock: aws.String(cidr + ".1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	w.subnet = aws.ToString(s.Subnet.SubnetId)
	g, err := c.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("studio"), Description: aws.String("studio"), VpcId: aws.String(w.vpc)})
	if err != nil {
		t.Fatal(err)
	}
	w.sg = aws.ToString(g.GroupId)
	k, err := c.KMS.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("studio")})
	if err != nil {
		t.Fatal(err)
	}
	w.key = aws.ToString(k.KeyMetadata.KeyId)
	return w
}

func createRole(t *testing.T, c Clients, name, trust string) {
	t.Helper()
	if _, err := c.IAM.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatalf("creating role %s: %v", name, err)
	}
}

// preflightPlan is testPlan's SSO plan (trusted identity propagation on) in world w,
// with a lifecycle configuration ARN in the default user settings.
func preflightPlan(w world, lccArn string, profiles int) *Plan {
	p := testPlan("rebuilt", "SSO", profiles, 1)
	p.Domain.VpcID = w.vpc
	p.Domain.SubnetIDs = []string{w.subnet}
	p.Domain.KmsKeyID = w.key
	p.Domain.DefaultUserSettings = json.RawMessage(`{"ExecutionRole":"` + testRolePrefix + `DomainDefault","SecurityGroups":["` + w.sg + `"],` +
		`"JupyterLabAppSettings":{"LifecycleConfigArns":["` + lccArn + `"]}}`)
	p.Domain.DomainSettings = json.RawMessage(`{"SecurityGroupIds":["` + w.sg + `"],"TrustedIdentityPropagationSettings":{"Status":"ENABLED"}}`)
	p.ExternalReferences = planExternalRefs(p)
	return p
}

// Every problem of the done-when list in one run, each with its fix, and nothing
// created: the preflight only reads.
func TestPreflightReportsEverythingAtOnce(t *testing.T) {
	ctx := context.Background()
	em, c := newTestEnv(t, emulator.Options{Network: emulator.NetworkStrict, MaxUserProfilesPerDomain: 2})
	for i := range 3 {
		em.AddIdentityCenterUser(fmt.Sprintf("person%03d", i))
	}
	good := buildNetwork(t, c, "10.1")
	other := buildNetwork(t, c, "10.2")
	if _, err := c.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(good.key)}); err != nil {
		t.Fatal(err)
	}
	createRole(t, c, "DomainDefault", trustAssumeOnly) // no sts:SetContext, TIP on
	createRole(t, c, "SpaceDefault", trustWithTIP)
	createRole(t, c, "User000", trustEC2) // trusts EC2, not SageMaker
	createRole(t, c, "User001", trustWithTIP)
	createRole(t, c, "User002", trustWithTIP)

	w := world{vpc: "vpc-0deadbeefdeadbeef", subnet: other.subnet, sg: other.sg, key: good.key}
	p := preflightPlan(w, "arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/gone", 3)
	before := em.CallCounts()
	problems, err := Preflight(ctx, c, p, PreflightOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for op, n := range em.CallCounts() {
		if strings.HasPrefix(op, "Create") && n != before[op] {
			t.Errorf("preflight called %s %d times; it must only read", op, n-before[op])
		}
	}
	want := []string{
		"VPC vpc-0deadbeefdeadbeef does not exist in us-east-1: create it",
		"subnet " + other.subnet + " belongs to VPC " + other.vpc + ", not to the new domain's VPC vpc-0deadbeefdeadbeef: pass --subnet-ids",
		"security group " + other.sg + " (used in domain DefaultUserSettings.SecurityGroups, domain DomainSettings.SecurityGroupIds) belongs to VPC " + other.vpc + ", not to the new domain's VPC vpc-0deadbeefdeadbeef: create one",
		"KMS key " + good.key + " is Disabled: enable it (aws kms enable-key",
		"execution role " + testRolePrefix + "User000 (used in user-profile/user-000 UserSettings.ExecutionRole) does not trust sagemaker.amazonaws.com: SageMaker cannot assume it, so apps fail to start; add a trust statement",
		"execution role " + testRolePrefix + "DomainDefault (used in domain DefaultUserSettings.ExecutionRole) does not allow sts:SetContext to sagemaker.amazonaws.com, which trusted identity propagation needs: add \"sts:SetContext\"",
		"lifecycle configuration arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/gone (used in domain DefaultUserSettings.JupyterLabAppSettings.LifecycleConfigArns) does not exist in the target, and the snapshot holds no content for it: create it",
		"3 user profiles to create, but the account's quota \"Maximum number of user profiles per domain\" (L-E0000002) is 2: request an increase",
	}
	var errs []string
	for _, pr := range problems {
		if pr.Severity == SeverityError {
			errs = append(errs, pr.Resource+": "+pr.Message)
		}
	}
	for _, w := range want {
		found := false
		for _, e := range errs {
			found = found || strings.Contains(e, w)
		}
		if !found {
			t.Errorf("no error saying %q; errors:\n%s", w, strings.Join(errs, "\n"))
		}
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(errs), len(want), strings.Join(errs, "\n"))
	}
}

// The same plan in a world where everything exists passes without a problem, and
// CreateDomain in the strict emulator then accepts it.
func TestPreflightPassesACompleteWorld(t *testing.T) {
	ctx := context.Background()
	em, c := newTestEnv(t, emulator.Options{Network: emulator.NetworkStrict})
	for i := range 2 {
		em.AddIdentityCenterUser(fmt.Sprintf("person%03d", i))
	}
	w := buildNetwork(t, c, "10.1")
	for _, r := range []string{"DomainDefault", "SpaceDefault", "User000", "User001"} {
		createRole(t, c, r, trustWithTIP)
	}
	lcc, err := c.SageMaker.CreateStudioLifecycleConfig(ctx, &sagemaker.CreateStudioLifecycleConfigInput{
		StudioLifecycleConfigName: aws.String("setup"), StudioLifecycleConfigAppType: "JupyterLab",
		StudioLifecycleConfigContent: aws.String("IyEvYmluL2Jhc2gK"),
	})
	if err != nil {
		t.Fatal(err)
	}
	p := preflightPlan(w, aws.ToString(lcc.StudioLifecycleConfigArn), 2)
	problems, err := Preflight(ctx, c, p, PreflightOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 0 {
		t.Errorf("problems in a complete world: %+v", problems)
	}
	a := testApplier(c)
	if _, err := a.Apply(ctx, p); err != nil {
		t.Fatalf("Apply after a clean preflight: %v", err)
	}
}

func TestTrustPolicyReading(t *testing.T) {
	for _, tc := range []struct {
		doc                string
		assume, setContext bool
	}{
		{trustAssumeOnly, true, false},
		{trustWithTIP, true, true},
		{trustEC2, false, false},
		{`{"Statement":[{"Effect":"Allow","Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:*"}]}`, true, true},
		{`{"Statement":[{"Effect":"Deny","Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, false, false},
		{`not json`, false, false},
	} {
		a, s := trustsSageMaker(tc.doc)
		if a != tc.assume || s != tc.setContext {
			t.Errorf("trustsSageMaker(%s) = %v, %v; want %v, %v", tc.doc, a, s, tc.assume, tc.setContext)
		}
	}
	if allow, deny := keyPolicyGrants(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"kms:*","Resource":"*"}]}`); !allow || deny != "" {
		t.Errorf("the default key policy: allow %v deny %q", allow, deny)
	}
	if allow, deny := keyPolicyGrants(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt"},{"Effect":"Deny","Principal":"*","Action":["kms:CreateGrant"]}]}`); allow || deny != "kms:CreateGrant" {
		t.Errorf("a policy denying CreateGrant: allow %v deny %q", allow, deny)
	}
}

// Custom images and app image configs the settings name must exist in the target.
func TestPreflightChecksCustomImages(t *testing.T) {
	ctx := context.Background()
	_, c := newTestEnv(t, emulator.Options{})
	if _, err := c.SageMaker.CreateImage(ctx, &sagemaker.CreateImageInput{ImageName: aws.String("team-image"), RoleArn: aws.String(testRolePrefix + "ImageRole")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SageMaker.CreateAppImageConfig(ctx, &sagemaker.CreateAppImageConfigInput{AppImageConfigName: aws.String("team-config")}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"DomainDefault", "SpaceDefault", "User000"} {
		createRole(t, c, r, trustWithTIP)
	}
	p := testPlan("images", "IAM", 1, 0)
	p.Domain.KmsKeyID = ""
	p.Domain.DomainSettings = nil
	p.Domain.DefaultUserSettings = json.RawMessage(`{"ExecutionRole":"` + testRolePrefix + `DomainDefault","JupyterLabAppSettings":{"CustomImages":[` +
		`{"ImageName":"team-image","AppImageConfigName":"team-config"},{"ImageName":"gone-image","AppImageConfigName":"gone-config"}]}}`)
	p.ExternalReferences = planExternalRefs(p)
	problems, err := Preflight(ctx, c, p, PreflightOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, pr := range problems {
		if pr.Severity == SeverityError && strings.Contains(pr.Message, "image") { // the VPC is made up here
			msgs = append(msgs, pr.Message)
		}
	}
	all := strings.Join(msgs, "\n")
	if len(msgs) != 2 || !strings.Contains(all, "custom image gone-image (used in domain DefaultUserSettings.JupyterLabAppSettings.CustomImages) does not exist") ||
		!strings.Contains(all, "app image config gone-config (used in domain DefaultUserSettings.JupyterLabAppSettings.CustomImages) does not exist") {
		t.Errorf("errors:\n%s\nwant exactly the missing image and app image config", all)
	}
}

// EFS file systems of CustomFileSystemConfigs / CustomFileSystems: one missing in the
// target and one whose only mount target is in another VPC are each an error with
// its fix; one with a mount target in the new VPC passes, and so does the home EFS
// of an existing domain, which has mount targets in that domain's subnets.
func TestPreflightChecksCustomEFS(t *testing.T) {
	ctx := context.Background()
	em, c := newTestEnv(t, emulator.Options{Network: emulator.NetworkStrict})
	for i := range 2 {
		em.AddIdentityCenterUser(fmt.Sprintf("person%03d", i))
	}
	w := buildNetwork(t, c, "10.1")
	other := buildNetwork(t, c, "10.2")
	for _, r := range []string{"DomainDefault", "SpaceDefault", "User000", "User001"} {
		createRole(t, c, r, trustWithTIP)
	}
	const (
		missing   = "fs-0000000000000dead"
		elsewhere = "fs-00000000000000aaa"
		good      = "fs-00000000000000bbb"
	)
	em.AddWorld(emulator.World{FileSystems: map[string][]string{elsewhere: {other.subnet}, good: {other.subnet, w.subnet}}})
	// A domain in the other VPC: its home EFS is served with a mount target there.
	old, err := c.SageMaker.CreateDomain(ctx, &sagemaker.CreateDomainInput{
		DomainName: aws.String("old"), AuthMode: "IAM", VpcId: aws.String(other.vpc), SubnetIds: []string{other.subnet},
		DefaultUserSettings: &smtypes.UserSettings{ExecutionRole: aws.String(testRolePrefix + "DomainDefault")},
	})
	if err != nil {
		t.Fatal(err)
	}
	dom, err := c.SageMaker.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: old.DomainId})
	if err != nil {
		t.Fatal(err)
	}
	home := aws.ToString(dom.HomeEfsFileSystemId)
	mts, err := c.EFS.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{FileSystemId: aws.String(home)})
	if err != nil {
		t.Fatal(err)
	}
	if len(mts.MountTargets) != 1 || aws.ToString(mts.MountTargets[0].SubnetId) != other.subnet || aws.ToString(mts.MountTargets[0].VpcId) != other.vpc {
		t.Fatalf("mount targets of the home EFS %s: %+v, want one in %s (%s)", home, mts.MountTargets, other.subnet, other.vpc)
	}

	p := preflightPlan(w, "", 2)
	p.Domain.DefaultUserSettings = json.RawMessage(`{"ExecutionRole":"` + testRolePrefix + `DomainDefault","SecurityGroups":["` + w.sg + `"],` +
		`"CustomFileSystemConfigs":[{"EFSFileSystemConfig":{"FileSystemId":"` + missing + `","FileSystemPath":"/team"}},` +
		`{"EFSFileSystemConfig":{"FileSystemId":"` + elsewhere + `"}},{"EFSFileSystemConfig":{"FileSystemId":"` + good + `"}}]}`)
	p.Spaces[0].SpaceSettings = json.RawMessage(`{"CustomFileSystems":[{"EFSFileSystem":{"FileSystemId":"` + good + `"}}]}`)
	p.ExternalReferences = planExternalRefs(p)
	problems, err := Preflight(ctx, c, p, PreflightOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, pr := range problems {
		if pr.Severity == SeverityError {
			errs = append(errs, pr.Resource+": "+pr.Message)
		}
	}
	// Sorted by resource, then in the plan's order of references (by ID).
	want := []string{
		"domain: EFS file system " + elsewhere + " (used in domain DefaultUserSettings.CustomFileSystemConfigs.EFSFileSystemConfig) has no mount target in the new domain's VPC " + w.vpc + " (its mount targets are in subnets " + other.subnet + " of another VPC), so apps cannot mount it: create a mount target",
		"domain: EFS file system " + missing + " (used in domain DefaultUserSettings.CustomFileSystemConfigs.EFSFileSystemConfig) does not exist in us-east-1: create it (aws efs create-file-system) with a mount target in one of the new subnets' Availability Zones in VPC " + w.vpc,
	}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d:\n%s", len(errs), len(want), strings.Join(errs, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i], w) {
			t.Errorf("error %d:\n%s\nwant it to start with\n%s", i, errs[i], w)
		}
	}

	// The old domain's home EFS is usable from a plan in its own VPC.
	p.Domain.VpcID, p.Domain.SubnetIDs = other.vpc, []string{other.subnet}
	p.Domain.DomainSettings = nil
	p.Domain.DefaultUserSettings = json.RawMessage(`{"ExecutionRole":"` + testRolePrefix + `DomainDefault","SecurityGroups":["` + other.sg + `"],` +
		`"CustomFileSystemConfigs":[{"EFSFileSystemConfig":{"FileSystemId":"` + home + `"}}]}`)
	p.ExternalReferences = planExternalRefs(p)
	problems, err = Preflight(ctx, c, p, PreflightOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		if pr.Severity == SeverityError {
			t.Errorf("home EFS %s in its own VPC: %s: %s", home, pr.Resource, pr.Message)
		}
	}
}
