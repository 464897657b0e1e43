package studio

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// PlanOptions tune NewPlan.
type PlanOptions struct {
	// Region the new domain is created in (default: the snapshot's region). Only used
	// to tell whether the new domain's name shadows the old one.
	Region string
}

// Resource names used in Problems and Actions.
const resourceDomain = "domain"

func profileResource(name string) string { return "user-profile/" + name }
func spaceResource(name string) string   { return "space/" + name }

// Action kinds.
const (
	ActionCreateDomain  = "create-domain"
	ActionCreateProfile = "create-user-profile"
	ActionAssignUser    = "assign-user"
	ActionCreateSpace   = "create-space"
	ActionCopyHome      = "copy-home"
)

// Formats of the identifiers an override may name. They are checked here, before
// anything is created, because CreateDomain would only reject them after the plan
// was approved (or, for a well-formed ID from the wrong VPC, much later).
// The override checks' regexps, compiled on first use (see lazyRE).
var (
	vpcIDRE      = lazyRE(`^vpc-[0-9a-f]{8,17}$`)
	subnetIDRE   = lazyRE(`^subnet-[0-9a-f]{8,17}$`)
	sgIDRE       = lazyRE(`^sg-[0-9a-f]{8,17}$`)
	domainNameRE = lazyRE(`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`)
	kmsKeyRE     = lazyRE(`^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[a-zA-Z0-9/_-]+` +
		`|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}` +
		`|mrk-[0-9a-f]{32}` +
		`|alias/[a-zA-Z0-9/_-]+)$`)
)

// lazyRE compiles p on first use: package init runs in every migrator command
// (copy-home and --help included), and counted repeats such as {0,62} take
// milliseconds to compile.
func lazyRE(p string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(p) })
}

// Limits the service enforces on security group lists.
const (
	maxUserSecurityGroups   = 5 // UserSettings.SecurityGroups
	maxDomainSecurityGroups = 3 // DomainSettings.SecurityGroupIds
)

// maxTags is the most tags a SageMaker resource takes (aws: tags not counted).
const maxTags = 50

// ssoUserIdentifier is the only SingleSignOnUserIdentifier the service accepts.
const ssoUserIdentifier = "UserName"

// NewPlan turns a snapshot and the administrator's overrides into the plan for the
// new domain. It returns an error only when the input cannot be planned at all (no
// snapshot, an invalid one, settings that are not JSON objects); everything the
// administrator can fix (bad overrides, missing Identity Center mappings, spaces an
// Identity Center domain cannot hold, ...) is a Problem, so one run reports all of it.
func NewPlan(s *Snapshot, o Overrides, opts PlanOptions) (*Plan, error) {
	if s == nil {
		return nil, errors.New("planning: no snapshot")
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("planning: %w", err)
	}
	b := &planBuilder{s: s, o: o, opts: opts}
	if b.opts.Region == "" {
		b.opts.Region = s.Region
	}
	if err := b.build(); err != nil {
		return nil, fmt.Errorf("planning the new domain for %s: %w", s.Domain.ID, err)
	}
	return b.p, nil
}

type planBuilder struct {
	s    *Snapshot
	o    Overrides
	opts PlanOptions
	p    *Plan

	fromAuth, toAuth string
	// profiles by name, for owner and mapping checks.
	profiles map[string]bool
}

func (b *planBuilder) problem(sev Severity, resource, format string, args ...any) {
	b.p.Problems = append(b.p.Problems, Problem{Severity: sev, Resource: resource, Message: fmt.Sprintf(format, args...)})
}

func (b *planBuilder) errorf(resource, format string, args ...any) {
	b.problem(SeverityError, resource, format, args...)
}

func (b *planBuilder) warnf(resource, format string, args ...any) {
	b.problem(SeverityWarning, resource, format, args...)
}

func (b *planBuilder) action(kind, target, detail string) {
	b.p.Actions = append(b.p.Actions, Action{Kind: kind, Target: target, Detail: detail})
}

func (b *planBuilder) storageAction(kind, target, detail, storage string) {
	b.p.Actions = append(b.p.Actions, Action{Kind: kind, Target: target, Detail: detail, Storage: storage})
}

