package emulator

import (
	"encoding/json"
	"strings"
	"time"
)

type createSpaceReq struct {
	DomainId             *string
	SpaceName            *string
	SpaceDisplayName     *string
	Tags                 []tagIn
	SpaceSettings        json.RawMessage
	OwnershipSettings    *struct{ OwnerUserProfileName *string }
	SpaceSharingSettings *struct{ SharingType string }
}

var spaceAppTypes = []string{"JupyterServer", "KernelGateway", "TensorBoard", "RStudioServerPro", "RSessionGateway", "JupyterLab", "CodeEditor", "DetailedProfiler", "Canvas"}

// spaceSettingsCheck is what ListSpaces summarises and the service validates.
type spaceSettingsCheck struct {
	AppType              string
	RemoteAccess         string
	SpaceStorageSettings json.RawMessage
}

func (v *validator) spaceSettings(raw json.RawMessage) spaceSettingsCheck {
	var ss spaceSettingsCheck
	if len(raw) == 0 {
		return ss
	}
	if err := json.Unmarshal(raw, &ss); err != nil {
		v.add("SpaceSettings", string(raw), "Member must be a structure")
		return ss
	}
	v.enum("SpaceSettings.AppType", ss.AppType, spaceAppTypes...)
	v.enum("SpaceSettings.RemoteAccess", ss.RemoteAccess, "ENABLED", "DISABLED")
	return ss
}

func (v *validator) displayName(s *string) {
	v.length("SpaceDisplayName", s, 0, 64)
	if s != nil && strings.TrimSpace(*s) == "" {
		v.add("SpaceDisplayName", *s, `Member must satisfy regular expression pattern: ^(?!\s*$).+`)
	}
}

func (e *Emulator) createSpace(now time.Time, body []byte) (any, *apiError) {
	var req createSpaceReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.required("DomainId", req.DomainId != nil)
	v.length("DomainId", req.DomainId, 0, 63)
	v.name("SpaceName", req.SpaceName)
	v.displayName(req.SpaceDisplayName)
	v.spaceSettings(req.SpaceSettings)
	if o := req.OwnershipSettings; o != nil {
		v.name("OwnershipSettings.OwnerUserProfileName", o.OwnerUserProfileName)
	}
	if s := req.SpaceSharingSettings; s != nil {
		v.required("SpaceSharingSettings.SharingType", s.SharingType != "")
		v.enum("SpaceSharingSettings.SharingType", s.SharingType, "Private", "Shared")
	}
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
	name := *req.SpaceName
	arn := e.arn("space/" + d.id + "/" + name)
	if _, ok := d.spaces[name]; ok {
		return nil, errInUse("Space %q already exists.", arn)
	}
	sharing, owner := "", ""
	if req.SpaceSharingSettings != nil {
		sharing = req.SpaceSharingSettings.SharingType
	}
	if req.OwnershipSettings != nil {
		owner = *req.OwnershipSettings.OwnerUserProfileName
	}
	// Shared and Studio Classic spaces are allowed in SSO domains too: the current
	// API reference sets no auth-mode condition on CreateSpace (see
	// studio.planBuilder.spaceSpecs for the pages).
	if (sharing == "") != (owner == "") {
		return nil, errValidation("OwnershipSettings and SpaceSharingSettings must be specified together.")
	}
	if owner != "" {
		p, ok := d.profiles[owner]
		if !ok {
			return nil, errNotFound("User profile %q does not exist.", e.arn("user-profile/"+d.id+"/"+owner))
		}
		if aerr := inService("User profile", p.arn, &p.lifecycle); aerr != nil {
			return nil, aerr
		}
	}
	if len(d.spaces) >= e.opts.MaxSpacesPerDomain {
		return nil, errLimit("The account-level service limit 'Maximum number of spaces per domain' is %d Spaces, with current utilization of %d Spaces and a request delta of 1 Spaces.", e.opts.MaxSpacesPerDomain, len(d.spaces))
	}
	s := &space{
		name:        name,
		arn:         arn,
		uid:         e.allocUID(),
		displayName: deref(req.SpaceDisplayName),
		url:         "https://" + d.id + ".studio." + e.opts.Region + ".sagemaker.aws/spaces/" + name,
		settings:    req.SpaceSettings,
		owner:       owner,
		sharingType: sharing,
	}
	s.created = now
	s.seq = e.nextSeq()
	after, target, reason := e.createOutcome("Space", name)
	s.begin(now, after, statusPending, target, reason)
	if reason == "" && (e.homeDir || onEBS(s.settings)) {
		if err := e.makeSpaceHome(d, s); err != nil {
			return nil, &apiError{status: 500, code: "InternalFailure", msg: err.Error()}
		}
	}
	d.spaces[name] = s
	e.tags[arn] = tagList(req.Tags)
	e.log.Info("created space", "domain", d.id, "space", name, "uid", s.uid)
	return map[string]any{"SpaceArn": arn}, nil
}

