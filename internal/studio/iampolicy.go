package studio

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/studio-migrator/studio-migrator/internal/backup"
)

// IAMPolicyOptions describe what the worker will touch beyond the snapshot.
type IAMPolicyOptions struct {
	// NewDomainID scopes the new domain's statements to it once it exists. Before
	// that (the usual case: the policy is made before the migration) they are
	// scoped by the job tag every created resource carries (aws:RequestTag on
	// create, aws:ResourceTag afterwards), since the ID is not known yet. Domain
	// names do not appear in ARNs, so a name cannot scope anything.
	NewDomainID string
	// NewAuthMode is the new domain's auth mode when the plan changes it; "SSO" (or
	// an SSO snapshot) adds the Identity Center statements.
	NewAuthMode string
	// S3Bucket and S3Prefix: where backups go (S3 path); empty = no S3 statements.
	S3Bucket, S3Prefix string
	// EFSFileSystemIDs are more file systems to mount (the new domain's EFS); the
	// snapshot's own EFS is always included.
	EFSFileSystemIDs []string
	// KMSKeyIDs are more keys CreateDomain is given (an override); the snapshot's is
	// always included.
	KMSKeyIDs []string
	// AllowCleanup adds the delete actions on the old domain (Cleanup).
	AllowCleanup bool
	// AccountID when the snapshot has none (it is read from the domain ARN otherwise).
	AccountID string
}

// PolicyDocument is an IAM policy.
type PolicyDocument struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// PolicyStatement is one statement; Action and Resource are sorted.
type PolicyStatement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// IAMPolicy returns the least-privilege identity policy the worker needs to migrate
// the snapshot's domain as one document; when it cannot stay within IAM's size limit
// for a managed policy (see IAMPolicies) it is an error wrapping ErrPolicyTooLarge.
func IAMPolicy(s *Snapshot, o IAMPolicyOptions) (*PolicyDocument, error) {
	ps, err := IAMPolicies(s, o)
	if err != nil {
		return nil, err
	}
	if len(ps) > 1 {
		return nil, fmt.Errorf("iam policy: %w: %s", ErrPolicyTooLarge, ps[0].Note)
	}
	return ps[0].Document, nil
}

