package emulator

import (
	"encoding/json"
	"strings"
	"time"
)

// ssoState is the one IAM Identity Center instance of the emulated account.
type ssoState struct {
	instanceID      string // ssoins-...
	identityStoreID string // d-...
	created         time.Time
}

type idcUser struct {
	id, userName string
	created      time.Time
	seq          uint64
}

func (e *Emulator) instanceArn() string { return "arn:aws:sso:::instance/" + e.sso.instanceID }

// IdentityStoreID returns the ID of the emulated Identity Center identity store.
func (e *Emulator) IdentityStoreID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sso.identityStoreID
}

// InstanceArn returns the ARN of the emulated Identity Center instance.
func (e *Emulator) InstanceArn() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.instanceArn()
}

// AddIdentityCenterUser adds a user to the identity store and returns its UserId; a
// user that already exists keeps its ID.
func (e *Emulator) AddIdentityCenterUser(userName string) (userID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if u := e.findIDCUserByName(userName); u != nil {
		return u.id
	}
	// Identity Center user IDs: 10 hex digits of the store, then a UUID.
	id := e.randHex(10) + "-" + e.randHex(8) + "-" + e.randHex(4) + "-" + e.randHex(4) + "-" + e.randHex(4) + "-" + e.randHex(12)
	e.ssoUsers = append(e.ssoUsers, &idcUser{id: id, userName: userName, created: e.now(), seq: e.nextSeq()})
	return id
}

// findIDCUserByName matches user names case-insensitively, as Identity Center does.
func (e *Emulator) findIDCUserByName(userName string) *idcUser {
	for _, u := range e.ssoUsers {
		if strings.EqualFold(u.userName, userName) {
			return u
		}
	}
	return nil
}

func (e *Emulator) findIDCUser(id string) *idcUser {
	for _, u := range e.ssoUsers {
		if u.id == id {
			return u
		}
	}
	return nil
}

// ---- sso-admin (X-Amz-Target: SWBExternalService.*) ----

var ssoAdminOps = map[string]handler{
	"ListInstances":               (*Emulator).ssoListInstances,
	"CreateApplicationAssignment": (*Emulator).ssoCreateAssignment,
	"DeleteApplicationAssignment": (*Emulator).ssoDeleteAssignment,
	"ListApplicationAssignments":  (*Emulator).ssoListAssignments,
	"DescribeApplication":         (*Emulator).ssoDescribeApplication,
}

func ssoNotFound(msg string) *apiError {
	return &apiError{code: "ResourceNotFoundException", msg: msg}
}

type ssoReq struct {
	ApplicationArn *string
	PrincipalId    *string
	PrincipalType  string
	MaxResults     *int32
	NextToken      *string
}

func (e *Emulator) ssoListInstances(_ time.Time, body []byte) (any, *apiError) {
	var req ssoReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.intRange("MaxResults", req.MaxResults, 1, 100)
	if err := v.err(); err != nil {
		return nil, err
	}
	return map[string]any{"Instances": []map[string]any{{
		"InstanceArn":     e.instanceArn(),
		"IdentityStoreId": e.sso.identityStoreID,
		"OwnerAccountId":  e.opts.AccountID,
		"Name":            "emulated",
		"Status":          "ACTIVE",
		"CreatedDate":     ts(e.sso.created),
	}}}, nil
}

// applicationArnPattern is ApplicationArn's pattern in the sso-admin service model.
const applicationArnPattern = `arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso::\d{12}:application/(sso)?ins-[a-zA-Z0-9-.]{16}/apl-[a-zA-Z0-9]{16}`

var applicationArnRE = lazyAnchored(applicationArnPattern)

