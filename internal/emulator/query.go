package emulator

import (
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The AWS query protocol (EC2's dialect and IAM's): a form-encoded POST with Action
// and Version, answered in XML. The two services differ in their envelopes:
//
//   - EC2: <XResponse xmlns=".../2016-11-15/"><requestId>..</requestId>...members...,
//     errors <Response><Errors><Error><Code>..</Code><Message>..</Message></Error>
//     </Errors><RequestID>..</RequestID></Response>, HTTP 400.
//   - IAM: <XResponse><XResult>...</XResult><ResponseMetadata><RequestId>..,
//     errors <ErrorResponse><Error><Type>Sender</Type><Code>..</Code>..., with the
//     status the code has in AWS (404 NoSuchEntity, 409 EntityAlreadyExists, 400).

const (
	ec2Version = "2016-11-15"
	iamVersion = "2010-05-08"
	ec2XMLNS   = "http://ec2.amazonaws.com/doc/2016-11-15/"
	iamXMLNS   = "https://iam.amazonaws.com/doc/2010-05-08/"
)

// queryHandler answers one query-protocol action. The result is marshalled inside the
// service's envelope.
type queryHandler func(e *Emulator, now time.Time, p url.Values) (any, *apiError)

var ec2Ops = map[string]queryHandler{
	"CreateVpc":              (*Emulator).ec2CreateVpc,
	"DescribeVpcs":           (*Emulator).ec2DescribeVpcs,
	"CreateSubnet":           (*Emulator).ec2CreateSubnet,
	"DescribeSubnets":        (*Emulator).ec2DescribeSubnets,
	"CreateSecurityGroup":    (*Emulator).ec2CreateSecurityGroup,
	"DescribeSecurityGroups": (*Emulator).ec2DescribeSecurityGroups,
}

var iamOps = map[string]queryHandler{
	"CreateRole":             (*Emulator).iamCreateRole,
	"GetRole":                (*Emulator).iamGetRole,
	"DeleteRole":             (*Emulator).iamDeleteRole,
	"UpdateAssumeRolePolicy": (*Emulator).iamUpdateAssumeRolePolicy,
}

// isQueryRequest is true for a form-encoded POST (EC2, IAM); the JSON 1.1 services
// send X-Amz-Target instead.
func isQueryRequest(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return r.Method == http.MethodPost && mt == "application/x-www-form-urlencoded"
}

func (e *Emulator) serveQuery(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeQueryError(w, ec2Version, reqID, &apiError{code: "InvalidRequest", msg: "the request body could not be read"})
		return
	}
	params, err := url.ParseQuery(string(body))
	if err != nil {
		writeQueryError(w, ec2Version, reqID, &apiError{code: "MalformedQueryString", msg: err.Error()})
		return
	}
	version, action := params.Get("Version"), params.Get("Action")
	var h queryHandler
	switch version {
	case ec2Version:
		h = ec2Ops[action]
	case iamVersion:
		h = iamOps[action]
	}
	if h == nil {
		writeQueryError(w, version, reqID, &apiError{code: "InvalidAction", msg: fmt.Sprintf("The action %s is not valid for this web service.", action)})
		return
	}
	if r.Header.Get("Authorization") == "" {
		writeQueryError(w, version, reqID, &apiError{status: http.StatusForbidden, code: "MissingAuthenticationToken", msg: "Request is missing Authentication Token"})
		return
	}
	e.mu.Lock()
	if e.throttleRate > 0 && e.throttleRand.Float64() < e.throttleRate {
		e.mu.Unlock()
		code := "RequestLimitExceeded"
		if version == iamVersion {
			code = "Throttling"
		}
		writeQueryError(w, version, reqID, &apiError{code: code, msg: "Rate exceeded"})
		return
	}
	e.calls[action]++
	now := e.now()
	out, aerr := h(e, now, params)
	e.mu.Unlock()
	if aerr != nil {
		e.log.Debug("call failed", "op", action, "code", aerr.code, "message", aerr.msg)
		writeQueryError(w, version, reqID, aerr)
		return
	}
	e.log.Debug("call", "op", action)
	writeQueryResult(w, version, action, reqID, out)
}

// writeQueryResult wraps result in the service's response envelope.
func writeQueryResult(w http.ResponseWriter, version, action, reqID string, result any) {
	inner, err := xml.Marshal(result)
	if err != nil {
		writeQueryError(w, version, reqID, &apiError{status: 500, code: "InternalError", msg: "encoding the response failed"})
		return
	}
	var b strings.Builder
	b.WriteString(xml.Header)
	if version == ec2Version {
		fmt.Fprintf(&b, `<%sResponse xmlns="%s"><requestId>%s</requestId>%s</%sResponse>`, action, ec2XMLNS, reqID, stripRoot(inner), action)
	} else {
		fmt.Fprintf(&b, `<%sResponse xmlns="%s"><%sResult>%s</%sResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`,
			action, iamXMLNS, action, stripRoot(inner), action, reqID, action)
	}
	writeXML(w, http.StatusOK, b.String())
}

// stripRoot drops the <x>...</x> wrapper xml.Marshal puts around a struct's fields:
// the envelope supplies the element names.
func stripRoot(b []byte) string {
	s := string(b)
	if !strings.HasPrefix(s, "<x>") {
		return s
	}
	return strings.TrimSuffix(strings.TrimPrefix(s, "<x>"), "</x>")
}

func writeQueryError(w http.ResponseWriter, version, reqID string, a *apiError) {
	var msg strings.Builder
	_ = xml.EscapeText(&msg, []byte(a.msg))
	status := a.status
	if version == iamVersion {
		if status == 0 {
			switch a.code {
			case "NoSuchEntity":
				status = http.StatusNotFound
			case "EntityAlreadyExists", "DeleteConflict":
				status = http.StatusConflict
			default:
				status = http.StatusBadRequest
			}
		}
		writeXML(w, status, fmt.Sprintf(`%s<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			xml.Header, iamXMLNS, a.code, msg.String(), reqID))
		return
	}
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeXML(w, status, fmt.Sprintf(`%s<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`,
		xml.Header, a.code, msg.String(), reqID))
}

func writeXML(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// queryList reads the members prefix.1, prefix.2, ... of a query request.
func queryList(p url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := p[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// queryFilters reads EC2's Filter.N.Name / Filter.N.Value.M.
func queryFilters(p url.Values) map[string][]string {
	out := map[string][]string{}
	for i := 1; ; i++ {
		name := p.Get("Filter." + strconv.Itoa(i) + ".Name")
		if name == "" {
			return out
		}
		out[name] = append(out[name], queryList(p, "Filter."+strconv.Itoa(i)+".Value")...)
	}
}