func (b *planBuilder) build() error {
	s, o := b.s, b.o
	b.p = &Plan{
		Source: PlanSource{
			DomainID: s.Domain.ID, DomainName: s.Domain.Name, Region: s.Region,
			AuthMode: s.Domain.AuthMode, HomeEfsFileSystemID: s.Domain.HomeEfsFileSystemID,
		},
		UserProfiles: []ProfileSpec{},
		Spaces:       []SpaceSpec{},
		Actions:      []Action{},
		Problems:     []Problem{},
	}
	b.fromAuth = s.Domain.AuthMode
	b.toAuth = cmp.Or(o.AuthMode, s.Domain.AuthMode)
	b.profiles = map[string]bool{}
	for _, p := range s.UserProfiles {
		b.profiles[p.Name] = true
	}

	b.checkOverrides()
	if err := b.domainSpec(); err != nil {
		return err
	}
	if err := b.profileSpecs(); err != nil {
		return err
	}
	b.spaceSpecs()
	b.checkVpcOnly()
	b.actions()
	b.p.ExternalReferences = planExternalRefs(b.p) // extrefs.go
	b.externalRefProblems()
	b.p.LifecycleConfigs = slices.Clone(s.LifecycleConfigs)
	// Errors first, then warnings; within a severity, by resource, keeping the
	// order the checks found them in.
	slices.SortStableFunc(b.p.Problems, func(x, y Problem) int {
		if x.Severity != y.Severity {
			if x.Severity == SeverityError {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Resource, y.Resource)
	})
	return nil
}

// checkOverrides validates the overrides on their own and against the old domain.
func (b *planBuilder) checkOverrides() {
	s, o := b.s, b.o
	if o.DomainName != "" && !domainNameRE().MatchString(o.DomainName) {
		b.errorf(resourceDomain, "domain name %q is not valid: use 1-63 letters, digits and hyphens, starting with a letter or digit", o.DomainName)
	}
	if o.AuthMode != "" && o.AuthMode != "IAM" && o.AuthMode != "SSO" {
		b.errorf(resourceDomain, "auth mode %q is not valid: use IAM or SSO (IAM Identity Center)", o.AuthMode)
		b.toAuth = s.Domain.AuthMode // keep checking the rest against something real
	}
	if o.AppNetworkAccessType != "" && o.AppNetworkAccessType != "PublicInternetOnly" && o.AppNetworkAccessType != "VpcOnly" {
		b.errorf(resourceDomain, "app network access type %q is not valid: use PublicInternetOnly or VpcOnly", o.AppNetworkAccessType)
	}
	if o.VpcID != "" && !vpcIDRE().MatchString(o.VpcID) {
		b.errorf(resourceDomain, "VPC ID %q is not valid: want vpc- followed by 8 or 17 hex digits", o.VpcID)
	}
	for _, id := range o.SubnetIDs {
		if !subnetIDRE().MatchString(id) {
			b.errorf(resourceDomain, "subnet ID %q is not valid: want subnet- followed by 8 or 17 hex digits", id)
		}
	}
	if dup := firstDuplicate(o.SubnetIDs); dup != "" {
		b.errorf(resourceDomain, "subnet %s is listed twice", dup)
	}
	if len(o.SubnetIDs) > 16 {
		b.errorf(resourceDomain, "%d subnets given: a domain takes at most 16", len(o.SubnetIDs))
	}
	for _, id := range o.SecurityGroupIDs {
		if !sgIDRE().MatchString(id) {
			b.errorf(resourceDomain, "security group ID %q is not valid: want sg- followed by 8 or 17 hex digits", id)
		}
	}
	if dup := firstDuplicate(o.SecurityGroupIDs); dup != "" {
		b.errorf(resourceDomain, "security group %s is listed twice", dup)
	}
	if len(o.SecurityGroupIDs) > maxUserSecurityGroups {
		b.errorf(resourceDomain, "%d security groups given: user settings take at most %d", len(o.SecurityGroupIDs), maxUserSecurityGroups)
	}
	if o.KmsKeyID != "" && !kmsKeyRE().MatchString(o.KmsKeyID) {
		b.errorf(resourceDomain, "KMS key %q is not valid: give a key ARN, a key ID (UUID or mrk-...), or an alias (alias/NAME or its ARN)", o.KmsKeyID)
	}

	// Subnets and security groups belong to a VPC: moving to another VPC without
	// new ones would create a domain that cannot start apps.
	if o.VpcID != "" && o.VpcID != s.Domain.VpcID {
		if len(o.SubnetIDs) == 0 {
			b.errorf(resourceDomain, "the VPC changes from %s to %s but no subnets were given: subnets belong to a VPC, so pass --subnet-ids with subnets of %s", s.Domain.VpcID, o.VpcID, o.VpcID)
		}
		if old := b.oldSecurityGroups(); len(old) > 0 && len(o.SecurityGroupIDs) == 0 {
			b.errorf(resourceDomain, "the VPC changes from %s to %s but the old domain uses security groups %s, which belong to the old VPC: pass --security-group-ids with groups of %s", s.Domain.VpcID, o.VpcID, strings.Join(old, ", "), o.VpcID)
		}
	}

	// Identity Center mapping.
	if len(o.UserMapping) > 0 && b.toAuth != "SSO" {
		b.warnf(resourceDomain, "the user mapping is ignored: the new domain uses IAM, which has no Identity Center users")
	}
	for _, name := range sortedKeys(o.UserMapping) {
		if !b.profiles[name] {
			b.errorf(profileResource(name), "the user mapping names user profile %q, which is not in the snapshot: fix the name or remove the line", name)
		}
		if strings.TrimSpace(o.UserMapping[name]) == "" {
			b.errorf(profileResource(name), "the user mapping gives no Identity Center user name for %q", name)
		}
	}
}

// checkVpcOnly checks the new domain's network settings once they are final. With
// VpcOnly access apps reach the network only through the domain's subnets and the
// security groups of DefaultUserSettings, which CreateDomain then requires.
func (b *planBuilder) checkVpcOnly() {
	d := b.p.Domain
	if d.AppNetworkAccessType != "VpcOnly" {
		return
	}
	if len(d.SubnetIDs) == 0 {
		b.errorf(resourceDomain, "VpcOnly network access needs subnets: pass --subnet-ids")
	}
	if len(securityGroupsOf(d.DefaultUserSettings, "SecurityGroups")) == 0 {
		b.errorf(resourceDomain, "VpcOnly network access needs security groups in DefaultUserSettings (apps reach the network only through them), and the new domain has none: pass --security-group-ids")
	}
}

// securityGroupsOf returns the security group list member of a settings object.
func securityGroupsOf(raw json.RawMessage, member string) []string {
	var v map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var ids []string
	_ = json.Unmarshal(v[member], &ids)
	return ids
}

// oldSecurityGroups returns every security group the old domain names, sorted.
func (b *planBuilder) oldSecurityGroups() []string {
	set := map[string]bool{}
	add := func(raw json.RawMessage, member string) {
		for _, id := range securityGroupsOf(raw, member) {
			set[id] = true
		}
	}
	d := b.s.Domain
	add(d.DomainSettings, "SecurityGroupIds")
	add(d.DefaultUserSettings, "SecurityGroups")
	add(d.DefaultSpaceSettings, "SecurityGroups")
	for _, p := range b.s.UserProfiles {
		add(p.UserSettings, "SecurityGroups")
	}
	return sortedKeys(set)
}

func (b *planBuilder) domainSpec() error {
	s, o := b.s, b.o
	d := s.Domain
	spec := DomainSpec{
		Name:                       cmp.Or(o.DomainName, d.Name),
		AuthMode:                   b.toAuth,
		VpcID:                      cmp.Or(o.VpcID, d.VpcID),
		SubnetIDs:                  slices.Clone(orSlice(o.SubnetIDs, d.SubnetIDs)),
		KmsKeyID:                   cmp.Or(o.KmsKeyID, d.KmsKeyID),
		AppNetworkAccessType:       cmp.Or(o.AppNetworkAccessType, d.AppNetworkAccessType),
		AppSecurityGroupManagement: d.AppSecurityGroupManagement,
		TagPropagation:             d.TagPropagation,
		HomeEfsFileSystemCreation:  d.HomeEfsFileSystemCreation,
		Tags:                       b.copyTags(resourceDomain, d.Tags),
	}
	if spec.SubnetIDs == nil {
		spec.SubnetIDs = []string{}
	}
	var err error
	sgs := o.SecurityGroupIDs
	if spec.DefaultUserSettings, err = rewriteSettings(d.DefaultUserSettings, func(m map[string]json.RawMessage) error {
		// The domain-wide default is where apps take their security groups from, so
		// new groups go here even if the old domain named none.
		if len(sgs) > 0 {
			return setMember(m, "SecurityGroups", sgs)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("rewriting DefaultUserSettings: %w", err)
	}
	if spec.DefaultSpaceSettings, err = rewriteSettings(d.DefaultSpaceSettings, replaceIfPresent("SecurityGroups", sgs)); err != nil {
		return fmt.Errorf("rewriting DefaultSpaceSettings: %w", err)
	}
	if spec.DomainSettings, err = rewriteSettings(d.DomainSettings, func(m map[string]json.RawMessage) error {
		if len(sgs) > 0 {
			if _, ok := m["SecurityGroupIds"]; ok {
				if len(sgs) > maxDomainSecurityGroups {
					b.errorf(resourceDomain, "DomainSettings.SecurityGroupIds takes at most %d security groups, %d given: pass at most %d with --security-group-ids", maxDomainSecurityGroups, len(sgs), maxDomainSecurityGroups)
				}
				if err := setMember(m, "SecurityGroupIds", sgs); err != nil {
					return err
				}
			}
		}
		if _, tip := m["TrustedIdentityPropagationSettings"]; tip && b.toAuth != "SSO" {
			// It only exists on Identity Center domains; CreateDomain rejects it
			// on an IAM domain.
			delete(m, "TrustedIdentityPropagationSettings")
			b.warnf(resourceDomain, "trusted identity propagation is turned off: it exists only on Identity Center (SSO) domains, and the new domain uses IAM")
		}
		return nil
	}); err != nil {
		return fmt.Errorf("rewriting DomainSettings: %w", err)
	}
	b.p.Domain = spec

	if b.fromAuth != b.toAuth {
		b.warnf(resourceDomain, "the auth mode changes from %s to %s", b.fromAuth, b.toAuth)
	}
	if spec.Name == d.Name && b.opts.Region == s.Region {
		b.warnf(resourceDomain, "the new domain has the same name %q as the old one in %s: AWS allows it, and the migrator tells them apart by the %s tag, but people in the console may not; consider --domain-name", d.Name, s.Region, JobTagKey)
	}
	return nil
}

func (b *planBuilder) profileSpecs() error {
	s, o := b.s, b.o
	toSSO := b.toAuth == "SSO"
	var missing, dropped []string
	ssoUsers := map[string][]string{} // lower-cased SSO user -> profiles
	for _, p := range sortedProfiles(s.UserProfiles) {
		res := profileResource(p.Name)
		spec := ProfileSpec{
			Name:   p.Name,
			OldUID: p.HomeEfsFileSystemUID,
			Tags:   b.copyTags(res, p.Tags),
		}
		var err error
		if spec.UserSettings, err = rewriteSettings(p.UserSettings, replaceIfPresent("SecurityGroups", o.SecurityGroupIDs)); err != nil {
			return fmt.Errorf("rewriting UserSettings of user profile %s: %w", p.Name, err)
		}
		if toSSO {
			value := p.SingleSignOnUserValue
			if v, ok := o.UserMapping[p.Name]; ok && strings.TrimSpace(v) != "" {
				value = strings.TrimSpace(v)
			}
			if value == "" {
				missing = append(missing, p.Name)
			} else {
				spec.SingleSignOnUserIdentifier = cmp.Or(p.SingleSignOnUserIdentifier, ssoUserIdentifier)
				spec.SingleSignOnUserValue = value
				key := strings.ToLower(value) // Identity Center user names are case-insensitive
				ssoUsers[key] = append(ssoUsers[key], p.Name)
			}
		} else if p.SingleSignOnUserValue != "" {
			dropped = append(dropped, p.Name)
		}
		if p.HomeEfsFileSystemUID == "" {
			b.warnf(res, "no home directory to copy: the old profile has no HomeEfsFileSystemUid")
		}
		b.statusProblem(res, p.Status)
		b.p.UserProfiles = append(b.p.UserProfiles, spec)
	}
	if len(dropped) > 0 {
		// One line, not one per profile: it is the same fact for all of them.
		b.warnf(resourceDomain, "the Identity Center users of %s are dropped (%s): the new domain uses IAM, so people sign in through IAM (console or presigned URL) instead", plural(len(dropped), "user profile"), strings.Join(dropped, ", "))
	}
	if len(missing) > 0 {
		if b.fromAuth == "IAM" {
			b.errorf(resourceDomain, "switching from IAM to SSO needs an Identity Center user for every user profile; missing for %d: %s. Add a line \"profile,ssoUserName\" for each to the --user-mapping file", len(missing), strings.Join(missing, ", "))
		} else {
			b.errorf(resourceDomain, "user profiles without an Identity Center user cannot be created in an SSO domain: %s. Map each in the --user-mapping file", strings.Join(missing, ", "))
		}
	}
	for _, key := range sortedKeys(ssoUsers) {
		if names := ssoUsers[key]; len(names) > 1 {
			b.errorf(resourceDomain, "Identity Center user %q is mapped to %d user profiles (%s): a user may hold one profile per domain; map each profile to a different user", key, len(names), strings.Join(names, ", "))
		}
	}
	return nil
}

func (b *planBuilder) spaceSpecs() {
	toSSO := b.toAuth == "SSO"
	for _, sp := range sortedSpaces(b.s.Spaces) {
		res := spaceResource(sp.Name)
		spec := SpaceSpec{
			Name:                 sp.Name,
			OldUID:               sp.HomeEfsFileSystemUID,
			DisplayName:          sp.DisplayName,
			OwnerUserProfileName: sp.OwnerUserProfileName,
			OwnershipSettings:    sp.OwnershipSettings,
			SpaceSharingSettings: sp.SpaceSharingSettings,
			SpaceSettings:        sp.SpaceSettings,
			Tags:                 b.copyTags(res, sp.Tags),
		}
		if sp.OwnerUserProfileName != "" && !b.profiles[sp.OwnerUserProfileName] {
			b.errorf(res, "owner %q is not a user profile in the snapshot, so the space cannot be created: take a new snapshot, or edit ownerUserProfileName to an existing profile", sp.OwnerUserProfileName)
		}
		// Shared spaces on Identity Center (SSO) domains are allowed. Only the
		// Studio administration whitepaper, which AWS now marks "for historical
		// reference only", tied shared spaces to IAM domains
		// (https://docs.aws.amazon.com/whitepapers/latest/sagemaker-studio-admin-best-practices/multiple-domains-and-shared-spaces.html).
		// The current API reference creates "a private space or a space used for real
		// time collaboration in a domain" with no auth-mode condition
		// (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateSpace.html),
		// and the current guide gives users of any domain access to private and
		// shared spaces
		// (https://docs.aws.amazon.com/sagemaker/latest/dg/studio-updated-jl-admin-guide-permissions.html).
		// Studio Classic spaces get a warning: Studio Classic is the legacy experience.
		if toSSO && (sp.AppType == "" || sp.SharingType == "") {
			b.warnf(res, "a Studio Classic space (no app type or sharing settings) in an Identity Center (SSO) domain: it is recreated as it is; consider moving its files into a JupyterLab or Code Editor space")
		}
		if sp.HomeEfsFileSystemUID == "" {
			b.warnf(res, "no home directory to copy: the old space has no HomeEfsFileSystemUid")
		}
		b.statusProblem(res, sp.Status)
		b.p.Spaces = append(b.p.Spaces, spec)
	}
}

func (b *planBuilder) statusProblem(res, status string) {
	switch status {
	case "Failed", "Update_Failed", "Delete_Failed":
		b.warnf(res, "status %s in the old domain: it will be created anew; its home directory may be incomplete", status)
	case "Deleting":
		b.warnf(res, "being deleted in the old domain (status Deleting): it will still be recreated; remove it from the snapshot if it should not be")
	}
}

func (b *planBuilder) actions() {
	d := b.p.Domain
	detail := []string{"auth " + d.AuthMode, "VPC " + d.VpcID, "subnets " + strings.Join(d.SubnetIDs, ",")}
	if d.AppNetworkAccessType != "" {
		detail = append(detail, "network "+d.AppNetworkAccessType)
	}
	if d.KmsKeyID != "" {
		detail = append(detail, "KMS key "+d.KmsKeyID)
	}
	if len(b.o.SecurityGroupIDs) > 0 {
		detail = append(detail, "security groups "+strings.Join(b.o.SecurityGroupIDs, ","))
	}
	b.action(ActionCreateDomain, d.Name, strings.Join(detail, "; "))
	roles := map[string]string{}
	for _, p := range b.s.UserProfiles {
		roles[p.Name] = p.ExecutionRole
	}
	for _, p := range b.p.UserProfiles {
		det := "execution role: domain default"
		if r := roles[p.Name]; r != "" {
			det = "execution role " + r
		}
		if p.SingleSignOnUserValue != "" {
			det += "; Identity Center user " + p.SingleSignOnUserValue
		}
		b.action(ActionCreateProfile, p.Name, det)
	}
	for _, p := range b.p.UserProfiles {
		if p.SingleSignOnUserValue != "" {
			// Without the assignment the user gets "Access Denied" opening Studio.
			b.action(ActionAssignUser, p.Name, "assign Identity Center user "+p.SingleSignOnUserValue+" to the new domain's application")
		}
	}
	appTypes := map[string]Space{}
	for _, sp := range b.s.Spaces {
		appTypes[sp.Name] = sp
	}
	for _, sp := range b.p.Spaces {
		old := appTypes[sp.Name]
		det := cmp.Or(old.SharingType, "Studio Classic") + " space"
		if old.AppType != "" {
			det = old.SharingType + " " + old.AppType + " space"
		}
		if sp.OwnerUserProfileName != "" {
			det += " owned by " + sp.OwnerUserProfileName
		}
		b.action(ActionCreateSpace, sp.Name, det)
	}
	from := cmp.Or(b.s.Domain.HomeEfsFileSystemID, "the old EFS")
	for _, p := range b.p.UserProfiles {
		if p.OldUID != "" {
			b.storageAction(ActionCopyHome, profileResource(p.Name), fmt.Sprintf("/%s on %s -> the new profile's UID on the new EFS", p.OldUID, from), StorageEFS)
		}
	}
	for _, sp := range b.p.Spaces {
		if sp.OldUID == "" {
			continue
		}
		storage := HomeStorage(appTypes[sp.Name])
		det := fmt.Sprintf("/%s on %s -> the new space's UID on the new EFS", sp.OldUID, from)
		if storage == StorageEBS {
			det = "the " + appTypes[sp.Name].AppType + " space's own EBS volume -> the new space's volume, through the S3 lifecycle path"
		}
		b.storageAction(ActionCopyHome, spaceResource(sp.Name), det, storage)
	}
}

// copyTags returns the tags to create a resource with: the old ones without the
// migrator's job tag (Apply adds the new job's) and without aws: tags, which only AWS
// may set.
func (b *planBuilder) copyTags(res string, tags []Tag) []Tag {
	out := []Tag{}
	var reserved []string
	for _, t := range sortedTags(tags) {
		switch {
		case t.Key == JobTagKey:
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			reserved = append(reserved, t.Key)
		default:
			out = append(out, t)
		}
	}
	if len(reserved) > 0 {
		b.warnf(res, "tags %s are not copied: keys starting with aws: are reserved for AWS", strings.Join(reserved, ", "))
	}
	if len(out) >= maxTags {
		// Apply adds JobTagKey to every create; the create would fail after the
		// domain (and perhaps other resources) had been made.
		b.errorf(res, "%d tags to copy, but a resource takes at most %d and the migrator adds its own %s tag: remove at least %d tags from the old resource or from the snapshot", len(out), maxTags, JobTagKey, len(out)-maxTags+1)
	}
	return out
}

// rewriteSettings applies edit to a settings object and returns it as canonical JSON.
// Absent settings stay absent unless edit adds a member.
func rewriteSettings(raw json.RawMessage, edit func(map[string]json.RawMessage) error) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if !isEmptyJSON(raw) {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("settings are not a JSON object: %w", err)
		}
	}
	if err := edit(m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return canonicalJSON(out)
}

// replaceIfPresent replaces member with v when the settings already have it: a
// profile that inherits the domain's security groups keeps inheriting them.
func replaceIfPresent(member string, v []string) func(map[string]json.RawMessage) error {
	return func(m map[string]json.RawMessage) error {
		if _, ok := m[member]; ok && len(v) > 0 {
			return setMember(m, member, v)
		}
		return nil
	}
}

func setMember(m map[string]json.RawMessage, member string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	m[member] = b
	return nil
}

func sortedProfiles(ps []UserProfile) []UserProfile {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b UserProfile) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func sortedSpaces(ss []Space) []Space {
	out := slices.Clone(ss)
	slices.SortFunc(out, func(a, b Space) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func firstDuplicate(ids []string) string {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return id
		}
		seen[id] = true
	}
	return ""
}

// orSlice is cmp.Or for slices: the override when given, else the old value.
func orSlice[T any](override, old []T) []T {
	if len(override) > 0 {
		return override
	}
	return old
}