type spaceReq struct {
	DomainId         *string
	SpaceName        *string
	SpaceDisplayName *string
	SpaceSettings    json.RawMessage
}

func (e *Emulator) findSpace(req *spaceReq) (*domain, *space, *apiError) {
	v := &validator{}
	v.required("DomainId", req.DomainId != nil)
	v.required("SpaceName", req.SpaceName != nil)
	if err := v.err(); err != nil {
		return nil, nil, err
	}
	d, aerr := e.findDomain(req.DomainId)
	if aerr != nil {
		return nil, nil, aerr
	}
	s, ok := d.spaces[*req.SpaceName]
	if !ok {
		return nil, nil, errNotFound("Space %q does not exist.", e.arn("space/"+d.id+"/"+*req.SpaceName))
	}
	return d, s, nil
}

type ownershipSettings struct {
	OwnerUserProfileName string `json:"OwnerUserProfileName"`
}

type sharingSettings struct {
	SharingType string `json:"SharingType"`
}

type describeSpaceResp struct {
	DomainId             string             `json:"DomainId"`
	SpaceArn             string             `json:"SpaceArn"`
	SpaceName            string             `json:"SpaceName"`
	HomeEfsFileSystemUid string             `json:"HomeEfsFileSystemUid"`
	Status               string             `json:"Status"`
	LastModifiedTime     *epochTime         `json:"LastModifiedTime,omitempty"`
	CreationTime         *epochTime         `json:"CreationTime,omitempty"`
	FailureReason        *string            `json:"FailureReason,omitempty"`
	SpaceSettings        json.RawMessage    `json:"SpaceSettings,omitempty"`
	OwnershipSettings    *ownershipSettings `json:"OwnershipSettings,omitempty"`
	SpaceSharingSettings *sharingSettings   `json:"SpaceSharingSettings,omitempty"`
	SpaceDisplayName     *string            `json:"SpaceDisplayName,omitempty"`
	Url                  string             `json:"Url"`
}

func (s *space) ownership() (*ownershipSettings, *sharingSettings) {
	if s.sharingType == "" {
		return nil, nil
	}
	return &ownershipSettings{s.owner}, &sharingSettings{s.sharingType}
}

func (e *Emulator) describeSpace(_ time.Time, body []byte) (any, *apiError) {
	var req spaceReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	d, s, aerr := e.findSpace(&req)
	if aerr != nil {
		return nil, aerr
	}
	own, share := s.ownership()
	return describeSpaceResp{
		DomainId:             d.id,
		SpaceArn:             s.arn,
		SpaceName:            s.name,
		HomeEfsFileSystemUid: s.uid,
		Status:               s.status,
		LastModifiedTime:     ts(s.modified),
		CreationTime:         ts(s.created),
		FailureReason:        nonEmpty(s.failureReason),
		SpaceSettings:        s.settings,
		OwnershipSettings:    own,
		SpaceSharingSettings: share,
		SpaceDisplayName:     nonEmpty(s.displayName),
		Url:                  s.url,
	}, nil
}

type spaceSettingsSummary struct {
	AppType              string          `json:"AppType,omitempty"`
	RemoteAccess         string          `json:"RemoteAccess,omitempty"`
	SpaceStorageSettings json.RawMessage `json:"SpaceStorageSettings,omitempty"`
}

