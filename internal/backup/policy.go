package backup

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Least privilege for the backup bucket.
//
// Studio apps of one domain often share one execution role, so an identity policy
// cannot tell users apart. With the domain setting
// DomainSettings.ExecutionRoleIdentityConfig = USER_PROFILE_NAME, SageMaker sets the
// user profile's name as the source identity of the role session of every app it
// starts ("the configuration for attaching a SageMaker AI user profile name to the
// execution role as a sts:SourceIdentity key", API reference, DomainSettings:
// https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DomainSettings.html;
// https://docs.aws.amazon.com/sagemaker/latest/dg/monitor-user-access.html). Requests
// from that session carry the global condition key aws:SourceIdentity
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourceidentity),
// which, like every single-valued string key, can be used as a policy variable
// ${aws:SourceIdentity} in a Resource
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
// aws:PrincipalArn is the role's ARN for an assumed-role session, so the bucket
// policy can single out Studio's execution roles without touching other principals
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
//
// Limit: a space is not tied to one profile name, so space prefixes stay readable and
// writable by every Studio session of the listed roles; profile prefixes are private.

// Statement is one statement of a bucket policy (Principal and NotResource are used).
type Statement struct {
	Sid         string                    `json:"Sid"`
	Effect      string                    `json:"Effect"`
	Principal   any                       `json:"Principal,omitempty"`
	Action      []string                  `json:"Action"`
	Resource    []string                  `json:"Resource,omitempty"`
	NotResource []string                  `json:"NotResource,omitempty"`
	Condition   map[string]map[string]any `json:"Condition,omitempty"`
}

// Policy is an IAM or bucket policy document.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

func arns(bucket, prefix string) (bucketARN, objects, keyPrefix string) {
	p := strings.Trim(prefix, "/")
	bucketARN = "arn:aws:s3:::" + bucket
	if p == "" {
		return bucketARN, bucketARN + "/*", ""
	}
	return bucketARN, bucketARN + "/" + p + "/*", p + "/"
}

// BucketPolicy returns the bucket policy under which Studio sessions of the given
// execution roles (ARNs) can read and write only their own profile's backups
// (<prefix>/<domain>/profile/<their profile name>/...) and the space backups, even
// when every profile shares one role. Sessions of those roles without a source
// identity (ExecutionRoleIdentityConfig not set) are denied everything in the bucket.
// Other principals (the worker, administrators) are not affected.
func BucketPolicy(bucket, prefix string, studioRoles []string) (*Policy, error) {
	if bucket == "" || strings.ContainsAny(bucket, "/*") {
		return nil, fmt.Errorf("bucket %q: want a bucket name", bucket)
	}
	if len(studioRoles) == 0 {
		return nil, fmt.Errorf("no execution role ARNs: the policy restricts the roles Studio apps run as")
	}
	roles := append([]string(nil), studioRoles...)
	sort.Strings(roles)
	for _, r := range roles {
		if !strings.HasPrefix(r, "arn:") || !strings.Contains(r, ":role/") {
			return nil, fmt.Errorf("execution role %q: want a role ARN (arn:aws:iam::<account>:role/<name>)", r)
		}
	}
	bucketARN, _, kp := arns(bucket, prefix)
	own := bucketARN + "/" + kp + "*/profile/${aws:SourceIdentity}/*"
	spaces := bucketARN + "/" + kp + "*/space/*"
	isStudio := map[string]any{"aws:PrincipalArn": roles}
	objActions := []string{"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"}
	return &Policy{Version: "2012-10-17", Statement: []Statement{
		{
			Sid: "StudioSessionsNeedASourceIdentity", Effect: "Deny", Principal: "*",
			Action: []string{"s3:*"}, Resource: []string{bucketARN, bucketARN + "/*"},
			Condition: map[string]map[string]any{"ArnLike": isStudio, "Null": {"aws:SourceIdentity": "true"}},
		},
		{
			Sid: "StudioSessionsOnlyTheirOwnProfileObjects", Effect: "Deny", Principal: "*",
			Action: objActions, NotResource: []string{own, spaces},
			Condition: map[string]map[string]any{"ArnLike": isStudio},
		},
		{
			Sid: "StudioSessionsListOnlyTheirOwnProfile", Effect: "Deny", Principal: "*",
			Action: []string{"s3:ListBucket"}, Resource: []string{bucketARN},
			Condition: map[string]map[string]any{"ArnLike": isStudio, "StringNotLike": {"s3:prefix": []string{
				kp + "*/profile/${aws:SourceIdentity}/*", kp + "*/space/*"}}},
		},
		{
			Sid: "StudioSessionsBackUpAndRestore", Effect: "Allow", Principal: map[string]any{"AWS": roles},
			Action: objActions, Resource: []string{own, spaces},
		},
		{
			Sid: "StudioSessionsList", Effect: "Allow", Principal: map[string]any{"AWS": roles},
			Action: []string{"s3:ListBucket"}, Resource: []string{bucketARN},
		},
	}}, nil
}

// JSON renders a policy, indented.
func (p *Policy) JSON() []byte {
	b, _ := json.MarshalIndent(p, "", "  ")
	return b
}

// WorkerS3Statements returns the identity-policy statements the worker needs to back
// homes up to and restore them from bucket/prefix (list the prefix; read and write
// objects, multipart uploads included). iam-policy merges them into its document.
func WorkerS3Statements(bucket, prefix string) []Statement {
	bucketARN, objects, kp := arns(bucket, prefix)
	list := Statement{Sid: "BackupList", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{bucketARN}}
	if kp != "" {
		list.Condition = map[string]map[string]any{"StringLike": {"s3:prefix": kp + "*"}}
	}
	return []Statement{list, {
		Sid: "BackupObjects", Effect: "Allow",
		Action:   []string{"s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"},
		Resource: []string{objects},
	}}
}
