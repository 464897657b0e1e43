package emulator

import (
	"encoding/json"
	"strings"
	"time"
)

type appReq struct {
	DomainId        *string
	UserProfileName *string
	SpaceName       *string
	AppType         string
	AppName         *string
	Tags            []tagIn
	ResourceSpec    json.RawMessage
	RecoveryMode    *bool
}

// appOwner resolves the profile or space an app request names (exactly one of them).
func (e *Emulator) appOwner(req *appReq) (*domain, *lifecycle, string, *apiError) {
	v := &validator{}
	v.required("DomainId", req.DomainId != nil)
	v.required("AppType", req.AppType != "")
	v.enum("AppType", req.AppType, spaceAppTypes...)
	v.name("AppName", req.AppName)
	if req.UserProfileName != nil {
		v.pattern("UserProfileName", req.UserProfileName, nameRE(), namePattern)
	}
	if req.SpaceName != nil {
		v.pattern("SpaceName", req.SpaceName, nameRE(), namePattern)
	}
	v.tags("Tags", req.Tags)
	if err := v.err(); err != nil {
		return nil, nil, "", err
	}
	if (req.UserProfileName == nil) == (req.SpaceName == nil) {
		return nil, nil, "", errValidation("Exactly one of UserProfileName or SpaceName must be specified.")
	}
	d, aerr := e.findDomain(req.DomainId)
	if aerr != nil {
		return nil, nil, "", aerr
	}
	if req.UserProfileName != nil {
		p, ok := d.profiles[*req.UserProfileName]
		if !ok {
			return nil, nil, "", errNotFound("User profile %q does not exist.", e.arn("user-profile/"+d.id+"/"+*req.UserProfileName))
		}
		return d, &p.lifecycle, p.uid, nil
	}
	s, ok := d.spaces[*req.SpaceName]
	if !ok {
		return nil, nil, "", errNotFound("Space %q does not exist.", e.arn("space/"+d.id+"/"+*req.SpaceName))
	}
	return d, &s.lifecycle, s.uid, nil
}

func (req *appReq) key() string {
	return appKey(deref(req.UserProfileName), deref(req.SpaceName), req.AppType, deref(req.AppName))
}

func (e *Emulator) createApp(now time.Time, body []byte) (any, *apiError) {
	var req appReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	d, owner, uid, aerr := e.appOwner(&req)
	if aerr != nil {
		return nil, aerr
	}
	ownerName := deref(req.UserProfileName) + deref(req.SpaceName)
	if aerr := inService("Owner", ownerName, owner); aerr != nil {
		return nil, aerr
	}
	if req.SpaceName != nil {
		// A space runs the one app type it was created for.
		if st := spaceAppType(d.spaces[*req.SpaceName].settings); st != "" && st != req.AppType {
			return nil, errValidation("Space %s is a %s space; it cannot run a %s app.", *req.SpaceName, st, req.AppType)
		}
	}
	arn := e.arn("app/" + d.id + "/" + ownerName + "/" + strings.ToLower(req.AppType) + "/" + *req.AppName)
	if old, ok := d.apps[req.key()]; ok && old.status != statusDeleted && old.status != statusFailed {
		return nil, errInUse("App %q already exists with status %s.", arn, old.status)
	}
	// A Studio Classic home appears when the user first starts an app; an EBS-backed
	// space's volume was made with the space.
	if !e.homeDir && (req.SpaceName == nil || !onEBS(d.spaces[*req.SpaceName].settings)) {
		if err := e.makeHome(d, uid); err != nil {
			return nil, &apiError{status: 500, code: "InternalFailure", msg: err.Error()}
		}
	}
	a := &app{
		domainID:     d.id,
		profile:      deref(req.UserProfileName),
		space:        deref(req.SpaceName),
		appType:      req.AppType,
		name:         *req.AppName,
		arn:          arn,
		resourceSpec: req.ResourceSpec,
		recoveryMode: req.RecoveryMode,
	}
	a.created = now
	a.seq = e.nextSeq()
	after, target, reason := e.createOutcome("App", a.name)
	a.begin(now, after, statusPending, target, reason)
	e.startLCC(d, a)
	d.apps[req.key()] = a
	e.tags[arn] = tagList(req.Tags)
	return map[string]any{"AppArn": arn}, nil
}

func (e *Emulator) findApp(req *appReq) (*domain, *app, *apiError) {
	d, _, _, aerr := e.appOwner(req)
	if aerr != nil {
		return nil, nil, aerr
	}
	a, ok := d.apps[req.key()]
	if !ok {
		ownerName := deref(req.UserProfileName) + deref(req.SpaceName)
		return nil, nil, errNotFound("App %q does not exist.", e.arn("app/"+d.id+"/"+ownerName+"/"+strings.ToLower(req.AppType)+"/"+*req.AppName))
	}
	return d, a, nil
}

