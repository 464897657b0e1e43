package studio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/identitystore/document"
	idstypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/smithy-go"
)

// PreflightOptions tune Preflight.
type PreflightOptions struct {
	// RecreateLifecycleConfigs says Apply will run with
	// Applier.RecreateLifecycleConfigs: a lifecycle configuration missing in the
	// target whose content the plan holds is then a warning, not an error.
	RecreateLifecycleConfigs bool
	Logger                   *slog.Logger
}

// sageMakerPrincipal is the service principal execution roles must trust.
const sageMakerPrincipal = "sagemaker.amazonaws.com"

// Preflight checks the plan against the target account before anything is created,
// and only reads. It reports every problem at once, each with its fix:
//
//   - the VPC exists; every subnet and security group exists and belongs to it; with
//     IpAddressType dualstack every subnet has an IPv6 CIDR (EC2 Describe*);
//   - every EFS file system of CustomFileSystemConfigs / CustomFileSystems exists and
//     has a mount target in a subnet of the new VPC (EFS DescribeFileSystems,
//     DescribeMountTargets);
//   - the KMS key exists, is Enabled, is a symmetric encryption key, and its key
//     policy neither lacks an Allow of kms:CreateGrant (directly or by delegating
//     to IAM through the account root) nor denies it outright (DescribeKey,
//     GetKeyPolicy);
//   - every execution role exists at the ARN the settings name and trusts
//     sagemaker.amazonaws.com with sts:AssumeRole, and with sts:SetContext when
//     trusted identity propagation is on; other roles the settings name exist
//     (IAM GetRole);
//   - the profiles, spaces and one more domain fit the account's SageMaker quotas
//     (Service Quotas, matched by name; see checkQuotas);
//   - for an SSO domain, an Identity Center instance exists and holds every user the
//     profiles map to (sso-admin ListInstances, identitystore GetUserId);
//   - every lifecycle configuration, image and app image config the settings name
//     exists in the target under that ARN or name (SageMaker Describe*).
//
// What it cannot know: whether the caller's own IAM policies, KMS grants, SCPs or
// policy conditions (kms:ViaService, aws:SourceVpc, ...) allow the calls (the IAM
// policy simulator would, given the caller's identity); whether an EFS file system's
// mount targets' security groups let the new domain's security groups in over NFS;
// FSx for Lustre file systems (the plan warns); Amazon DataZone resources of
// UnifiedStudioSettings. A check whose read is refused (AccessDenied,
// or an API the endpoint does not serve) becomes a warning that says it was not
// made; a transport failure is returned as the error.
func Preflight(ctx context.Context, c Clients, p *Plan, opts PreflightOptions) ([]Problem, error) {
	if p == nil {
		return nil, errors.New("preflight: no plan")
	}
	f := &preflight{c: c, p: p, opts: opts, problems: []Problem{}}
	f.log = opts.Logger
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	for _, check := range []func(context.Context) error{
		f.checkNetwork, f.checkEFS, f.checkKMS, f.checkRoles, f.checkQuotas, f.checkIdentityCenter, f.checkSageMakerRefs,
	} {
		if err := check(ctx); err != nil {
			return nil, fmt.Errorf("preflight: %w", err)
		}
	}
	slices.SortStableFunc(f.problems, func(x, y Problem) int {
		if x.Severity != y.Severity {
			if x.Severity == SeverityError {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Resource, y.Resource)
	})
	f.log.Info("preflight done", "errors", countSeverity(f.problems, SeverityError), "warnings", countSeverity(f.problems, SeverityWarning))
	return f.problems, nil
}

func countSeverity(ps []Problem, sev Severity) int {
	n := 0
	for _, p := range ps {
		if p.Severity == sev {
			n++
		}
	}
	return n
}

type preflight struct {
	c        Clients
	p        *Plan
	opts     PreflightOptions
	log      *slog.Logger
	problems []Problem
}

func (f *preflight) errorf(res, format string, args ...any) {
	f.problems = append(f.problems, Problem{Severity: SeverityError, Resource: res, Message: fmt.Sprintf(format, args...)})
}

func (f *preflight) warnf(res, format string, args ...any) {
	f.problems = append(f.problems, Problem{Severity: SeverityWarning, Resource: res, Message: fmt.Sprintf(format, args...)})
}

// notChecked turns a refused read into a warning; anything that is not an answer
// from the service (no connection, cancelled) is returned.
func (f *preflight) notChecked(res, what string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && ctxErr(err) == nil {
		f.warnf(res, "%s was not checked: %s: %s. Grant the read permission (migrator iam-policy lists it) and run plan --live again, or check it by hand", what, ae.ErrorCode(), ae.ErrorMessage())
		return nil
	}
	return fmt.Errorf("checking %s: %w", what, err)
}

func ctxErr(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func (f *preflight) region() string { return cmpOr(f.c.Region, "the target region") }

// usedIn renders where a reference is used, shortened for long lists.
func usedIn(places []string) string {
	if len(places) <= 2 {
		return strings.Join(places, ", ")
	}
	return fmt.Sprintf("%s, %s and %d more", places[0], places[1], len(places)-2)
}

// owner is the resource part of a UsedIn entry ("user-profile/alice UserSettings...").
func owner(place string) string {
	o, _, _ := strings.Cut(place, " ")
	return o
}

// ---- EC2 ----

// planSecurityGroups returns every security group the plan's settings name, with
// where.
func planSecurityGroups(p *Plan) map[string][]string {
	out := map[string][]string{}
	add := func(owner, member string, raw json.RawMessage, key string) {
		for _, id := range securityGroupsOf(raw, key) {
			place := owner + " " + member + "." + key
			if !slices.Contains(out[id], place) {
				out[id] = append(out[id], place)
			}
		}
	}
	d := p.Domain
	add(resourceDomain, "DomainSettings", d.DomainSettings, "SecurityGroupIds")
	add(resourceDomain, "DefaultUserSettings", d.DefaultUserSettings, "SecurityGroups")
	add(resourceDomain, "DefaultSpaceSettings", d.DefaultSpaceSettings, "SecurityGroups")
	for _, pr := range p.UserProfiles {
		add(profileResource(pr.Name), "UserSettings", pr.UserSettings, "SecurityGroups")
	}
	for _, places := range out {
		slices.Sort(places)
	}
	return out
}

func (f *preflight) hasRef(kind string) (ExternalRef, bool) {
	for _, r := range f.p.ExternalReferences {
		if r.Kind == kind {
			return r, true
		}
	}
	return ExternalRef{}, false
}

func (f *preflight) checkNetwork(ctx context.Context) error {
	d := f.p.Domain
	groups := planSecurityGroups(f.p)
	if d.VpcID == "" && len(d.SubnetIDs) == 0 && len(groups) == 0 {
		return nil
	}
	if f.c.EC2 == nil {
		f.warnf(resourceDomain, "the VPC, subnets and security groups were not checked: no EC2 client")
		return nil
	}
	if d.VpcID != "" {
		_, err := f.c.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{d.VpcID}})
		switch code := errorCode(err); {
		case err == nil:
		case code == "InvalidVpcID.NotFound" || code == "InvalidVpcID.Malformed":
			f.errorf(resourceDomain, "VPC %s does not exist in %s: create it (aws ec2 create-vpc) or pass --vpc-id with an existing VPC", d.VpcID, f.region())
		default:
			if err := f.notChecked(resourceDomain, "VPC "+d.VpcID, err); err != nil {
				return err
			}
		}
	}
	dual, isDual := f.hasRef(RefDualStack)
	if len(d.SubnetIDs) > 0 {
		out, err := f.c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("subnet-id"), Values: d.SubnetIDs}}})
		if err != nil {
			return f.notChecked(resourceDomain, "subnets "+strings.Join(d.SubnetIDs, ", "), err)
		}
		found := map[string]ec2types.Subnet{}
		for _, s := range out.Subnets {
			found[aws.ToString(s.SubnetId)] = s
		}
		for _, id := range d.SubnetIDs {
			s, ok := found[id]
			switch {
			case !ok:
				f.errorf(resourceDomain, "subnet %s does not exist in %s: create it in VPC %s (aws ec2 create-subnet) or pass --subnet-ids with existing subnets of %s", id, f.region(), d.VpcID, d.VpcID)
			case aws.ToString(s.VpcId) != d.VpcID:
				f.errorf(resourceDomain, "subnet %s belongs to VPC %s, not to the new domain's VPC %s: pass --subnet-ids with subnets of %s", id, aws.ToString(s.VpcId), d.VpcID, d.VpcID)
			case isDual && !hasIPv6(s):
				f.errorf(resourceDomain, "subnet %s has no IPv6 CIDR block, but IpAddressType is dualstack (%s): associate one (aws ec2 associate-subnet-cidr-block --ipv6-cidr-block ...) or set IpAddressType to ipv4", id, usedIn(dual.UsedIn))
			}
		}
	}
	if len(groups) > 0 {
		ids := sortedKeys(groups)
		out, err := f.c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: ids}}})
		if err != nil {
			return f.notChecked(resourceDomain, "security groups "+strings.Join(ids, ", "), err)
		}
		found := map[string]string{}
		for _, g := range out.SecurityGroups {
			found[aws.ToString(g.GroupId)] = aws.ToString(g.VpcId)
		}
		for _, id := range ids {
			res := owner(groups[id][0])
			vpc, ok := found[id]
			switch {
			case !ok:
				f.errorf(res, "security group %s (used in %s) does not exist in %s: create one in VPC %s (aws ec2 create-security-group) and pass it with --security-group-ids", id, usedIn(groups[id]), f.region(), d.VpcID)
			case d.VpcID != "" && vpc != d.VpcID:
				f.errorf(res, "security group %s (used in %s) belongs to VPC %s, not to the new domain's VPC %s: create one in %s and pass it with --security-group-ids", id, usedIn(groups[id]), vpc, d.VpcID, d.VpcID)
			}
		}
	}
	return nil
}

