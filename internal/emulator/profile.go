package emulator

import (
	"encoding/json"
	"time"
)

type createUserProfileReq struct {
	DomainId                   *string
	UserProfileName            *string
	SingleSignOnUserIdentifier *string
	SingleSignOnUserValue      *string
	Tags                       []tagIn
	UserSettings               json.RawMessage
}

func (e *Emulator) createUserProfile(now time.Time, body []byte) (any, *apiError) {
	var req createUserProfileReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.required("DomainId", req.DomainId != nil)
	v.length("DomainId", req.DomainId, 0, 63)
	v.name("UserProfileName", req.UserProfileName)
	v.pattern("SingleSignOnUserIdentifier", req.SingleSignOnUserIdentifier, anchored("UserName"), "UserName")
	v.length("SingleSignOnUserValue", req.SingleSignOnUserValue, 0, 256)
	v.userSettings("UserSettings", req.UserSettings, false)
	v.tags("Tags", req.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	d, aerr := e.findDomain(req.DomainId)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := inService("Domain", d.arn, &d.lifecycle); aerr != nil {
		return nil, aerr
	}
	name := *req.UserProfileName
	arn := e.arn("user-profile/" + d.id + "/" + name)
	if _, ok := d.profiles[name]; ok {
		return nil, errInUse("User profile %q already exists.", arn)
	}
	ssoSet := req.SingleSignOnUserIdentifier != nil || req.SingleSignOnUserValue != nil
	switch {
	case d.authMode != "SSO" && ssoSet:
		return nil, errValidation("SingleSignOnUserIdentifier and SingleSignOnUserValue can only be specified for domains whose AuthMode is SSO.")
	case d.authMode == "SSO" && (req.SingleSignOnUserIdentifier == nil || req.SingleSignOnUserValue == nil):
		return nil, errValidation("SingleSignOnUserIdentifier and SingleSignOnUserValue are required for domains whose AuthMode is SSO.")
	case d.authMode == "SSO":
		if e.findIDCUserByName(*req.SingleSignOnUserValue) == nil {
			return nil, errValidation("User %q does not exist in the IAM Identity Center identity store %s.", *req.SingleSignOnUserValue, e.sso.identityStoreID)
		}
		for _, p := range d.profiles {
			if p.ssoValue == *req.SingleSignOnUserValue {
				return nil, errInUse("User %q already has user profile %q in domain %s.", p.ssoValue, p.name, d.id)
			}
		}
	}
	if len(d.profiles) >= e.opts.MaxUserProfilesPerDomain {
		return nil, errLimit("The account-level service limit 'Maximum number of user profiles per domain' is %d UserProfiles, with current utilization of %d UserProfiles and a request delta of 1 UserProfiles.", e.opts.MaxUserProfilesPerDomain, len(d.profiles))
	}
	p := &userProfile{
		name:          name,
		arn:           arn,
		uid:           e.allocUID(),
		ssoIdentifier: deref(req.SingleSignOnUserIdentifier),
		ssoValue:      deref(req.SingleSignOnUserValue),
		settings:      req.UserSettings,
	}
	p.created = now
	p.seq = e.nextSeq()
	after, target, reason := e.createOutcome("UserProfile", name)
	p.begin(now, after, statusPending, target, reason)
	if e.homeDir && reason == "" {
		if err := e.makeHome(d, p.uid); err != nil {
			return nil, &apiError{status: 500, code: "InternalFailure", msg: err.Error()}
		}
	}
	d.profiles[name] = p
	e.tags[arn] = tagList(req.Tags)
	e.log.Info("created user profile", "domain", d.id, "profile", name, "uid", p.uid)
	return map[string]any{"UserProfileArn": arn}, nil
}

type profileReq struct {
	DomainId        *string
	UserProfileName *string
	UserSettings    json.RawMessage
}

func (e *Emulator) findProfile(req *profileReq) (*domain, *userProfile, *apiError) {
	v := &validator{}
	v.required("DomainId", req.DomainId != nil)
	v.required("UserProfileName", req.UserProfileName != nil)
	if err := v.err(); err != nil {
		return nil, nil, err
	}
	d, aerr := e.findDomain(req.DomainId)
	if aerr != nil {
		return nil, nil, aerr
	}
	p, ok := d.profiles[*req.UserProfileName]
	if !ok {
		return nil, nil, errNotFound("User profile %q does not exist.", e.arn("user-profile/"+d.id+"/"+*req.UserProfileName))
	}
	return d, p, nil
}

type describeUserProfileResp struct {
	DomainId                   string          `json:"DomainId"`
	UserProfileArn             string          `json:"UserProfileArn"`
	UserProfileName            string          `json:"UserProfileName"`
	HomeEfsFileSystemUid       string          `json:"HomeEfsFileSystemUid"`
	Status                     string          `json:"Status"`
	LastModifiedTime           *epochTime      `json:"LastModifiedTime,omitempty"`
	CreationTime               *epochTime      `json:"CreationTime,omitempty"`
	FailureReason              *string         `json:"FailureReason,omitempty"`
	SingleSignOnUserIdentifier *string         `json:"SingleSignOnUserIdentifier,omitempty"`
	SingleSignOnUserValue      *string         `json:"SingleSignOnUserValue,omitempty"`
	UserSettings               json.RawMessage `json:"UserSettings,omitempty"`
}

func (e *Emulator) describeUserProfile(_ time.Time, body []byte) (any, *apiError) {
	var req profileReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	d, p, aerr := e.findProfile(&req)
	if aerr != nil {
		return nil, aerr
	}
	return describeUserProfileResp{
		DomainId:                   d.id,
		UserProfileArn:             p.arn,
		UserProfileName:            p.name,
		HomeEfsFileSystemUid:       p.uid,
		Status:                     p.status,
		LastModifiedTime:           ts(p.modified),
		CreationTime:               ts(p.created),
		FailureReason:              nonEmpty(p.failureReason),
		SingleSignOnUserIdentifier: nonEmpty(p.ssoIdentifier),
		SingleSignOnUserValue:      nonEmpty(p.ssoValue),
		UserSettings:               p.settings,
	}, nil
}

type userProfileDetails struct {
	DomainId         string     `json:"DomainId"`
	UserProfileName  string     `json:"UserProfileName"`
	Status           string     `json:"Status"`
	CreationTime     *epochTime `json:"CreationTime,omitempty"`
	LastModifiedTime *epochTime `json:"LastModifiedTime,omitempty"`
}

func sortKey(sortBy string, l *lifecycle) string {
	if sortBy == "LastModifiedTime" {
		return timeKey(l.modified)
	}
	return timeKey(l.created)
}

func (e *Emulator) listUserProfiles(_ time.Time, body []byte) (any, *apiError) {
	var req listReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.list(&req, "CreationTime", "LastModifiedTime")
	if err := v.err(); err != nil {
		return nil, err
	}
	var items []pageItem[userProfileDetails]
	for _, d := range e.domains {
		if req.DomainIdEquals != nil && d.id != *req.DomainIdEquals {
			continue
		}
		for _, p := range d.profiles {
			if !containsFold(p.name, req.UserProfileNameContains) {
				continue
			}
			items = append(items, pageItem[userProfileDetails]{key: sortKey(req.SortBy, &p.lifecycle), seq: p.seq, v: userProfileDetails{
				DomainId: d.id, UserProfileName: p.name, Status: p.status,
				CreationTime: ts(p.created), LastModifiedTime: ts(p.modified),
			}})
		}
	}
	page, next, aerr := paginate("ListUserProfiles", items, req.SortOrder == "Descending", req.NextToken, req.MaxResults, defaultPageSize)
	if aerr != nil {
		return nil, aerr
	}
	return withNextToken(map[string]any{"UserProfiles": page}, next), nil
}

func (e *Emulator) updateUserProfile(now time.Time, body []byte) (any, *apiError) {
	var req profileReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.userSettings("UserSettings", req.UserSettings, false)
	if err := v.err(); err != nil {
		return nil, err
	}
	_, p, aerr := e.findProfile(&req)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := updatable("User profile", p.arn, &p.lifecycle); aerr != nil {
		return nil, aerr
	}
	settings, err := mergeSettings(p.settings, req.UserSettings)
	if err != nil {
		return nil, errValidation("UserSettings: %v", err)
	}
	p.settings = settings
	p.beginOutcome(now, e.opts.ReadyAfter, statusUpdating, e.updateOutcome("UserProfile", p.name))
	return map[string]any{"UserProfileArn": p.arn}, nil
}

// liveApps counts the apps of a profile or space that still hold it.
func liveApps(d *domain, profile, spaceName string) int {
	n := 0
	for _, a := range d.apps {
		if a.status == statusDeleted || a.status == statusFailed {
			continue
		}
		if (profile != "" && a.profile == profile) || (spaceName != "" && a.space == spaceName) {
			n++
		}
	}
	return n
}

func (e *Emulator) deleteUserProfile(now time.Time, body []byte) (any, *apiError) {
	var req profileReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	d, p, aerr := e.findProfile(&req)
	if aerr != nil {
		return nil, aerr
	}
	switch p.status {
	case statusPending, statusUpdating, statusDeleting:
		return nil, errInUse("User profile %q is in %s status and cannot be deleted.", p.arn, p.status)
	}
	if liveApps(d, p.name, "") > 0 {
		return nil, errInUse("Unable to delete UserProfile [%s] because App(s) are associated with it.", p.arn)
	}
	for _, s := range d.spaces {
		if s.owner == p.name {
			return nil, errInUse("Unable to delete UserProfile [%s] because Space(s) are associated with it.", p.arn)
		}
	}
	p.beginOutcome(now, e.opts.ReadyAfter, statusDeleting, e.deleteOutcome("UserProfile", p.name))
	return struct{}{}, nil
}
