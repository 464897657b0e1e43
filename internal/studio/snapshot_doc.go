package studio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// SchemaVersion is the version of the snapshot document this build writes. A reader
// accepts any version up to it and refuses a newer one, whose meaning it cannot know.
const SchemaVersion = 1

// ErrBadSnapshot is wrapped by every error about a snapshot document's content.
var ErrBadSnapshot = errors.New("bad snapshot")

// Snapshot is everything needed to rebuild a Studio domain: the domain's settings and
// every user profile and space, with their home-directory UIDs. It is a versioned JSON
// document (see MarshalSnapshot); settings structures are kept as the service's own
// JSON (see the package doc). Profiles and spaces are sorted by name.
type Snapshot struct {
	SchemaVersion int       `json:"schemaVersion"`
	TakenAt       time.Time `json:"takenAt"`
	Region        string    `json:"region"`
	AccountID     string    `json:"accountId,omitempty"`

	Domain       Domain        `json:"domain"`
	UserProfiles []UserProfile `json:"userProfiles"`
	Spaces       []Space       `json:"spaces"`
	// LifecycleConfigs are the Studio lifecycle configurations the settings name,
	// with their content, so a rebuild in another account or region (or after they
	// were deleted) can recreate them (Applier.RecreateLifecycleConfigs). Sorted by
	// name; optional (older snapshots have none).
	LifecycleConfigs []LifecycleConfig `json:"lifecycleConfigs,omitempty"`
}

// LifecycleConfig is one Studio lifecycle configuration as
// DescribeStudioLifecycleConfig returns it.
type LifecycleConfig struct {
	Name    string `json:"studioLifecycleConfigName"`
	ARN     string `json:"studioLifecycleConfigArn"`
	AppType string `json:"studioLifecycleConfigAppType"`
	// Content is the script, base64-encoded, exactly as the service holds it.
	Content string `json:"studioLifecycleConfigContent"`
}

// Domain is the part of DescribeDomain (and ListTags) that defines the domain.
type Domain struct {
	ID   string `json:"domainId"`
	ARN  string `json:"domainArn"`
	Name string `json:"domainName"`
	// AuthMode is "IAM" or "SSO" (IAM Identity Center).
	AuthMode                   string   `json:"authMode"`
	VpcID                      string   `json:"vpcId"`
	SubnetIDs                  []string `json:"subnetIds"`
	KmsKeyID                   string   `json:"kmsKeyId,omitempty"`
	AppNetworkAccessType       string   `json:"appNetworkAccessType,omitempty"`
	AppSecurityGroupManagement string   `json:"appSecurityGroupManagement,omitempty"`
	TagPropagation             string   `json:"tagPropagation,omitempty"`
	// HomeEfsFileSystemCreation is "Enabled" or "Disabled" (no home EFS: every home is
	// on an EBS volume), "" when DescribeDomain did not say.
	HomeEfsFileSystemCreation string `json:"homeEfsFileSystemCreation,omitempty"`
	HomeEfsFileSystemID       string `json:"homeEfsFileSystemId,omitempty"`
	// Identity Center domains only.
	SingleSignOnApplicationArn               string `json:"singleSignOnApplicationArn,omitempty"`
	SingleSignOnManagedApplicationInstanceID string `json:"singleSignOnManagedApplicationInstanceId,omitempty"`

	// Wire JSON, exactly as DescribeDomain returned them (keys sorted).
	DefaultUserSettings  json.RawMessage `json:"defaultUserSettings,omitempty"`
	DefaultSpaceSettings json.RawMessage `json:"defaultSpaceSettings,omitempty"`
	DomainSettings       json.RawMessage `json:"domainSettings,omitempty"`

	Tags []Tag `json:"tags"`
}