func hasIPv6(s ec2types.Subnet) bool {
	for _, a := range s.Ipv6CidrBlockAssociationSet {
		if aws.ToString(a.Ipv6CidrBlock) != "" {
			return true
		}
	}
	return false
}

// ---- EFS ----

// checkEFS checks each EFS file system the settings name: it exists in the target,
// and one of its mount targets is in a subnet of the new VPC (Studio apps run in the
// domain's subnets and mount it over NFS there).
func (f *preflight) checkEFS(ctx context.Context) error {
	vpcID := f.p.Domain.VpcID
	for _, r := range f.p.ExternalReferences {
		if r.Kind != RefEFS {
			continue
		}
		res := owner(r.UsedIn[0])
		if f.c.EFS == nil {
			f.warnf(res, "EFS file system %s (used in %s) was not checked: no EFS client", r.ID, usedIn(r.UsedIn))
			continue
		}
		_, err := f.c.EFS.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String(r.ID)})
		var nf *efstypes.FileSystemNotFound
		switch {
		case errors.As(err, &nf):
			f.errorf(res, "EFS file system %s (used in %s) does not exist in %s: create it (aws efs create-file-system) with a mount target in one of the new subnets' Availability Zones in VPC %s (aws efs create-mount-target), and set its ID in the settings, or remove it from CustomFileSystemConfigs / CustomFileSystems in the snapshot's settings", r.ID, usedIn(r.UsedIn), f.region(), vpcID)
			continue
		case err != nil:
			if err := f.notChecked(res, "EFS file system "+r.ID, err); err != nil {
				return err
			}
			continue
		}
		if vpcID == "" {
			continue // no VPC in the plan: nothing to match mount targets against
		}
		var mts []efstypes.MountTargetDescription
		var mtErr error
		pg := efs.NewDescribeMountTargetsPaginator(f.c.EFS, &efs.DescribeMountTargetsInput{FileSystemId: aws.String(r.ID)})
		for pg.HasMorePages() && mtErr == nil {
			var page *efs.DescribeMountTargetsOutput
			if page, mtErr = pg.NextPage(ctx); mtErr == nil {
				mts = append(mts, page.MountTargets...)
			}
		}
		if mtErr != nil {
			if err := f.notChecked(res, "the mount targets of EFS file system "+r.ID, mtErr); err != nil {
				return err
			}
			continue
		}
		inVPC, elsewhere := false, []string{}
		for _, mt := range mts {
			v := aws.ToString(mt.VpcId)
			if v == "" && f.c.EC2 != nil {
				v = f.subnetVPC(ctx, aws.ToString(mt.SubnetId))
			}
			if v == vpcID {
				inVPC = true
				break
			}
			elsewhere = append(elsewhere, aws.ToString(mt.SubnetId))
		}
		if !inVPC {
			where := "it has none"
			if len(elsewhere) > 0 {
				where = "its mount targets are in subnets " + strings.Join(elsewhere, ", ") + " of another VPC"
			}
			f.errorf(res, "EFS file system %s (used in %s) has no mount target in the new domain's VPC %s (%s), so apps cannot mount it: create a mount target in one of the new subnets' Availability Zones (aws efs create-mount-target --file-system-id %s --subnet-id <one of %s>), or remove it from CustomFileSystemConfigs / CustomFileSystems in the snapshot's settings",
				r.ID, usedIn(r.UsedIn), vpcID, where, r.ID, strings.Join(f.p.Domain.SubnetIDs, ", "))
		}
	}
	return nil
}

