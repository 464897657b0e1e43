package emulator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

func sdkConfig(url string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("x", "y", ""),
		BaseEndpoint: aws.String(url),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// The rehearsal world is built with the real AWS CLI v2 (EC2 and IAM over the query
// protocol, KMS over JSON 1.1), read back with aws-sdk-go-v2, and a strict emulator's
// CreateDomain then refuses what does not exist, as AWS does.
func TestNetworkWorldWithAWSCLI(t *testing.T) {
	t.Parallel()
	bin := testutil.RequireBinary(t, "apt-get install awscli", "/usr/bin/aws")
	e := newEnv(t, emulator.Options{Network: emulator.NetworkStrict})
	ctx := context.Background()
	cfg := sdkConfig(e.url)

	vpc := mustCLI(t, bin, e.url, "ec2", "create-vpc", "--cidr-block", "10.1.0.0/16", "--amazon-provided-ipv6-cidr-block")
	vpcID := vpc["Vpc"].(map[string]any)["VpcId"].(string)
	other := mustCLI(t, bin, e.url, "ec2", "create-vpc", "--cidr-block", "10.2.0.0/16")
	otherID := other["Vpc"].(map[string]any)["VpcId"].(string)
	sub := mustCLI(t, bin, e.url, "ec2", "create-subnet", "--vpc-id", vpcID, "--cidr-block", "10.1.1.0/24", "--availability-zone", "us-east-1b")
	subnetID := sub["Subnet"].(map[string]any)["SubnetId"].(string)
	otherSub := mustCLI(t, bin, e.url, "ec2", "create-subnet", "--vpc-id", otherID, "--cidr-block", "10.2.1.0/24")
	otherSubnetID := otherSub["Subnet"].(map[string]any)["SubnetId"].(string)
	sg := mustCLI(t, bin, e.url, "ec2", "create-security-group", "--group-name", "studio", "--description", "Studio apps", "--vpc-id", vpcID)
	sgID := sg["GroupId"].(string)
	key := mustCLI(t, bin, e.url, "kms", "create-key", "--description", "studio efs")
	keyID := key["KeyMetadata"].(map[string]any)["KeyId"].(string)
	off := mustCLI(t, bin, e.url, "kms", "create-key", "--description", "disabled")
	offID := off["KeyMetadata"].(map[string]any)["KeyId"].(string)
	mustCLI(t, bin, e.url, "kms", "disable-key", "--key-id", offID)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sagemaker.amazonaws.com"},"Action":["sts:AssumeRole","sts:SetContext"]}]}`
	role := mustCLI(t, bin, e.url, "iam", "create-role", "--role-name", "Exec", "--path", "/service-role/", "--assume-role-policy-document", trust)
	roleArn := role["Role"].(map[string]any)["Arn"].(string)
	if roleArn != "arn:aws:iam::123456789012:role/service-role/Exec" {
		t.Fatalf("create-role printed %v", role)
	}

	// What the CLI built, as the SDK reads it.
	subs, err := ec2.NewFromConfig(cfg).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnetID}})
	if err != nil || len(subs.Subnets) != 1 || aws.ToString(subs.Subnets[0].VpcId) != vpcID || aws.ToString(subs.Subnets[0].AvailabilityZone) != "us-east-1b" {
		t.Fatalf("DescribeSubnets = %+v, %v", subs, err)
	}
	_, err = ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-0123456789abcdef0"}})
	if got := codeOf(err); got != "InvalidVpcID.NotFound" {
		t.Errorf("DescribeVpcs of a missing VPC: code %q (%v), want InvalidVpcID.NotFound", got, err)
	}
	_, err = ec2.NewFromConfig(cfg).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0123456789abcdef0"}})
	if got := codeOf(err); got != "InvalidGroup.NotFound" {
		t.Errorf("DescribeSecurityGroups of a missing group: code %q, want InvalidGroup.NotFound", got)
	}
	kd, err := kms.NewFromConfig(cfg).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(offID)})
	if err != nil || kd.KeyMetadata.Enabled || kd.KeyMetadata.KeyState != "Disabled" {
		t.Fatalf("DescribeKey of the disabled key = %+v, %v", kd, err)
	}
	_, err = kms.NewFromConfig(cfg).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("11111111-2222-3333-4444-555555555555")})
	if got := codeOf(err); got != "NotFoundException" {
		t.Errorf("DescribeKey of a missing key: code %q, want NotFoundException", got)
	}
	gr, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Exec")})
	if err != nil || aws.ToString(gr.Role.Arn) != roleArn || !strings.Contains(aws.ToString(gr.Role.AssumeRolePolicyDocument), "sts%3ASetContext") {
		t.Fatalf("GetRole = %+v, %v", gr, err)
	}
	_, err = iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Nobody")})
	if got := codeOf(err); got != "NoSuchEntity" {
		t.Errorf("GetRole of a missing role: code %q, want NoSuchEntity", got)
	}
	got := mustCLI(t, bin, e.url, "iam", "get-role", "--role-name", "Exec")
	if _, ok := got["Role"].(map[string]any)["AssumeRolePolicyDocument"].(map[string]any); !ok {
		t.Errorf("aws iam get-role did not decode the trust policy: %v", got)
	}
	if _, stderr, code := awsCLI(t, bin, e.url, "ec2", "create-subnet", "--vpc-id", "vpc-0123456789abcdef0", "--cidr-block", "10.9.0.0/24"); code == 0 || !strings.Contains(stderr, "InvalidVpcID.NotFound") {
		t.Errorf("create-subnet in a missing VPC: exit %d, %s", code, stderr)
	}
	q, err := servicequotas.NewFromConfig(cfg).ListServiceQuotas(ctx, &servicequotas.ListServiceQuotasInput{ServiceCode: aws.String("sagemaker")})
	if err != nil || len(q.Quotas) != 3 {
		t.Fatalf("ListServiceQuotas = %+v, %v", q, err)
	}

	// CreateDomain refuses what does not exist, and what belongs to another VPC.
	in := func(vpc string, subnets []string, kmsKey string, sgs ...string) *sagemaker.CreateDomainInput {
		d := iamDomainInput("strict")
		d.VpcId, d.SubnetIds = aws.String(vpc), subnets
		if kmsKey != "" {
			d.KmsKeyId = aws.String(kmsKey)
		}
		d.DefaultUserSettings.SecurityGroups = sgs
		return d
	}
	for _, tc := range []struct {
		name string
		in   *sagemaker.CreateDomainInput
		want string
	}{
		{"missing VPC", in("vpc-0123456789abcdef0", []string{subnetID}, ""), "VPC 'vpc-0123456789abcdef0' does not exist"},
		{"missing subnet", in(vpcID, []string{"subnet-0123456789abcdef0"}, ""), "subnet 'subnet-0123456789abcdef0' does not exist"},
		{"subnet of another VPC", in(vpcID, []string{otherSubnetID}, ""), "belongs to VPC '" + otherID + "'"},
		{"missing key", in(vpcID, []string{subnetID}, "11111111-2222-3333-4444-555555555555"), "does not exist"},
		{"disabled key", in(vpcID, []string{subnetID}, offID), "is Disabled"},
		{"missing security group", in(vpcID, []string{subnetID}, "", "sg-0123456789abcdef0"), "security group 'sg-0123456789abcdef0' does not exist"},
	} {
		_, err := e.sm.CreateDomain(ctx, tc.in)
		if codeOf(err) != "ValidationException" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: CreateDomain = %v, want a ValidationException saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := e.sm.CreateDomain(ctx, in(vpcID, []string{subnetID}, keyID, sgID)); err != nil {
		t.Fatalf("CreateDomain in the world the CLI built: %v", err)
	}
	if n := e.em.CallCounts()["CreateDomain"]; n != 7 {
		t.Errorf("CallCounts()[CreateDomain] = %d, want 7", n)
	}
	_ = smtypes.AuthModeIam
}

// Without NetworkStrict the emulator makes what a request names on first use, so
// tests and the demo that invent IDs keep working, and the world stays consistent.
func TestNetworkLenientCreatesOnFirstUse(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	ctx := context.Background()
	in := iamDomainInput("lenient")
	in.KmsKeyId = aws.String("11111111-2222-3333-4444-555555555555")
	if _, err := e.sm.CreateDomain(ctx, in); err != nil {
		t.Fatal(err)
	}
	cfg := sdkConfig(e.url)
	subs, err := ec2.NewFromConfig(cfg).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: in.SubnetIds})
	if err != nil || len(subs.Subnets) != len(in.SubnetIds) || aws.ToString(subs.Subnets[0].VpcId) != aws.ToString(in.VpcId) {
		t.Fatalf("DescribeSubnets after a lenient CreateDomain = %+v, %v", subs, err)
	}
	if _, err := kms.NewFromConfig(cfg).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: in.KmsKeyId}); err != nil {
		t.Errorf("DescribeKey of the key made on first use: %v", err)
	}
}
