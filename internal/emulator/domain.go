package emulator

import (
	"encoding/json"
	"strings"
	"time"
)

var sagemakerOps = map[string]handler{
	"CreateDomain":   (*Emulator).createDomain,
	"DescribeDomain": (*Emulator).describeDomain,
	"ListDomains":    (*Emulator).listDomains,
	"UpdateDomain":   (*Emulator).updateDomain,
	"DeleteDomain":   (*Emulator).deleteDomain,

	"CreateUserProfile":   (*Emulator).createUserProfile,
	"DescribeUserProfile": (*Emulator).describeUserProfile,
	"ListUserProfiles":    (*Emulator).listUserProfiles,
	"UpdateUserProfile":   (*Emulator).updateUserProfile,
	"DeleteUserProfile":   (*Emulator).deleteUserProfile,

	"CreateSpace":   (*Emulator).createSpace,
	"DescribeSpace": (*Emulator).describeSpace,
	"ListSpaces":    (*Emulator).listSpaces,
	"UpdateSpace":   (*Emulator).updateSpace,
	"DeleteSpace":   (*Emulator).deleteSpace,

	"CreateApp":   (*Emulator).createApp,
	"DescribeApp": (*Emulator).describeApp,
	"ListApps":    (*Emulator).listApps,
	"DeleteApp":   (*Emulator).deleteApp,

	"CreateStudioLifecycleConfig":   (*Emulator).createStudioLCC,
	"DescribeStudioLifecycleConfig": (*Emulator).describeStudioLCC,
	"ListStudioLifecycleConfigs":    (*Emulator).listStudioLCCs,
	"DeleteStudioLifecycleConfig":   (*Emulator).deleteStudioLCC,

	"AddTags":    (*Emulator).addTags,
	"ListTags":   (*Emulator).listTags,
	"DeleteTags": (*Emulator).deleteTags,
}

// Page sizes of the SageMaker List operations: MaxResults is 1..100, default 10.
const (
	defaultPageSize = 10
	maxPageSize     = 100
)

// userSettingsCheck is the part of UserSettings the service validates; the whole
// structure is stored as the raw JSON the client sent.
type userSettingsCheck struct {
	ExecutionRole  *string
	SecurityGroups []string
}

type domainSettingsCheck struct {
	SecurityGroupIds                   []string
	ExecutionRoleIdentityConfig        string
	TrustedIdentityPropagationSettings *struct{ Status string }
}

func (v *validator) userSettings(path string, raw json.RawMessage, requireRole bool) {
	if len(raw) == 0 {
		if requireRole {
			v.required(path, false)
		}
		return
	}
	var us userSettingsCheck
	if err := json.Unmarshal(raw, &us); err != nil {
		v.add(path, string(raw), "Member must be a structure")
		return
	}
	if requireRole {
		v.required(path+".ExecutionRole", us.ExecutionRole != nil)
	}
	v.pattern(path+".ExecutionRole", us.ExecutionRole, roleRE(), roleRE().String())
	// The model allows 5, but "Amazon SageMaker AI adds a security group to allow NFS
	// traffic from Amazon SageMaker AI Studio. Therefore, the number of security groups
	// that you can specify is one less than the maximum number shown."
	if len(us.SecurityGroups) > 4 {
		v.add(path+".SecurityGroups", strings.Join(us.SecurityGroups, ","), "Member must have length less than or equal to 4 (SageMaker adds its own NFS security group to the 5 the model allows)")
	}
}

// domainSettings validates DomainSettings (or DomainSettingsForUpdate) and reports
// whether it turns on trusted identity propagation.
func (v *validator) domainSettings(path string, raw json.RawMessage) (tip bool) {
	if len(raw) == 0 {
		return false
	}
	var ds domainSettingsCheck
	if err := json.Unmarshal(raw, &ds); err != nil {
		v.add(path, string(raw), "Member must be a structure")
		return false
	}
	if len(ds.SecurityGroupIds) > 3 {
		v.add(path+".SecurityGroupIds", strings.Join(ds.SecurityGroupIds, ","), "Member must have length less than or equal to 3")
	}
	v.enum(path+".ExecutionRoleIdentityConfig", ds.ExecutionRoleIdentityConfig, "USER_PROFILE_NAME", "DISABLED")
	if t := ds.TrustedIdentityPropagationSettings; t != nil {
		v.required(path+".TrustedIdentityPropagationSettings.Status", t.Status != "")
		v.enum(path+".TrustedIdentityPropagationSettings.Status", t.Status, "ENABLED", "DISABLED")
		return true
	}
	return false
}