// subnetVPC is the VPC of a subnet, "" when it cannot be read.
func (f *preflight) subnetVPC(ctx context.Context, id string) string {
	out, err := f.c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{id}})
	if err != nil || len(out.Subnets) == 0 {
		return ""
	}
	return aws.ToString(out.Subnets[0].VpcId)
}

// ---- KMS ----

func (f *preflight) checkKMS(ctx context.Context) error {
	key := f.p.Domain.KmsKeyID
	if key == "" {
		return nil
	}
	if f.c.KMS == nil {
		f.warnf(resourceDomain, "KMS key %s was not checked: no KMS client", key)
		return nil
	}
	out, err := f.c.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key)})
	var nf *kmstypes.NotFoundException
	switch {
	case errors.As(err, &nf):
		f.errorf(resourceDomain, "KMS key %s does not exist in %s (or is not visible to this identity): create one (aws kms create-key) or pass --kms-key-id with an existing key", key, f.region())
		return nil
	case err != nil:
		return f.notChecked(resourceDomain, "KMS key "+key, err)
	}
	md := out.KeyMetadata
	switch md.KeyState {
	case kmstypes.KeyStateEnabled:
	case kmstypes.KeyStateDisabled:
		f.errorf(resourceDomain, "KMS key %s is Disabled: enable it (aws kms enable-key --key-id %s) or pass another --kms-key-id", key, aws.ToString(md.KeyId))
	case kmstypes.KeyStatePendingDeletion:
		f.errorf(resourceDomain, "KMS key %s is scheduled for deletion: cancel it (aws kms cancel-key-deletion --key-id %s, then enable-key) or pass another --kms-key-id", key, aws.ToString(md.KeyId))
	default:
		f.errorf(resourceDomain, "KMS key %s is %s, not Enabled: SageMaker cannot encrypt with it; pass another --kms-key-id", key, md.KeyState)
	}
	if md.KeySpec != kmstypes.KeySpecSymmetricDefault || md.KeyUsage != kmstypes.KeyUsageTypeEncryptDecrypt {
		f.errorf(resourceDomain, "KMS key %s is %s for %s: the domain's EFS and EBS volumes need a symmetric encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT); pass another --kms-key-id", key, md.KeySpec, md.KeyUsage)
	}
	pol, err := f.c.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: md.KeyId, PolicyName: aws.String("default")})
	if err != nil {
		return f.notChecked(resourceDomain, "the key policy of KMS key "+key, err)
	}
	allow, deny := keyPolicyGrants(aws.ToString(pol.Policy))
	switch {
	case deny != "":
		f.errorf(resourceDomain, "the key policy of KMS key %s denies %s without a condition: SageMaker and EFS need kms:CreateGrant, kms:Decrypt and kms:GenerateDataKey* on it; remove or narrow that statement", key, deny)
	case !allow:
		f.errorf(resourceDomain, "the key policy of KMS key %s allows kms:CreateGrant to no one (and does not delegate to IAM through the account root): SageMaker creates grants on the key for the domain's EFS; add a statement allowing the migrator's role kms:CreateGrant, kms:DescribeKey, kms:Decrypt and kms:GenerateDataKey*", key)
	}
	return nil
}