// UserProfile is one user profile of the domain.
type UserProfile struct {
	Name string `json:"userProfileName"`
	ARN  string `json:"userProfileArn,omitempty"`
	// HomeEfsFileSystemUID is the profile's home directory on the domain's EFS, /<uid>.
	// A string, as in the API; read, never computed.
	HomeEfsFileSystemUID string `json:"homeEfsFileSystemUid"`
	Status               string `json:"status,omitempty"`
	// ExecutionRole is UserSettings.ExecutionRole, or empty when the profile uses the
	// domain's default; copied here so plans and policies need not parse settings.
	ExecutionRole string `json:"executionRole,omitempty"`
	// Identity Center mapping (SSO domains).
	SingleSignOnUserIdentifier string `json:"singleSignOnUserIdentifier,omitempty"`
	SingleSignOnUserValue      string `json:"singleSignOnUserValue,omitempty"`

	UserSettings json.RawMessage `json:"userSettings,omitempty"`
	Tags         []Tag           `json:"tags"`
}

// Space is one space of the domain.
type Space struct {
	Name                 string `json:"spaceName"`
	ARN                  string `json:"spaceArn,omitempty"`
	DisplayName          string `json:"spaceDisplayName,omitempty"`
	HomeEfsFileSystemUID string `json:"homeEfsFileSystemUid"`
	Status               string `json:"status,omitempty"`
	// OwnerUserProfileName is OwnershipSettings.OwnerUserProfileName (empty for
	// Studio Classic shared spaces).
	OwnerUserProfileName string `json:"ownerUserProfileName,omitempty"`
	// SharingType is SpaceSharingSettings.SharingType: "Private" or "Shared".
	SharingType string `json:"sharingType,omitempty"`
	// AppType is SpaceSettings.AppType (JupyterLab, CodeEditor, ...), empty for a
	// Studio Classic space.
	AppType string `json:"appType,omitempty"`

	OwnershipSettings    json.RawMessage `json:"ownershipSettings,omitempty"`
	SpaceSharingSettings json.RawMessage `json:"spaceSharingSettings,omitempty"`
	SpaceSettings        json.RawMessage `json:"spaceSettings,omitempty"`
	Tags                 []Tag           `json:"tags"`
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// MarshalSnapshot writes s as the canonical document: indented, profiles, spaces and
// tags sorted, settings with sorted keys, so two snapshots of the same domain differ
// only where the domain does (and in takenAt).
func MarshalSnapshot(s *Snapshot) ([]byte, error) {
	c := *s
	c.UserProfiles = slices.Clone(s.UserProfiles)
	c.Spaces = slices.Clone(s.Spaces)
	c.LifecycleConfigs = slices.Clone(s.LifecycleConfigs)
	slices.SortFunc(c.LifecycleConfigs, func(a, b LifecycleConfig) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(c.UserProfiles, func(a, b UserProfile) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(c.Spaces, func(a, b Space) int { return strings.Compare(a.Name, b.Name) })
	var err error
	canon := func(m json.RawMessage) json.RawMessage {
		if err != nil || m == nil {
			return m
		}
		var out json.RawMessage
		out, err = canonicalJSON(m)
		return out
	}
	c.Domain.DefaultUserSettings = canon(c.Domain.DefaultUserSettings)
	c.Domain.DefaultSpaceSettings = canon(c.Domain.DefaultSpaceSettings)
	c.Domain.DomainSettings = canon(c.Domain.DomainSettings)
	c.Domain.Tags = sortedTags(c.Domain.Tags)
	for i := range c.UserProfiles {
		p := &c.UserProfiles[i]
		p.UserSettings = canon(p.UserSettings)
		p.Tags = sortedTags(p.Tags)
	}
	for i := range c.Spaces {
		sp := &c.Spaces[i]
		sp.OwnershipSettings = canon(sp.OwnershipSettings)
		sp.SpaceSharingSettings = canon(sp.SpaceSharingSettings)
		sp.SpaceSettings = canon(sp.SpaceSettings)
		sp.Tags = sortedTags(sp.Tags)
	}
	if err != nil {
		return nil, fmt.Errorf("canonicalizing settings: %w", err)
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ReadSnapshot parses and validates a snapshot document. Unknown fields, a missing or
// newer schemaVersion, duplicate names and missing UIDs are errors wrapping
// ErrBadSnapshot, each saying what to fix.
func ReadSnapshot(r io.Reader) (*Snapshot, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var s Snapshot
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: not a snapshot document: %v", ErrBadSnapshot, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the document", ErrBadSnapshot)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Validate checks what a plan relies on.
func (s *Snapshot) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
	}
	switch {
	case s.SchemaVersion == 0:
		return bad("schemaVersion is missing (is this a snapshot written by `migrator snapshot`?)")
	case s.SchemaVersion < 0:
		return bad("schemaVersion %d is invalid", s.SchemaVersion)
	case s.SchemaVersion > SchemaVersion:
		return bad("schemaVersion %d is newer than this migrator understands (%d); use a newer migrator", s.SchemaVersion, SchemaVersion)
	}
	if s.Domain.Name == "" {
		return bad("domain.domainName is empty")
	}
	if s.Domain.AuthMode != "IAM" && s.Domain.AuthMode != "SSO" {
		return bad("domain.authMode %q is neither IAM nor SSO", s.Domain.AuthMode)
	}
	for _, raw := range []struct {
		name string
		v    json.RawMessage
	}{{"defaultUserSettings", s.Domain.DefaultUserSettings}, {"defaultSpaceSettings", s.Domain.DefaultSpaceSettings}, {"domainSettings", s.Domain.DomainSettings}} {
		if raw.v != nil && !isJSONObject(raw.v) {
			return bad("domain.%s is not a JSON object", raw.name)
		}
	}
	seen := map[string]bool{}
	for i, p := range s.UserProfiles {
		if p.Name == "" {
			return bad("userProfiles[%d] has no userProfileName", i)
		}
		if seen[p.Name] {
			return bad("user profile %q appears twice", p.Name)
		}
		seen[p.Name] = true
		if !validUID(p.HomeEfsFileSystemUID) {
			return bad("user profile %q: homeEfsFileSystemUid %q is not a number", p.Name, p.HomeEfsFileSystemUID)
		}
		if p.UserSettings != nil && !isJSONObject(p.UserSettings) {
			return bad("user profile %q: userSettings is not a JSON object", p.Name)
		}
	}
	clear(seen)
	for i, sp := range s.Spaces {
		if sp.Name == "" {
			return bad("spaces[%d] has no spaceName", i)
		}
		if seen[sp.Name] {
			return bad("space %q appears twice", sp.Name)
		}
		seen[sp.Name] = true
		if !validUID(sp.HomeEfsFileSystemUID) {
			return bad("space %q: homeEfsFileSystemUid %q is not a number", sp.Name, sp.HomeEfsFileSystemUID)
		}
		for _, raw := range []json.RawMessage{sp.OwnershipSettings, sp.SpaceSharingSettings, sp.SpaceSettings} {
			if raw != nil && !isJSONObject(raw) {
				return bad("space %q: a settings member is not a JSON object", sp.Name)
			}
		}
	}
	return nil
}

// validUID is true for "" (no home) and a decimal number: the UID names the home
// directory /<uid> on the EFS, so anything else (.., /, spaces) could name a path
// outside it.
func validUID(uid string) bool {
	for _, r := range uid {
		if r < '0' || r > '9' {
			return false
		}
	}
	return len(uid) <= 10
}

func isJSONObject(m json.RawMessage) bool {
	var v map[string]json.RawMessage
	return json.Unmarshal(m, &v) == nil && v != nil
}

// canonicalJSON re-encodes a JSON value with object keys sorted and no insignificant
// whitespace (json.Marshal sorts map keys), keeping numbers exactly as written.
func canonicalJSON(m json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(m))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func sortedTags(tags []Tag) []Tag {
	out := slices.Clone(tags)
	if out == nil {
		out = []Tag{}
	}
	slices.SortFunc(out, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	return out
}