// iamPolicy builds the whole policy as one document, execution roles listed one by
// one: what the worker needs to migrate
// the snapshot's domain: read the old domain, install lifecycle configurations and
// restart apps on both domains, create the new domain and everything in it (tagged
// with JobTagKey), pass only the snapshot's execution roles to SageMaker, and, as
// the options say, Identity Center, S3, EFS and cleanup.
//
// Known limits: the List* calls of SageMaker and sso:ListInstances take no resource
// scoping ("*"); KMS and EC2 permissions SageMaker itself needs for a VPC-only
// domain (network interfaces) are the service's, not listed here.
func iamPolicy(s *Snapshot, o IAMPolicyOptions) (*PolicyDocument, error) {
	if s == nil {
		return nil, errors.New("iam policy: no snapshot")
	}
	if s.Domain.ID == "" || s.Region == "" {
		return nil, fmt.Errorf("iam policy: the snapshot has no domain ID or region")
	}
	partition := "aws"
	if parts := strings.SplitN(s.Domain.ARN, ":", 6); len(parts) == 6 && parts[1] != "" {
		partition = parts[1]
	}
	account := firstNonEmpty(s.AccountID, accountFromARN(s.Domain.ARN), o.AccountID)
	if account == "" {
		return nil, errors.New("iam policy: the snapshot names no account; give the account ID")
	}
	sm := func(resource string) string {
		return fmt.Sprintf("arn:%s:sagemaker:%s:%s:%s", partition, s.Region, account, resource)
	}
	old := s.Domain.ID
	oldResources := []string{sm("domain/" + old), sm("user-profile/" + old + "/*"), sm("space/" + old + "/*"), sm("app/" + old + "/*")}
	newID := o.NewDomainID
	if newID == "" {
		newID = "*"
	}
	newResources := []string{sm("domain/" + newID), sm("user-profile/" + newID + "/*"), sm("space/" + newID + "/*"), sm("app/" + newID + "/*")}
	var stmts []PolicyStatement
	add := func(sid string, actions, resources []string, cond map[string]map[string]string) {
		stmts = append(stmts, PolicyStatement{Sid: sid, Effect: "Allow", Action: sortedUnique(actions), Resource: sortedUnique(resources), Condition: cond})
	}
	tagged := func(key string) map[string]map[string]string {
		// The tag is present (its value, the job ID, is not known when the policy is made).
		return map[string]map[string]string{"Null": {key + "/" + JobTagKey: "false"}}
	}

	add("SageMakerList", []string{"sagemaker:ListDomains", "sagemaker:ListUserProfiles", "sagemaker:ListSpaces", "sagemaker:ListApps", "sagemaker:ListStudioLifecycleConfigs"}, []string{"*"}, nil)
	// findDomainByNameAndJob reads the tags of every domain that has the new name.
	add("SageMakerReadDomainTags", []string{"sagemaker:ListTags"}, []string{sm("domain/*")}, nil)
	add("SageMakerOldDomain", []string{
		"sagemaker:DescribeDomain", "sagemaker:DescribeUserProfile", "sagemaker:DescribeSpace", "sagemaker:DescribeApp", "sagemaker:ListTags",
		// Backup lifecycle configuration: attach to the domain, restart apps.
		"sagemaker:UpdateDomain", "sagemaker:CreateApp", "sagemaker:DeleteApp", "sagemaker:AddTags",
	}, oldResources, nil)
	if o.AllowCleanup {
		add("SageMakerCleanupOldDomain", []string{"sagemaker:DeleteDomain", "sagemaker:DeleteUserProfile", "sagemaker:DeleteSpace", "sagemaker:DeleteApp"}, oldResources, nil)
	}
	// CreateDomain cannot name the domain's ID before it exists: the job tag, which
	// every create carries, is the scope. AddTags is what tagging at create time needs.
	add("SageMakerCreateTagged", []string{"sagemaker:CreateDomain", "sagemaker:CreateUserProfile", "sagemaker:CreateSpace", "sagemaker:CreateApp", "sagemaker:AddTags"},
		append([]string{sm("domain/*")}, newResources[1:]...), tagged("aws:RequestTag"))
	manage := []string{"sagemaker:DescribeDomain", "sagemaker:UpdateDomain", "sagemaker:DescribeUserProfile", "sagemaker:DescribeSpace", "sagemaker:DescribeApp", "sagemaker:DeleteApp", "sagemaker:ListTags"}
	if o.NewDomainID != "" {
		add("SageMakerNewDomain", manage, newResources, nil)
	} else {
		add("SageMakerNewDomain", manage, newResources, tagged("aws:ResourceTag"))
	}
	add("SageMakerLifecycleConfigs", []string{"sagemaker:CreateStudioLifecycleConfig", "sagemaker:DescribeStudioLifecycleConfig", "sagemaker:AddTags"}, []string{sm("studio-lifecycle-config/*")}, nil)

	if roles := executionRoles(s); len(roles) > 0 {
		add("PassExecutionRoles", []string{"iam:PassRole"}, roles, map[string]map[string]string{"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})
	}
	// Preflight (plan --live) reads the trust policy of every role the settings name;
	// GetRole reads metadata only, so it is scoped to the account's roles rather
	// than listing each (which would double the policy's size).
	add("PreflightReadRoles", []string{"iam:GetRole"}, []string{fmt.Sprintf("arn:%s:iam::%s:role/*", partition, account)}, nil)
	var keys []string
	for _, k := range append([]string{s.Domain.KmsKeyID}, o.KMSKeyIDs...) {
		switch {
		case k == "":
		case strings.HasPrefix(k, "arn:"):
			keys = append(keys, k)
		case strings.HasPrefix(k, "alias/"):
			keys = append(keys, fmt.Sprintf("arn:%s:kms:%s:%s:%s", partition, s.Region, account, k))
		default:
			keys = append(keys, fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", partition, s.Region, account, k))
		}
	}
	if len(keys) > 0 {
		add("KMSForDomainEncryption", []string{"kms:CreateGrant", "kms:DescribeKey", "kms:GetKeyPolicy"}, keys, nil)
	}
	if s.Domain.AuthMode == "SSO" || strings.EqualFold(o.NewAuthMode, "SSO") {
		add("IdentityCenterInstances", []string{"sso:ListInstances"}, []string{"*"}, nil)
		add("IdentityCenterUsers", []string{"identitystore:GetUserId"}, []string{
			fmt.Sprintf("arn:%s:identitystore::%s:identitystore/*", partition, account),
			fmt.Sprintf("arn:%s:identitystore:::user/*", partition),
		}, nil)
		add("IdentityCenterAssignments", []string{"sso:CreateApplicationAssignment", "sso:ListApplicationAssignments"}, []string{
			fmt.Sprintf("arn:%s:sso::%s:application/*/*", partition, account),
			fmt.Sprintf("arn:%s:sso:::instance/*", partition),
		}, nil)
		// What CreateDomain (and DeleteDomain) call on the caller's behalf to make
		// the domain's Identity Center application; they take no resource scoping.
		domainApp := []string{"sso:CreateManagedApplicationInstance", "sso:DescribeRegisteredRegions", "sso:GetManagedApplicationInstance"}
		if o.AllowCleanup && s.Domain.AuthMode == "SSO" {
			domainApp = append(domainApp, "sso:DeleteManagedApplicationInstance")
		}
		add("IdentityCenterDomainApplication", domainApp, []string{"*"}, nil)
	}
	if o.S3Bucket != "" {
		// The worker's backup and restore statements, as internal/backup defines them
		// (multipart uploads included), in the snapshot's partition.
		for _, st := range backup.WorkerS3Statements(o.S3Bucket, o.S3Prefix) {
			var res []string
			for _, r := range st.Resource {
				res = append(res, "arn:"+partition+strings.TrimPrefix(r, "arn:aws"))
			}
			var cond map[string]map[string]string
			for op, kv := range st.Condition {
				if cond == nil {
					cond = map[string]map[string]string{}
				}
				cond[op] = map[string]string{}
				for k, v := range kv {
					cond[op][k] = fmt.Sprint(v)
				}
			}
			add("S3"+st.Sid, st.Action, res, cond)
		}
	}
	var fss []string
	for _, id := range append([]string{s.Domain.HomeEfsFileSystemID}, o.EFSFileSystemIDs...) {
		if id != "" {
			fss = append(fss, fmt.Sprintf("arn:%s:elasticfilesystem:%s:%s:file-system/%s", partition, s.Region, account, id))
		}
	}
	if len(fss) > 0 {
		// ClientRootAccess: re-owning every copied file to its new UID is chown, which
		// EFS allows only to root.
		add("EFSHomeCopy", []string{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"}, fss, nil)
	}
	// Preflight: EC2's Describe calls and ListServiceQuotas take no resource scoping.
	add("PreflightReadNetwork", []string{"ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"}, []string{"*"}, nil)
	// The EFS file systems of CustomFileSystemConfigs: both reads take a file-system
	// ARN, but the target may be a new account or region, so any file system there.
	add("PreflightReadFileSystems", []string{"elasticfilesystem:DescribeFileSystems", "elasticfilesystem:DescribeMountTargets"},
		[]string{fmt.Sprintf("arn:%s:elasticfilesystem:%s:%s:file-system/*", partition, s.Region, account)}, nil)
	add("PreflightReadQuotas", []string{"servicequotas:ListServiceQuotas"}, []string{"*"}, nil)
	add("PreflightReadImages", []string{"sagemaker:DescribeImage", "sagemaker:DescribeAppImageConfig"}, []string{sm("image/*"), sm("app-image-config/*")}, nil)
	return &PolicyDocument{Version: "2012-10-17", Statement: stmts}, nil
}

// MarshalPolicy writes the policy as indented JSON with a final newline.
func MarshalPolicy(p *PolicyDocument) ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// executionRoles are the roles the new domain's creates pass to SageMaker: the
// domain's default, the default space role, the RStudio domain role, and each
// profile's own.
func executionRoles(s *Snapshot) []string {
	var roles []string
	role := func(settings json.RawMessage) {
		var v struct{ ExecutionRole string }
		if len(settings) > 0 && json.Unmarshal(settings, &v) == nil && v.ExecutionRole != "" {
			roles = append(roles, v.ExecutionRole)
		}
	}
	role(s.Domain.DefaultUserSettings)
	role(s.Domain.DefaultSpaceSettings)
	var ds struct {
		RStudioServerProDomainSettings struct{ DomainExecutionRoleArn string }
	}
	if len(s.Domain.DomainSettings) > 0 && json.Unmarshal(s.Domain.DomainSettings, &ds) == nil && ds.RStudioServerProDomainSettings.DomainExecutionRoleArn != "" {
		roles = append(roles, ds.RStudioServerProDomainSettings.DomainExecutionRoleArn)
	}
	for _, p := range s.UserProfiles {
		if p.ExecutionRole != "" {
			roles = append(roles, p.ExecutionRole)
		}
		role(p.UserSettings)
	}
	return sortedUnique(roles)
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