// ssoApplication finds the domain that owns an Identity Center application.
func (e *Emulator) ssoApplication(arn *string) (*domain, *apiError) {
	v := &validator{}
	v.required("ApplicationArn", arn != nil)
	v.length("ApplicationArn", arn, 10, 1224)
	v.pattern("ApplicationArn", arn, applicationArnRE(), applicationArnPattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	for _, d := range e.domains {
		// IAM domains have no application: their empty ARN must never match.
		if d.ssoApplicationArn != "" && d.ssoApplicationArn == *arn {
			return d, nil
		}
	}
	return nil, ssoNotFound("Application " + *arn + " does not exist.")
}

func (e *Emulator) assignmentArgs(req *ssoReq) (string, *apiError) {
	v := &validator{}
	v.required("PrincipalId", req.PrincipalId != nil)
	v.required("PrincipalType", req.PrincipalType != "")
	v.enum("PrincipalType", req.PrincipalType, "USER", "GROUP")
	if err := v.err(); err != nil {
		return "", err
	}
	d, aerr := e.ssoApplication(req.ApplicationArn)
	if aerr != nil {
		return "", aerr
	}
	if req.PrincipalType == "USER" && e.findIDCUser(*req.PrincipalId) == nil {
		return "", ssoNotFound("Principal " + *req.PrincipalId + " does not exist in identity store " + e.sso.identityStoreID + ".")
	}
	return d.ssoApplicationArn, nil
}

func (e *Emulator) ssoCreateAssignment(_ time.Time, body []byte) (any, *apiError) {
	var req ssoReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	appArn, aerr := e.assignmentArgs(&req)
	if aerr != nil {
		return nil, aerr
	}
	if _, ok := e.assignment[appArn][*req.PrincipalId]; ok {
		return nil, &apiError{code: "ConflictException", msg: "The principal is already assigned to the application."}
	}
	e.assignment[appArn][*req.PrincipalId] = req.PrincipalType
	return struct{}{}, nil
}

func (e *Emulator) ssoDeleteAssignment(_ time.Time, body []byte) (any, *apiError) {
	var req ssoReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	appArn, aerr := e.assignmentArgs(&req)
	if aerr != nil {
		return nil, aerr
	}
	if _, ok := e.assignment[appArn][*req.PrincipalId]; !ok {
		return nil, ssoNotFound("The principal is not assigned to the application.")
	}
	delete(e.assignment[appArn], *req.PrincipalId)
	return struct{}{}, nil
}

type applicationAssignment struct {
	ApplicationArn string `json:"ApplicationArn"`
	PrincipalId    string `json:"PrincipalId"`
	PrincipalType  string `json:"PrincipalType"`
}

func (e *Emulator) ssoListAssignments(_ time.Time, body []byte) (any, *apiError) {
	var req ssoReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.intRange("MaxResults", req.MaxResults, 1, 100)
	if err := v.err(); err != nil {
		return nil, err
	}
	d, aerr := e.ssoApplication(req.ApplicationArn)
	if aerr != nil {
		return nil, aerr
	}
	var items []pageItem[applicationAssignment]
	for id, typ := range e.assignment[d.ssoApplicationArn] {
		items = append(items, pageItem[applicationAssignment]{key: id, v: applicationAssignment{d.ssoApplicationArn, id, typ}})
	}
	page, next, aerr := paginate("ListApplicationAssignments", items, false, req.NextToken, req.MaxResults, 100)
	if aerr != nil {
		return nil, aerr
	}
	return withNextToken(map[string]any{"ApplicationAssignments": page}, next), nil
}

func (e *Emulator) ssoDescribeApplication(_ time.Time, body []byte) (any, *apiError) {
	var req ssoReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	d, aerr := e.ssoApplication(req.ApplicationArn)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{
		"ApplicationArn":         d.ssoApplicationArn,
		"ApplicationAccount":     e.opts.AccountID,
		"ApplicationProviderArn": "arn:aws:sso::aws:applicationProvider/sagemaker",
		"InstanceArn":            e.instanceArn(),
		"Name":                   "SageMakerStudio-" + d.id,
		"Description":            "SageMaker Studio domain " + d.id,
		"Status":                 "ENABLED",
		"CreatedDate":            ts(d.created),
		"PortalOptions": map[string]any{
			"Visibility":    "ENABLED",
			"SignInOptions": map[string]any{"Origin": "APPLICATION", "ApplicationUrl": d.url},
		},
	}, nil
}

// ---- Identity Store (X-Amz-Target: AWSIdentityStore.*) ----

var identityStoreOps = map[string]handler{
	"GetUserId":    (*Emulator).idsGetUserID,
	"DescribeUser": (*Emulator).idsDescribeUser,
	"ListUsers":    (*Emulator).idsListUsers,
}

type idsReq struct {
	IdentityStoreId     *string
	UserId              *string
	AlternateIdentifier *struct {
		UniqueAttribute *struct {
			AttributePath  string
			AttributeValue json.RawMessage
		}
		ExternalId *struct{ Issuer, Id string }
	}
	Filters    []struct{ AttributePath, AttributeValue string }
	MaxResults *int32
	NextToken  *string
}

func idsNotFound(resourceType, id, msg string) *apiError {
	return &apiError{code: "ResourceNotFoundException", msg: msg, extra: map[string]any{"ResourceType": resourceType, "ResourceId": id}}
}

func (e *Emulator) idsStore(id *string) *apiError {
	v := &validator{}
	v.required("IdentityStoreId", id != nil)
	if err := v.err(); err != nil {
		return err
	}
	if *id != e.sso.identityStoreID {
		return idsNotFound("IDENTITY_STORE", *id, "Identity store "+*id+" does not exist.")
	}
	return nil
}

type idsUser struct {
	IdentityStoreId string `json:"IdentityStoreId"`
	UserId          string `json:"UserId"`
	UserName        string `json:"UserName"`
	DisplayName     string `json:"DisplayName"`
	Name            struct {
		GivenName  string `json:"GivenName"`
		FamilyName string `json:"FamilyName"`
	} `json:"Name"`
	Emails []map[string]any `json:"Emails"`
}

func (e *Emulator) userShape(u *idcUser) idsUser {
	out := idsUser{IdentityStoreId: e.sso.identityStoreID, UserId: u.id, UserName: u.userName, DisplayName: u.userName}
	out.Name.GivenName, out.Name.FamilyName = u.userName, "User"
	out.Emails = []map[string]any{{"Value": u.userName + "@example.com", "Type": "work", "Primary": true}}
	return out
}

func (e *Emulator) idsGetUserID(_ time.Time, body []byte) (any, *apiError) {
	var req idsReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if aerr := e.idsStore(req.IdentityStoreId); aerr != nil {
		return nil, aerr
	}
	ua := req.AlternateIdentifier
	if ua == nil || ua.UniqueAttribute == nil || !strings.EqualFold(ua.UniqueAttribute.AttributePath, "userName") {
		return nil, errValidation("AlternateIdentifier must be a UniqueAttribute with AttributePath userName.")
	}
	var name string
	if err := json.Unmarshal(ua.UniqueAttribute.AttributeValue, &name); err != nil {
		return nil, errValidation("AlternateIdentifier.UniqueAttribute.AttributeValue must be a string.")
	}
	u := e.findIDCUserByName(name)
	if u == nil {
		return nil, idsNotFound("USER", name, "USER not found.")
	}
	return map[string]any{"UserId": u.id, "IdentityStoreId": e.sso.identityStoreID}, nil
}

func (e *Emulator) idsDescribeUser(_ time.Time, body []byte) (any, *apiError) {
	var req idsReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if aerr := e.idsStore(req.IdentityStoreId); aerr != nil {
		return nil, aerr
	}
	v := &validator{}
	v.required("UserId", req.UserId != nil)
	if err := v.err(); err != nil {
		return nil, err
	}
	u := e.findIDCUser(*req.UserId)
	if u == nil {
		return nil, idsNotFound("USER", *req.UserId, "USER not found.")
	}
	return e.userShape(u), nil
}

func (e *Emulator) idsListUsers(_ time.Time, body []byte) (any, *apiError) {
	var req idsReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if aerr := e.idsStore(req.IdentityStoreId); aerr != nil {
		return nil, aerr
	}
	v := &validator{}
	v.intRange("MaxResults", req.MaxResults, 1, 100)
	if err := v.err(); err != nil {
		return nil, err
	}
	var items []pageItem[idsUser]
	for _, u := range e.ssoUsers {
		match := true
		for _, f := range req.Filters {
			if !strings.EqualFold(f.AttributePath, "UserName") {
				return nil, errValidation("Filter attribute path %q is not supported; use UserName.", f.AttributePath)
			}
			match = match && strings.EqualFold(u.userName, f.AttributeValue)
		}
		if match {
			items = append(items, pageItem[idsUser]{key: timeKey(u.created), seq: u.seq, v: e.userShape(u)})
		}
	}
	page, next, aerr := paginate("ListUsers", items, false, req.NextToken, req.MaxResults, 100)
	if aerr != nil {
		return nil, aerr
	}
	return withNextToken(map[string]any{"Users": page}, next), nil
}
