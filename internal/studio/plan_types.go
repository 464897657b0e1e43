package studio

import "encoding/json"

// JobTagKey is the tag every resource Apply creates carries, valued with the job ID,
// so a rerun finds what an earlier run of the same job created (and never adopts a
// resource someone else made with the same name).
const JobTagKey = "studio-migrator:job"

// Overrides are the administrator's changes for the new domain. Zero values keep the
// old domain's setting.
type Overrides struct {
	// DomainName of the new domain (default: the old name).
	DomainName string   `json:"domainName,omitempty"`
	VpcID      string   `json:"vpcId,omitempty"`
	SubnetIDs  []string `json:"subnetIds,omitempty"`
	// SecurityGroupIDs replace the security groups everywhere the old domain names
	// them (DomainSettings.SecurityGroupIds, DefaultUserSettings.SecurityGroups,
	// DefaultSpaceSettings.SecurityGroups, each profile's UserSettings.SecurityGroups):
	// security groups belong to a VPC, so a new VPC needs new ones.
	SecurityGroupIDs     []string `json:"securityGroupIds,omitempty"`
	KmsKeyID             string   `json:"kmsKeyId,omitempty"`
	AppNetworkAccessType string   `json:"appNetworkAccessType,omitempty"`
	// AuthMode "IAM" or "SSO".
	AuthMode string `json:"authMode,omitempty"`
	// UserMapping maps a user profile name to its Identity Center user name
	// (SingleSignOnUserValue); required for every profile when switching IAM -> SSO.
	UserMapping map[string]string `json:"userMapping,omitempty"`
}

// Plan is what Apply will build: the new domain, every profile and space as they will
// be created (settings already rewritten by the overrides), the list of actions for
// people to review, and every problem found. Apply refuses a plan with errors.
type Plan struct {
	// Source identifies the snapshot the plan came from.
	Source PlanSource `json:"source"`
	Domain DomainSpec `json:"domain"`
	// UserProfiles and Spaces are sorted by name.
	UserProfiles []ProfileSpec `json:"userProfiles"`
	Spaces       []SpaceSpec   `json:"spaces"`
	Actions      []Action      `json:"actions"`
	Problems     []Problem     `json:"problems"`
	// ExternalReferences are the resources outside the domain that the new
	// domain's settings name (lifecycle configurations, images, file systems,
	// roles, ...), each with where it is used; Preflight checks they exist in the
	// target (extrefs.go).
	ExternalReferences []ExternalRef `json:"externalReferences,omitempty"`
	// LifecycleConfigs are the snapshot's lifecycle configurations with their
	// content, for Applier.RecreateLifecycleConfigs.
	LifecycleConfigs []LifecycleConfig `json:"lifecycleConfigs,omitempty"`
}

// PlanSource names the old domain.
type PlanSource struct {
	DomainID   string `json:"domainId"`
	DomainName string `json:"domainName"`
	Region     string `json:"region"`
	AuthMode   string `json:"authMode"`
	// HomeEfsFileSystemID is the old domain's EFS (where the homes are copied from).
	HomeEfsFileSystemID string `json:"homeEfsFileSystemId,omitempty"`
}

// DomainSpec is the CreateDomain request for the new domain.
type DomainSpec struct {
	Name                       string   `json:"domainName"`
	AuthMode                   string   `json:"authMode"`
	VpcID                      string   `json:"vpcId"`
	SubnetIDs                  []string `json:"subnetIds"`
	KmsKeyID                   string   `json:"kmsKeyId,omitempty"`
	AppNetworkAccessType       string   `json:"appNetworkAccessType,omitempty"`
	AppSecurityGroupManagement string   `json:"appSecurityGroupManagement,omitempty"`
	TagPropagation             string   `json:"tagPropagation,omitempty"`
	// HomeEfsFileSystemCreation "Disabled": the new domain gets no home EFS either.
	HomeEfsFileSystemCreation string `json:"homeEfsFileSystemCreation,omitempty"`
	// Wire JSON, sent as is (see the package doc).
	DefaultUserSettings  json.RawMessage `json:"defaultUserSettings,omitempty"`
	DefaultSpaceSettings json.RawMessage `json:"defaultSpaceSettings,omitempty"`
	DomainSettings       json.RawMessage `json:"domainSettings,omitempty"`
	// Tags of the old domain; Apply adds JobTagKey.
	Tags []Tag `json:"tags"`
}

// ProfileSpec is one CreateUserProfile request.
type ProfileSpec struct {
	Name string `json:"userProfileName"`
	// OldUID is the profile's HomeEfsFileSystemUid in the old domain ("" when the
	// snapshot had none: nothing to copy).
	OldUID                     string          `json:"oldUid,omitempty"`
	SingleSignOnUserIdentifier string          `json:"singleSignOnUserIdentifier,omitempty"`
	SingleSignOnUserValue      string          `json:"singleSignOnUserValue,omitempty"`
	UserSettings               json.RawMessage `json:"userSettings,omitempty"`
	Tags                       []Tag           `json:"tags"`
}

// SpaceSpec is one CreateSpace request.
type SpaceSpec struct {
	Name                 string          `json:"spaceName"`
	OldUID               string          `json:"oldUid,omitempty"`
	DisplayName          string          `json:"spaceDisplayName,omitempty"`
	OwnerUserProfileName string          `json:"ownerUserProfileName,omitempty"`
	OwnershipSettings    json.RawMessage `json:"ownershipSettings,omitempty"`
	SpaceSharingSettings json.RawMessage `json:"spaceSharingSettings,omitempty"`
	SpaceSettings        json.RawMessage `json:"spaceSettings,omitempty"`
	Tags                 []Tag           `json:"tags"`
}

// Action is one line of the plan for people: what will be done to what.
type Action struct {
	// Kind: create-domain, create-user-profile, create-space, assign-user,
	// copy-home, install-lcc.
	Kind   string `json:"kind"`
	Target string `json:"target"`
	Detail string `json:"detail,omitempty"`
	// Storage says where a copy-home action's home lives: StorageEFS (copied EFS to
	// EFS) or StorageEBS (a JupyterLab or Code Editor space's own volume, moved
	// through the S3 lifecycle path).
	Storage string `json:"storage,omitempty"`
}

// Severity of a Problem: an error blocks Apply, a warning does not.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Problem is something found wrong with the plan, with what to do about it.
type Problem struct {
	Severity Severity `json:"severity"`
	// Resource is what it is about ("domain", "user-profile/alice", "space/team").
	Resource string `json:"resource"`
	Message  string `json:"message"`
}

// Errors returns the problems that block Apply.
func (p *Plan) Errors() []Problem {
	var out []Problem
	for _, pr := range p.Problems {
		if pr.Severity == SeverityError {
			out = append(out, pr)
		}
	}
	return out
}