type describeAppResp struct {
	AppArn           string          `json:"AppArn"`
	AppType          string          `json:"AppType"`
	AppName          string          `json:"AppName"`
	DomainId         string          `json:"DomainId"`
	UserProfileName  *string         `json:"UserProfileName,omitempty"`
	SpaceName        *string         `json:"SpaceName,omitempty"`
	Status           string          `json:"Status"`
	RecoveryMode     *bool           `json:"RecoveryMode,omitempty"`
	FailureReason    *string         `json:"FailureReason,omitempty"`
	CreationTime     *epochTime      `json:"CreationTime,omitempty"`
	ResourceSpec     json.RawMessage `json:"ResourceSpec,omitempty"`
	LastHealthCheck  *epochTime      `json:"LastHealthCheckTimestamp,omitempty"`
	LastUserActivity *epochTime      `json:"LastUserActivityTimestamp,omitempty"`
}

func (e *Emulator) describeApp(_ time.Time, body []byte) (any, *apiError) {
	var req appReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	_, a, aerr := e.findApp(&req)
	if aerr != nil {
		return nil, aerr
	}
	out := describeAppResp{
		AppArn: a.arn, AppType: a.appType, AppName: a.name, DomainId: a.domainID,
		UserProfileName: nonEmpty(a.profile), SpaceName: nonEmpty(a.space),
		Status: a.status, RecoveryMode: a.recoveryMode, FailureReason: nonEmpty(a.failureReason),
		CreationTime: ts(a.created), ResourceSpec: a.resourceSpec,
	}
	if a.status == statusInService {
		out.LastHealthCheck = ts(a.modified)
		out.LastUserActivity = ts(a.modified)
	}
	return out, nil
}

type appDetails struct {
	DomainId        string          `json:"DomainId"`
	UserProfileName *string         `json:"UserProfileName,omitempty"`
	SpaceName       *string         `json:"SpaceName,omitempty"`
	AppType         string          `json:"AppType"`
	AppName         string          `json:"AppName"`
	Status          string          `json:"Status"`
	CreationTime    *epochTime      `json:"CreationTime,omitempty"`
	ResourceSpec    json.RawMessage `json:"ResourceSpec,omitempty"`
}

func (e *Emulator) listApps(_ time.Time, body []byte) (any, *apiError) {
	var req listReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.list(&req, "CreationTime")
	if err := v.err(); err != nil {
		return nil, err
	}
	if req.UserProfileNameEquals != nil && req.SpaceNameEquals != nil {
		return nil, errValidation("UserProfileNameEquals and SpaceNameEquals cannot both be specified.")
	}
	var items []pageItem[appDetails]
	for _, d := range e.domains {
		if req.DomainIdEquals != nil && d.id != *req.DomainIdEquals {
			continue
		}
		for _, a := range d.apps {
			if req.UserProfileNameEquals != nil && a.profile != *req.UserProfileNameEquals {
				continue
			}
			if req.SpaceNameEquals != nil && a.space != *req.SpaceNameEquals {
				continue
			}
			items = append(items, pageItem[appDetails]{key: timeKey(a.created), seq: a.seq, v: appDetails{
				DomainId: d.id, UserProfileName: nonEmpty(a.profile), SpaceName: nonEmpty(a.space),
				AppType: a.appType, AppName: a.name, Status: a.status,
				CreationTime: ts(a.created), ResourceSpec: a.resourceSpec,
			}})
		}
	}
	page, next, aerr := paginate("ListApps", items, req.SortOrder == "Descending", req.NextToken, req.MaxResults, defaultPageSize)
	if aerr != nil {
		return nil, aerr
	}
	return withNextToken(map[string]any{"Apps": page}, next), nil
}

func (e *Emulator) deleteApp(now time.Time, body []byte) (any, *apiError) {
	var req appReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	_, a, aerr := e.findApp(&req)
	if aerr != nil {
		return nil, aerr
	}
	switch {
	case a.status == statusDeleted:
		return nil, errNotFound("App %q does not exist.", a.arn)
	case a.status == statusPending && !a.lccHeld, a.status == statusDeleting:
		return nil, errInUse("App %q is in %s status and cannot be deleted.", a.arn, a.status)
	}
	if a.lccHeld {
		// Deleting an app whose lifecycle configuration runs stops its container,
		// and the script with it.
		e.killLCC(a, "the app was deleted")
	}
	a.begin(now, e.opts.ReadyAfter, statusDeleting, statusDeleted, "")
	return struct{}{}, nil
}