type createDomainReq struct {
	DomainName                 *string
	AuthMode                   string
	DefaultUserSettings        json.RawMessage
	DefaultSpaceSettings       json.RawMessage
	DomainSettings             json.RawMessage
	SubnetIds                  []string
	VpcId                      *string
	Tags                       []tagIn
	AppNetworkAccessType       string
	AppSecurityGroupManagement string
	HomeEfsFileSystemKmsKeyId  *string
	KmsKeyId                   *string
	TagPropagation             string
	HomeEfsFileSystemCreation  string
}

func (e *Emulator) createDomain(now time.Time, body []byte) (any, *apiError) {
	var req createDomainReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.name("DomainName", req.DomainName)
	v.required("AuthMode", req.AuthMode != "")
	v.enum("AuthMode", req.AuthMode, "SSO", "IAM")
	v.userSettings("DefaultUserSettings", req.DefaultUserSettings, true)
	v.userSettings("DefaultSpaceSettings", req.DefaultSpaceSettings, false)
	tip := v.domainSettings("DomainSettings", req.DomainSettings)
	v.enum("AppNetworkAccessType", req.AppNetworkAccessType, "PublicInternetOnly", "VpcOnly")
	v.enum("AppSecurityGroupManagement", req.AppSecurityGroupManagement, "Service", "Customer")
	v.enum("TagPropagation", req.TagPropagation, "ENABLED", "DISABLED")
	v.enum("HomeEfsFileSystemCreation", req.HomeEfsFileSystemCreation, "Enabled", "Disabled")
	v.pattern("VpcId", req.VpcId, vpcRE(), vpcRE().String())
	v.length("VpcId", req.VpcId, 0, 32)
	if req.SubnetIds != nil && (len(req.SubnetIds) < 1 || len(req.SubnetIds) > 16) {
		v.add("SubnetIds", strings.Join(req.SubnetIds, ","), "Member must have length between 1 and 16")
	}
	for _, s := range req.SubnetIds {
		v.pattern("SubnetIds.member", &s, vpcRE(), vpcRE().String())
	}
	v.length("KmsKeyId", req.KmsKeyId, 0, 2048)
	v.tags("Tags", req.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	if req.AppNetworkAccessType == "" {
		req.AppNetworkAccessType = "PublicInternetOnly"
	}
	if req.AppNetworkAccessType == "VpcOnly" && (req.VpcId == nil || len(req.SubnetIds) == 0) {
		return nil, errValidation("VpcId and SubnetIds are required when AppNetworkAccessType is VpcOnly")
	}
	if tip && req.AuthMode != "SSO" {
		return nil, errValidation("TrustedIdentityPropagationSettings can only be set on domains whose AuthMode is SSO")
	}
	if aerr := checkDomainNetwork(deref(req.VpcId), req.SubnetIds, req.AppNetworkAccessType, req.DomainSettings, req.DefaultUserSettings); aerr != nil {
		return nil, aerr
	}
	if aerr := e.checkDomainNetwork(now, &req); aerr != nil { // network.go: do they exist?
		return nil, aerr
	}
	if len(e.domains) >= e.opts.MaxDomains {
		return nil, errLimit("The account-level service limit 'Maximum number of domains per region' is %d Domains, with current utilization of %d Domains and a request delta of 1 Domains.", e.opts.MaxDomains, len(e.domains))
	}

	id := "d-" + e.randAlnum(12)
	d := &domain{
		id:                         id,
		name:                       *req.DomainName,
		arn:                        e.arn("domain/" + id),
		url:                        "https://" + id + ".studio." + e.opts.Region + ".sagemaker.aws",
		fsID:                       homeFSID(e, req.HomeEfsFileSystemCreation),
		authMode:                   req.AuthMode,
		appNetworkAccessType:       req.AppNetworkAccessType,
		appSecurityGroupManagement: req.AppSecurityGroupManagement,
		vpcID:                      deref(req.VpcId),
		subnetIDs:                  req.SubnetIds,
		kmsKeyID:                   deref(req.KmsKeyId),
		homeEfsKmsKeyID:            deref(req.HomeEfsFileSystemKmsKeyId),
		tagPropagation:             req.TagPropagation,
		homeEfsFileSystemCreation:  req.HomeEfsFileSystemCreation,
		defaultUserSettings:        req.DefaultUserSettings,
		defaultSpaceSettings:       req.DefaultSpaceSettings,
		domainSettings:             req.DomainSettings,
		retainHome:                 true,
		profiles:                   map[string]*userProfile{},
		spaces:                     map[string]*space{},
		apps:                       map[string]*app{},
	}
	if d.kmsKeyID == "" {
		// The older name of the same setting, still accepted by the service.
		d.kmsKeyID = d.homeEfsKmsKeyID
	}
	if d.appNetworkAccessType == "VpcOnly" {
		d.securityGroupForBoundary = "sg-" + e.randHex(17)
	}
	if d.authMode == "SSO" {
		d.ssoApplicationArn = "arn:aws:sso::" + e.opts.AccountID + ":application/" + e.sso.instanceID + "/apl-" + e.randHex(16)
		d.ssoManagedApplicationInstID = "ins-" + e.randHex(16)
		e.assignment[d.ssoApplicationArn] = map[string]string{}
	}
	d.created = now
	d.seq = e.nextSeq()
	after, target, reason := e.createOutcome("Domain", d.name)
	d.begin(now, after, statusPending, target, reason)
	if e.opts.EFSRoot != "" && reason == "" && d.fsID != "" {
		if err := mkdirFS(e.opts.EFSRoot, d.fsID); err != nil {
			return nil, &apiError{status: 500, code: "InternalFailure", msg: err.Error()}
		}
	}
	e.domains[id] = d
	e.tags[d.arn] = tagList(req.Tags)
	e.log.Info("created domain", "domain", id, "name", d.name, "auth_mode", d.authMode)
	return map[string]any{"DomainArn": d.arn, "DomainId": id, "Url": d.url}, nil
}

// findDomain returns the domain or ResourceNotFound.
func (e *Emulator) findDomain(id *string) (*domain, *apiError) {
	if id == nil {
		return nil, (&validator{errs: []string{"Value null at 'domainId' failed to satisfy constraint: Member must not be null"}}).err()
	}
	d, ok := e.domains[*id]
	if !ok {
		return nil, errNotFound("Domain %q does not exist.", e.arn("domain/"+*id))
	}
	return d, nil
}

// inService is the gate for changing a resource or creating something inside it.
func inService(kind, arn string, l *lifecycle) *apiError {
	if l.status == statusInService {
		return nil
	}
	return errInUse("%s %q is in %s status and cannot be used until it is InService.", kind, arn, l.status)
}

type domainIDReq struct {
	DomainId        *string
	RetentionPolicy *struct{ HomeEfsFileSystem string }
}

type describeDomainResp struct {
	DomainArn                                *string         `json:",omitempty"`
	DomainId                                 *string         `json:",omitempty"`
	DomainName                               *string         `json:",omitempty"`
	HomeEfsFileSystemId                      *string         `json:",omitempty"`
	SingleSignOnManagedApplicationInstanceId *string         `json:",omitempty"`
	SingleSignOnApplicationArn               *string         `json:",omitempty"`
	Status                                   string          `json:",omitempty"`
	CreationTime                             *epochTime      `json:",omitempty"`
	LastModifiedTime                         *epochTime      `json:",omitempty"`
	FailureReason                            *string         `json:",omitempty"`
	SecurityGroupIdForDomainBoundary         *string         `json:",omitempty"`
	AuthMode                                 string          `json:",omitempty"`
	DefaultUserSettings                      json.RawMessage `json:",omitempty"`
	DomainSettings                           json.RawMessage `json:",omitempty"`
	AppNetworkAccessType                     string          `json:",omitempty"`
	HomeEfsFileSystemKmsKeyId                *string         `json:",omitempty"`
	SubnetIds                                []string        `json:",omitempty"`
	Url                                      *string         `json:",omitempty"`
	VpcId                                    *string         `json:",omitempty"`
	KmsKeyId                                 *string         `json:",omitempty"`
	AppSecurityGroupManagement               string          `json:",omitempty"`
	TagPropagation                           string          `json:",omitempty"`
	DefaultSpaceSettings                     json.RawMessage `json:",omitempty"`
	HomeEfsFileSystemCreation                string          `json:",omitempty"`
}

func (e *Emulator) describeDomain(_ time.Time, body []byte) (any, *apiError) {
	var req domainIDReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	d, aerr := e.findDomain(req.DomainId)
	if aerr != nil {
		return nil, aerr
	}
	return describeDomainResp{
		DomainArn:                                &d.arn,
		DomainId:                                 &d.id,
		DomainName:                               &d.name,
		HomeEfsFileSystemId:                      nonEmpty(d.fsID),
		SingleSignOnManagedApplicationInstanceId: nonEmpty(d.ssoManagedApplicationInstID),
		SingleSignOnApplicationArn:               nonEmpty(d.ssoApplicationArn),
		Status:                                   d.status,
		CreationTime:                             ts(d.created),
		LastModifiedTime:                         ts(d.modified),
		FailureReason:                            nonEmpty(d.failureReason),
		SecurityGroupIdForDomainBoundary:         nonEmpty(d.securityGroupForBoundary),
		AuthMode:                                 d.authMode,
		DefaultUserSettings:                      d.defaultUserSettings,
		DomainSettings:                           d.domainSettings,
		AppNetworkAccessType:                     d.appNetworkAccessType,
		HomeEfsFileSystemKmsKeyId:                nonEmpty(d.homeEfsKmsKeyID),
		SubnetIds:                                d.subnetIDs,
		Url:                                      &d.url,
		VpcId:                                    nonEmpty(d.vpcID),
		KmsKeyId:                                 nonEmpty(d.kmsKeyID),
		AppSecurityGroupManagement:               d.appSecurityGroupManagement,
		TagPropagation:                           d.tagPropagation,
		DefaultSpaceSettings:                     d.defaultSpaceSettings,
		HomeEfsFileSystemCreation:                d.homeEfsFileSystemCreation,
	}, nil
}

type listReq struct {
	NextToken               *string
	MaxResults              *int32
	SortOrder               string
	SortBy                  string
	DomainIdEquals          *string
	UserProfileNameContains *string
	SpaceNameContains       *string
	UserProfileNameEquals   *string
	SpaceNameEquals         *string
}

func (v *validator) list(req *listReq, sortKeys ...string) {
	v.intRange("MaxResults", req.MaxResults, 1, maxPageSize)
	v.enum("SortOrder", req.SortOrder, "Ascending", "Descending")
	if len(sortKeys) > 0 {
		v.enum("SortBy", req.SortBy, sortKeys...)
	}
	v.length("NextToken", req.NextToken, 0, 8192)
}

type domainDetails struct {
	DomainArn        string     `json:"DomainArn"`
	DomainId         string     `json:"DomainId"`
	DomainName       string     `json:"DomainName"`
	Status           string     `json:"Status"`
	CreationTime     *epochTime `json:"CreationTime,omitempty"`
	LastModifiedTime *epochTime `json:"LastModifiedTime,omitempty"`
	Url              string     `json:"Url"`
}

func (e *Emulator) listDomains(_ time.Time, body []byte) (any, *apiError) {
	var req listReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.list(&req)
	if err := v.err(); err != nil {
		return nil, err
	}
	items := make([]pageItem[domainDetails], 0, len(e.domains))
	for _, d := range e.domains {
		items = append(items, pageItem[domainDetails]{key: timeKey(d.created), seq: d.seq, v: domainDetails{
			DomainArn: d.arn, DomainId: d.id, DomainName: d.name, Status: d.status,
			CreationTime: ts(d.created), LastModifiedTime: ts(d.modified), Url: d.url,
		}})
	}
	page, next, aerr := paginate("ListDomains", items, false, req.NextToken, req.MaxResults, defaultPageSize)
	if aerr != nil {
		return nil, aerr
	}
	return withNextToken(map[string]any{"Domains": page}, next), nil
}

type updateDomainReq struct {
	DomainId                   *string
	DefaultUserSettings        json.RawMessage
	DomainSettingsForUpdate    json.RawMessage
	DefaultSpaceSettings       json.RawMessage
	AppSecurityGroupManagement string
	AppNetworkAccessType       string
	SubnetIds                  []string
	VpcId                      *string
	TagPropagation             string
	HomeEfsFileSystemCreation  string
}

func (e *Emulator) updateDomain(now time.Time, body []byte) (any, *apiError) {
	var req updateDomainReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.required("DomainId", req.DomainId != nil)
	v.userSettings("DefaultUserSettings", req.DefaultUserSettings, false)
	v.userSettings("DefaultSpaceSettings", req.DefaultSpaceSettings, false)
	tip := v.domainSettings("DomainSettingsForUpdate", req.DomainSettingsForUpdate)
	v.enum("AppNetworkAccessType", req.AppNetworkAccessType, "PublicInternetOnly", "VpcOnly")
	v.enum("AppSecurityGroupManagement", req.AppSecurityGroupManagement, "Service", "Customer")
	v.enum("TagPropagation", req.TagPropagation, "ENABLED", "DISABLED")
	v.enum("HomeEfsFileSystemCreation", req.HomeEfsFileSystemCreation, "Enabled", "Disabled")
	v.pattern("VpcId", req.VpcId, vpcRE(), vpcRE().String())
	if err := v.err(); err != nil {
		return nil, err
	}
	d, aerr := e.findDomain(req.DomainId)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := updatable("Domain", d.arn, &d.lifecycle); aerr != nil {
		return nil, aerr
	}
	if tip && d.authMode != "SSO" {
		return nil, errValidation("TrustedIdentityPropagationSettings can only be set on domains whose AuthMode is SSO")
	}
	if req.VpcId != nil && *req.VpcId != d.vpcID {
		return nil, errValidation("The VpcId of a domain cannot be changed.")
	}
	if aerr := checkUpdateWhileAppsRun(d, req.AppNetworkAccessType, req.DomainSettingsForUpdate); aerr != nil {
		return nil, aerr
	}
	if req.AppNetworkAccessType == "VpcOnly" || (req.AppNetworkAccessType == "" && d.appNetworkAccessType == "VpcOnly") {
		merged, err := mergeSettings(d.defaultUserSettings, req.DefaultUserSettings)
		if err == nil && len(securityGroups(merged)) == 0 {
			return nil, errValidation("DefaultUserSettings.SecurityGroups is required when AppNetworkAccessType is VpcOnly.")
		}
	}
	var err error
	if d.defaultUserSettings, err = mergeSettings(d.defaultUserSettings, req.DefaultUserSettings); err != nil {
		return nil, errValidation("DefaultUserSettings: %v", err)
	}
	if d.defaultSpaceSettings, err = mergeSettings(d.defaultSpaceSettings, req.DefaultSpaceSettings); err != nil {
		return nil, errValidation("DefaultSpaceSettings: %v", err)
	}
	if len(req.DomainSettingsForUpdate) > 0 {
		upd := map[string]json.RawMessage{}
		if err := json.Unmarshal(req.DomainSettingsForUpdate, &upd); err != nil {
			return nil, errValidation("DomainSettingsForUpdate: %v", err)
		}
		// The update shape names this member differently from DomainSettings.
		if r, ok := upd["RStudioServerProDomainSettingsForUpdate"]; ok {
			delete(upd, "RStudioServerProDomainSettingsForUpdate")
			upd["RStudioServerProDomainSettings"] = r
		}
		b, _ := json.Marshal(upd)
		if d.domainSettings, err = mergeSettings(d.domainSettings, b); err != nil {
			return nil, errValidation("DomainSettingsForUpdate: %v", err)
		}
	}
	if req.AppSecurityGroupManagement != "" {
		d.appSecurityGroupManagement = req.AppSecurityGroupManagement
	}
	if req.AppNetworkAccessType != "" {
		d.appNetworkAccessType = req.AppNetworkAccessType
	}
	if req.SubnetIds != nil {
		d.subnetIDs = req.SubnetIds
	}
	if req.TagPropagation != "" {
		d.tagPropagation = req.TagPropagation
	}
	if req.HomeEfsFileSystemCreation != "" {
		d.homeEfsFileSystemCreation = req.HomeEfsFileSystemCreation
	}
	d.beginOutcome(now, e.opts.ReadyAfter, statusUpdating, e.updateOutcome("Domain", d.name))
	return map[string]any{"DomainArn": d.arn}, nil
}

func (e *Emulator) deleteDomain(now time.Time, body []byte) (any, *apiError) {
	var req domainIDReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.required("DomainId", req.DomainId != nil)
	if req.RetentionPolicy != nil {
		v.enum("RetentionPolicy.HomeEfsFileSystem", req.RetentionPolicy.HomeEfsFileSystem, "Retain", "Delete")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	d, aerr := e.findDomain(req.DomainId)
	if aerr != nil {
		return nil, aerr
	}
	switch d.status {
	case statusPending, statusUpdating, statusDeleting:
		return nil, errInUse("Domain %q is in %s status and cannot be deleted.", d.arn, d.status)
	}
	if len(d.profiles) > 0 || len(d.spaces) > 0 {
		return nil, errInUse("Unable to delete Domain [%s] because UserProfile(s) or Space(s) are associated with it.", d.arn)
	}
	d.retainHome = req.RetentionPolicy == nil || req.RetentionPolicy.HomeEfsFileSystem != "Delete"
	d.beginOutcome(now, e.opts.ReadyAfter, statusDeleting, e.deleteOutcome("Domain", d.name))
	e.log.Info("deleting domain", "domain", d.id, "retain_home", d.retainHome)
	return struct{}{}, nil
}