// keyPolicyGrants reads a key policy: whether some Allow statement covers
// kms:CreateGrant (what CreateDomain needs; an account-root kms:* statement
// delegates the decision to IAM policies, which counts), and the action of a Deny
// statement without a Condition that covers it.
func keyPolicyGrants(doc string) (allow bool, deny string) {
	for _, st := range policyStatements(doc) {
		if !actionCovers(st.Action, "kms:CreateGrant") && !actionCovers(st.Action, "kms:Decrypt") {
			continue
		}
		switch st.Effect {
		case "Allow":
			if actionCovers(st.Action, "kms:CreateGrant") {
				allow = true
			}
		case "Deny":
			if len(st.Condition) == 0 && deny == "" {
				deny = strings.Join(st.Action, ", ")
			}
		}
	}
	return allow, deny
}

// policyStatement is the part of an IAM or KMS policy statement the checks read.
// Action and Principal.Service may be a string or a list.
type policyStatement struct {
	Effect    string
	Action    []string
	Service   []string
	Condition map[string]any
}

func policyStatements(doc string) []policyStatement {
	var raw struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &raw) != nil {
		return nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw.Statement, &list) != nil {
		list = []json.RawMessage{raw.Statement}
	}
	var out []policyStatement
	for _, r := range list {
		var st struct {
			Effect    string
			Action    json.RawMessage
			Principal json.RawMessage
			Condition map[string]any
		}
		if json.Unmarshal(r, &st) != nil {
			continue
		}
		ps := policyStatement{Effect: st.Effect, Action: stringOrList(st.Action), Condition: st.Condition}
		var pr struct{ Service json.RawMessage }
		if json.Unmarshal(st.Principal, &pr) == nil {
			ps.Service = stringOrList(pr.Service)
		}
		out = append(out, ps)
	}
	return out
}