type spaceDetails struct {
	DomainId                    string                `json:"DomainId"`
	SpaceName                   string                `json:"SpaceName"`
	Status                      string                `json:"Status"`
	CreationTime                *epochTime            `json:"CreationTime,omitempty"`
	LastModifiedTime            *epochTime            `json:"LastModifiedTime,omitempty"`
	SpaceSettingsSummary        *spaceSettingsSummary `json:"SpaceSettingsSummary,omitempty"`
	SpaceSharingSettingsSummary *sharingSettings      `json:"SpaceSharingSettingsSummary,omitempty"`
	OwnershipSettingsSummary    *ownershipSettings    `json:"OwnershipSettingsSummary,omitempty"`
	SpaceDisplayName            *string               `json:"SpaceDisplayName,omitempty"`
}

func (e *Emulator) listSpaces(_ time.Time, body []byte) (any, *apiError) {
	var req listReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.list(&req, "CreationTime", "LastModifiedTime")
	if err := v.err(); err != nil {
		return nil, err
	}
	var items []pageItem[spaceDetails]
	for _, d := range e.domains {
		if req.DomainIdEquals != nil && d.id != *req.DomainIdEquals {
			continue
		}
		for _, s := range d.spaces {
			if !containsFold(s.name, req.SpaceNameContains) {
				continue
			}
			own, share := s.ownership()
			det := spaceDetails{
				DomainId: d.id, SpaceName: s.name, Status: s.status,
				CreationTime: ts(s.created), LastModifiedTime: ts(s.modified),
				SpaceSharingSettingsSummary: share, OwnershipSettingsSummary: own,
				SpaceDisplayName: nonEmpty(s.displayName),
			}
			var ss spaceSettingsCheck
			if len(s.settings) > 0 && json.Unmarshal(s.settings, &ss) == nil {
				det.SpaceSettingsSummary = &spaceSettingsSummary{AppType: ss.AppType, RemoteAccess: ss.RemoteAccess, SpaceStorageSettings: ss.SpaceStorageSettings}
			}
			items = append(items, pageItem[spaceDetails]{key: sortKey(req.SortBy, &s.lifecycle), seq: s.seq, v: det})
		}
	}
	page, next, aerr := paginate("ListSpaces", items, req.SortOrder == "Descending", req.NextToken, req.MaxResults, defaultPageSize)
	if aerr != nil {
		return nil, aerr
	}
	return withNextToken(map[string]any{"Spaces": page}, next), nil
}

func (e *Emulator) updateSpace(now time.Time, body []byte) (any, *apiError) {
	var req spaceReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.displayName(req.SpaceDisplayName)
	v.spaceSettings(req.SpaceSettings)
	if err := v.err(); err != nil {
		return nil, err
	}
	_, s, aerr := e.findSpace(&req)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := updatable("Space", s.arn, &s.lifecycle); aerr != nil {
		return nil, aerr
	}
	// SpaceSettings.AppType: "If using the UpdateSpace API, you can't change the app
	// type of your space by specifying a different value for this field."
	if old, nt := spaceAppType(s.settings), spaceAppType(req.SpaceSettings); old != "" && nt != "" && nt != old {
		return nil, errValidation("The AppType of space %s cannot be changed from %q to %q.", s.name, old, nt)
	}
	settings, err := mergeSettings(s.settings, req.SpaceSettings)
	if err != nil {
		return nil, errValidation("SpaceSettings: %v", err)
	}
	s.settings = settings
	if req.SpaceDisplayName != nil {
		s.displayName = *req.SpaceDisplayName
	}
	s.beginOutcome(now, e.opts.ReadyAfter, statusUpdating, e.updateOutcome("Space", s.name))
	return map[string]any{"SpaceArn": s.arn}, nil
}

func (e *Emulator) deleteSpace(now time.Time, body []byte) (any, *apiError) {
	var req spaceReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	d, s, aerr := e.findSpace(&req)
	if aerr != nil {
		return nil, aerr
	}
	switch s.status {
	case statusPending, statusUpdating, statusDeleting:
		return nil, errInUse("Space %q is in %s status and cannot be deleted.", s.arn, s.status)
	}
	if liveApps(d, "", s.name) > 0 {
		return nil, errInUse("Unable to delete Space [%s] because App(s) are associated with it.", s.arn)
	}
	s.beginOutcome(now, e.opts.ReadyAfter, statusDeleting, e.deleteOutcome("Space", s.name))
	return struct{}{}, nil
}
