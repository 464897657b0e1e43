package emulator

import (
	"encoding/json"
	"encoding/xml"
	"net/url"
	"strings"
	"time"
)

// IAM: the execution roles a domain, its profiles and spaces run as. CreateRole,
// GetRole, UpdateAssumeRolePolicy and DeleteRole; the trust policy is kept as sent and
// returned URL-encoded, as IAM does (the SDKs hand it over encoded; the AWS CLI
// decodes it).

type iamRole struct {
	name, path, id, arn, description string
	trust                            string
	created                          time.Time
}

var (
	iamRoleNameRE = lazyRE(`^[\w+=,.@-]{1,64}$`)
	iamPathRE     = lazyRE(`^/([\x21-\x7E]*/)?$`)
)

type iamRoleXML struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
	Description              string `xml:"Description,omitempty"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration"`
}

func (r *iamRole) xml() iamRoleXML {
	return iamRoleXML{
		Path: r.path, RoleName: r.name, RoleID: r.id, Arn: r.arn,
		CreateDate:               r.created.UTC().Format("2006-01-02T15:04:05Z"),
		AssumeRolePolicyDocument: strings.ReplaceAll(url.QueryEscape(r.trust), "+", "%20"),
		Description:              r.description, MaxSessionDuration: 3600,
	}
}

type iamRoleResult struct {
	XMLName xml.Name   `xml:"x"`
	Role    iamRoleXML `xml:"Role"`
}

func errIAM(code, msg string) *apiError { return &apiError{code: code, msg: msg} }

func checkPolicyDocument(doc string) *apiError {
	var v map[string]any
	if doc == "" {
		return errIAM("ValidationError", "1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null")
	}
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return errIAM("MalformedPolicyDocument", "This policy contains invalid Json")
	}
	if _, ok := v["Statement"]; !ok {
		return errIAM("MalformedPolicyDocument", "Syntax errors in policy.")
	}
	return nil
}

func (e *Emulator) iamCreateRole(now time.Time, p url.Values) (any, *apiError) {
	acct := e.account()
	name, path, doc := p.Get("RoleName"), p.Get("Path"), p.Get("AssumeRolePolicyDocument")
	if path == "" {
		path = "/"
	}
	if !iamRoleNameRE().MatchString(name) {
		return nil, errIAM("ValidationError", "1 validation error detected: Value '"+name+"' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+")
	}
	if !iamPathRE().MatchString(path) {
		return nil, errIAM("ValidationError", "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	if aerr := checkPolicyDocument(doc); aerr != nil {
		return nil, aerr
	}
	// Role names are unique in an account whatever their path, case-insensitively.
	for _, r := range acct.roles {
		if strings.EqualFold(r.name, name) {
			return nil, errIAM("EntityAlreadyExists", "Role with name "+name+" already exists.")
		}
	}
	r := &iamRole{
		name: name, path: path, id: "AROA" + strings.ToUpper(e.randAlnum(17)),
		arn:         "arn:aws:iam::" + e.opts.AccountID + ":role" + path + name,
		description: p.Get("Description"), trust: doc, created: now,
	}
	acct.roles[name] = r
	e.log.Info("created role", "role", r.arn)
	return iamRoleResult{Role: r.xml()}, nil
}

func (e *Emulator) findRole(name string) (*iamRole, *apiError) {
	for _, r := range e.account().roles {
		if strings.EqualFold(r.name, name) {
			return r, nil
		}
	}
	return nil, errIAM("NoSuchEntity", "The role with name "+name+" cannot be found.")
}

func (e *Emulator) iamGetRole(_ time.Time, p url.Values) (any, *apiError) {
	r, aerr := e.findRole(p.Get("RoleName"))
	if aerr != nil {
		return nil, aerr
	}
	return iamRoleResult{Role: r.xml()}, nil
}

func (e *Emulator) iamUpdateAssumeRolePolicy(_ time.Time, p url.Values) (any, *apiError) {
	r, aerr := e.findRole(p.Get("RoleName"))
	if aerr != nil {
		return nil, aerr
	}
	doc := p.Get("PolicyDocument")
	if aerr := checkPolicyDocument(doc); aerr != nil {
		return nil, aerr
	}
	r.trust = doc
	return struct {
		XMLName xml.Name `xml:"x"`
	}{}, nil
}

func (e *Emulator) iamDeleteRole(_ time.Time, p url.Values) (any, *apiError) {
	r, aerr := e.findRole(p.Get("RoleName"))
	if aerr != nil {
		return nil, aerr
	}
	delete(e.account().roles, r.name)
	return struct {
		XMLName xml.Name `xml:"x"`
	}{}, nil
}