func stringOrList(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}

// actionCovers is true when one of the actions (with IAM's * wildcards, case
// insensitive) matches action.
func actionCovers(actions []string, action string) bool {
	for _, a := range actions {
		if wildcardMatch(strings.ToLower(a), strings.ToLower(action)) {
			return true
		}
	}
	return false
}

func wildcardMatch(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == s
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// ---- IAM ----

// trustsSageMaker reads a trust policy: whether an Allow statement lets
// sagemaker.amazonaws.com sts:AssumeRole, and whether one lets it sts:SetContext.
// Conditions are not evaluated.
func trustsSageMaker(doc string) (assume, setContext bool) {
	for _, st := range policyStatements(doc) {
		if st.Effect != "Allow" || !slices.Contains(st.Service, sageMakerPrincipal) {
			continue
		}
		assume = assume || actionCovers(st.Action, "sts:AssumeRole")
		setContext = setContext || actionCovers(st.Action, "sts:SetContext")
	}
	return assume, setContext
}

// tipEnabled is true when the plan's domain turns trusted identity propagation on.
func tipEnabled(p *Plan) bool {
	var ds struct {
		TrustedIdentityPropagationSettings struct{ Status string }
	}
	_ = unmarshalIfSet(p.Domain.DomainSettings, &ds)
	return ds.TrustedIdentityPropagationSettings.Status == "ENABLED"
}

func (f *preflight) checkRoles(ctx context.Context) error {
	tip := tipEnabled(f.p)
	var refs []ExternalRef
	for _, r := range f.p.ExternalReferences {
		if r.Kind == RefExecutionRole || r.Kind == RefIAMRole {
			refs = append(refs, r)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	if f.c.IAM == nil {
		f.warnf(resourceDomain, "%d roles were not checked: no IAM client", len(refs))
		return nil
	}
	for _, r := range refs {
		res := owner(r.UsedIn[0])
		name := r.ID[strings.LastIndex(r.ID, "/")+1:]
		if !strings.Contains(r.ID, ":iam::") || !strings.Contains(r.ID, ":role/") || name == "" {
			f.errorf(res, "%s (used in %s) is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME): fix the setting", r.ID, usedIn(r.UsedIn))
			continue
		}
		out, err := f.c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		if errorCode(err) == "NoSuchEntity" {
			f.errorf(res, "role %s (used in %s) does not exist: create it (aws iam create-role) with a trust policy allowing %s sts:AssumeRole, or change the setting to an existing role", r.ID, usedIn(r.UsedIn), sageMakerPrincipal)
			continue
		}
		if err != nil {
			if err := f.notChecked(res, "role "+r.ID, err); err != nil {
				return err
			}
			continue
		}
		if got := aws.ToString(out.Role.Arn); got != r.ID {
			f.errorf(res, "role %s (used in %s) does not exist; this account has %s under that name (another path or account): change the setting to it, or create the role at the named path", r.ID, usedIn(r.UsedIn), got)
			continue
		}
		if r.Kind != RefExecutionRole {
			continue
		}
		doc := aws.ToString(out.Role.AssumeRolePolicyDocument)
		if dec, err := url.QueryUnescape(doc); err == nil {
			doc = dec // IAM returns the document URL-encoded
		}
		assume, setContext := trustsSageMaker(doc)
		switch {
		case !assume:
			f.errorf(res, "execution role %s (used in %s) does not trust %s: SageMaker cannot assume it, so apps fail to start; add a trust statement {\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"%s\"},\"Action\":[\"sts:AssumeRole\"%s]} (aws iam update-assume-role-policy)",
				r.ID, usedIn(r.UsedIn), sageMakerPrincipal, sageMakerPrincipal, map[bool]string{true: ",\"sts:SetContext\"", false: ""}[tip])
		case tip && !setContext:
			f.errorf(res, "execution role %s (used in %s) does not allow sts:SetContext to %s, which trusted identity propagation needs: add \"sts:SetContext\" to the Action of its SageMaker trust statement (aws iam update-assume-role-policy), or apps fail to start", r.ID, usedIn(r.UsedIn), sageMakerPrincipal)
		}
	}
	return nil
}

// ---- quotas ----

// checkQuotas compares the plan with the account's SageMaker quotas, read from
// Service Quotas (ListServiceQuotas for service code "sagemaker") and matched by
// name, since the names say what they count: a quota naming "user profile(s)" and
// "domain" bounds the profiles of one domain; "space(s)" and "domain" the spaces;
// "domains" and "region" (or "account") the domains. When the quotas cannot be read
// (no permission, no such API on the endpoint, no matching quota) the preflight does
// not guess a default: SageMaker's defaults change and accounts raise them, so a
// hard-coded number would either block a valid plan or pass an invalid one. It
// warns instead, naming the counts the account must allow.
func (f *preflight) checkQuotas(ctx context.Context) error {
	profiles, spaces := len(f.p.UserProfiles), len(f.p.Spaces)
	unchecked := func(why string) {
		f.warnf(resourceDomain, "SageMaker quotas were not checked (%s): make sure the account allows one more domain in %s, %d user profiles and %d spaces per domain (Service Quotas console, Amazon SageMaker)", why, f.region(), profiles, spaces)
	}
	if f.c.ServiceQuotas == nil {
		unchecked("no Service Quotas client")
		return nil
	}
	var profQ, spaceQ, domainQ *quota
	pg := servicequotas.NewListServiceQuotasPaginator(f.c.ServiceQuotas, &servicequotas.ListServiceQuotasInput{ServiceCode: aws.String("sagemaker")})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			var ae smithy.APIError
			if errors.As(err, &ae) && ctxErr(err) == nil {
				unchecked(ae.ErrorCode() + ": " + ae.ErrorMessage())
				return nil
			}
			return fmt.Errorf("listing SageMaker quotas: %w", err)
		}
		for _, q := range page.Quotas {
			name := strings.ToLower(aws.ToString(q.QuotaName))
			cur := &quota{name: aws.ToString(q.QuotaName), code: aws.ToString(q.QuotaCode), value: aws.ToFloat64(q.Value)}
			switch {
			case strings.Contains(name, "user profile") && strings.Contains(name, "domain"):
				profQ = cur
			case strings.Contains(name, "space") && strings.Contains(name, "domain"):
				spaceQ = cur
			case strings.Contains(name, "domains") && (strings.Contains(name, "region") || strings.Contains(name, "account")):
				domainQ = cur
			}
		}
	}
	if profQ == nil || spaceQ == nil {
		unchecked("Service Quotas lists no SageMaker quota for user profiles or spaces per domain")
	}
	over := func(q *quota, n int, what string) {
		if q != nil && float64(n) > q.value {
			f.errorf(resourceDomain, "%s to create, but the account's quota %q (%s) is %g: request an increase in Service Quotas (aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code %s --desired-value %d) before applying, or move some to another domain",
				plural(n, what), q.name, q.code, q.value, q.code, n)
		}
	}
	over(profQ, profiles, "user profile")
	over(spaceQ, spaces, "space")
	if domainQ != nil {
		n := 0
		pg := sagemaker.NewListDomainsPaginator(f.c.SageMaker, &sagemaker.ListDomainsInput{MaxResults: aws.Int32(100)})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return f.notChecked(resourceDomain, "the number of domains", err)
			}
			n += len(page.Domains)
		}
		if float64(n+1) > domainQ.value {
			f.errorf(resourceDomain, "the account has %d domains in %s and its quota %q (%s) is %g, so the new domain cannot be created: delete an unused domain or request an increase (quota code %s)", n, f.region(), domainQ.name, domainQ.code, domainQ.value, domainQ.code)
		}
	}
	return nil
}

type quota struct {
	name, code string
	value      float64
}

// ---- Identity Center ----

func (f *preflight) checkIdentityCenter(ctx context.Context) error {
	if f.p.Domain.AuthMode != "SSO" {
		return nil
	}
	if f.c.SSOAdmin == nil || f.c.IdentityStore == nil {
		f.warnf(resourceDomain, "IAM Identity Center was not checked: no sso-admin or identitystore client")
		return nil
	}
	out, err := f.c.SSOAdmin.ListInstances(ctx, &ssoadmin.ListInstancesInput{})
	if err != nil {
		return f.notChecked(resourceDomain, "the IAM Identity Center instance", err)
	}
	if len(out.Instances) == 0 {
		f.errorf(resourceDomain, "there is no IAM Identity Center instance in %s, which an SSO domain needs: enable IAM Identity Center (organization or account instance) in this region, or keep the domain IAM (--auth-mode IAM)", f.region())
		return nil
	}
	store := aws.ToString(out.Instances[0].IdentityStoreId)
	for _, pr := range f.p.UserProfiles {
		if pr.SingleSignOnUserValue == "" {
			continue
		}
		_, err := f.c.IdentityStore.GetUserId(ctx, &identitystore.GetUserIdInput{
			IdentityStoreId: aws.String(store),
			AlternateIdentifier: &idstypes.AlternateIdentifierMemberUniqueAttribute{Value: idstypes.UniqueAttribute{
				AttributePath: aws.String("userName"), AttributeValue: document.NewLazyDocument(pr.SingleSignOnUserValue),
			}},
		})
		var nf *idstypes.ResourceNotFoundException
		switch {
		case errors.As(err, &nf):
			f.errorf(profileResource(pr.Name), "Identity Center user %q does not exist in identity store %s: create the user, or map the profile to an existing user in the --user-mapping file", pr.SingleSignOnUserValue, store)
		case err != nil:
			if err := f.notChecked(profileResource(pr.Name), "Identity Center user "+pr.SingleSignOnUserValue, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---- SageMaker resources the settings name ----

func (f *preflight) checkSageMakerRefs(ctx context.Context) error {
	content := map[string]bool{}
	for _, l := range f.p.LifecycleConfigs {
		content[l.ARN] = true
	}
	for _, r := range f.p.ExternalReferences {
		res := owner(r.UsedIn[0])
		switch r.Kind {
		case RefLifecycleConfig:
			name := lccName(r.ID)
			if name == "" {
				f.errorf(res, "%s (used in %s) is not a Studio lifecycle configuration ARN: fix the setting", r.ID, usedIn(r.UsedIn))
				continue
			}
			out, err := f.c.SageMaker.DescribeStudioLifecycleConfig(ctx, &sagemaker.DescribeStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String(name)})
			problem := ""
			switch {
			case isNotFound(err):
				problem = "does not exist in the target"
			case err != nil:
				if err := f.notChecked(res, "lifecycle configuration "+r.ID, err); err != nil {
					return err
				}
				continue
			case aws.ToString(out.StudioLifecycleConfigArn) != r.ID:
				problem = "is not in the target's account and region (the target has " + aws.ToString(out.StudioLifecycleConfigArn) + ")"
			}
			switch {
			case problem == "":
			case content[r.ID] && f.opts.RecreateLifecycleConfigs:
				f.warnf(res, "lifecycle configuration %s (used in %s) %s: it will be recreated from the snapshot's content under the same name, and the settings pointed at it", r.ID, usedIn(r.UsedIn), problem)
			case content[r.ID]:
				f.errorf(res, "lifecycle configuration %s (used in %s) %s: recreate it from the snapshot's content (apply with lifecycle configurations recreated: Applier.RecreateLifecycleConfigs) or create it by hand (aws sagemaker create-studio-lifecycle-config) under the same name", r.ID, usedIn(r.UsedIn), problem)
			default:
				f.errorf(res, "lifecycle configuration %s (used in %s) %s, and the snapshot holds no content for it: create it (aws sagemaker create-studio-lifecycle-config) under the same name, or remove it from the settings", r.ID, usedIn(r.UsedIn), problem)
			}
		case RefImage:
			_, err := f.c.SageMaker.DescribeImage(ctx, &sagemaker.DescribeImageInput{ImageName: aws.String(r.ID)})
			switch {
			case isNotFound(err):
				f.errorf(res, "custom image %s (used in %s) does not exist in the target: create it and its version (aws sagemaker create-image, create-image-version) or remove it from CustomImages", r.ID, usedIn(r.UsedIn))
			case err != nil:
				if err := f.notChecked(res, "custom image "+r.ID, err); err != nil {
					return err
				}
			}
		case RefAppImageConfig:
			_, err := f.c.SageMaker.DescribeAppImageConfig(ctx, &sagemaker.DescribeAppImageConfigInput{AppImageConfigName: aws.String(r.ID)})
			switch {
			case isNotFound(err):
				f.errorf(res, "app image config %s (used in %s) does not exist in the target: create it (aws sagemaker create-app-image-config) or remove the image from CustomImages", r.ID, usedIn(r.UsedIn))
			case err != nil:
				if err := f.notChecked(res, "app image config "+r.ID, err); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
