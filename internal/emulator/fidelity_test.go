package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// do sends one JSON 1.1 request to e and returns the HTTP status and the decoded body.
func do(t *testing.T, e *Emulator, target string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(b)))
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s answered non-JSON %q", target, rec.Body.String())
	}
	return rec.Code, out
}

func mustDo(t *testing.T, e *Emulator, op string, body any) map[string]any {
	t.Helper()
	code, out := do(t, e, "SageMaker."+op, body)
	if code != 200 {
		t.Fatalf("%s: %d %v", op, code, out)
	}
	return out
}

func wantErr(t *testing.T, e *Emulator, target string, body any, code, msg string) {
	t.Helper()
	_, out := do(t, e, target, body)
	if out["__type"] != code || !strings.Contains(out["message"].(string), msg) {
		t.Errorf("%s %v: got %v %q, want %s containing %q", target, body, out["__type"], out["message"], code, msg)
	}
}

const fRole = "arn:aws:iam::123456789012:role/Exec"

func iamDomain(t *testing.T, e *Emulator, name string, extra map[string]any) string {
	t.Helper()
	body := map[string]any{"DomainName": name, "AuthMode": "IAM", "VpcId": "vpc-0123456789abcdef0",
		"SubnetIds": []string{"subnet-0123456789abcdef0"}, "DefaultUserSettings": map[string]any{"ExecutionRole": fRole}}
	for k, v := range extra {
		body[k] = v
	}
	return mustDo(t, e, "CreateDomain", body)["DomainId"].(string)
}

// TestHandlerPanicReleasesTheLock: a handler that panics is answered 500 and the lock
// is released, so later calls are served (item: a panic used to hang every call).
func TestHandlerPanicReleasesTheLock(t *testing.T) {
	e := New(Options{})
	out, aerr := e.call("SageMaker", "Boom", func(*Emulator, time.Time, []byte) (any, *apiError) {
		var m map[string]string
		m["x"] = "y" // the nil-map write of the original bug
		return nil, nil
	}, []byte("{}"))
	if out != nil || aerr == nil || aerr.status != 500 || aerr.code != "InternalFailure" {
		t.Fatalf("panicking handler: %v, %+v; want a 500 InternalFailure", out, aerr)
	}
	if !e.mu.TryLock() {
		t.Fatal("the lock is still held after a handler panicked")
	}
	e.mu.Unlock()

	// The original trigger: an empty ApplicationArn while an IAM domain (with no
	// application) exists. Refused, and the next call is served.
	iamDomain(t, e, "iam", nil)
	for _, op := range []string{"CreateApplicationAssignment", "DescribeApplication"} {
		wantErr(t, e, "SWBExternalService."+op, map[string]any{"ApplicationArn": "", "PrincipalId": "p", "PrincipalType": "USER"}, "ValidationException", "applicationArn")
	}
	mustDo(t, e, "ListDomains", map[string]any{})
}

func TestServiceRules(t *testing.T) {
	e := New(Options{})
	// No VPC: only a Unified Studio domain with PublicInternetOnly may omit it.
	wantErr(t, e, "SageMaker.CreateDomain", map[string]any{"DomainName": "novpc", "AuthMode": "IAM", "DefaultUserSettings": map[string]any{"ExecutionRole": fRole}},
		"ValidationException", "VpcId and SubnetIds are required")
	mustDo(t, e, "CreateDomain", map[string]any{"DomainName": "unified", "AuthMode": "IAM", "DefaultUserSettings": map[string]any{"ExecutionRole": fRole},
		"DomainSettings": map[string]any{"UnifiedStudioSettings": map[string]any{"DomainId": "dzd_abc123"}}})
	// VpcOnly needs security groups.
	wantErr(t, e, "SageMaker.CreateDomain", map[string]any{"DomainName": "vpconly", "AuthMode": "IAM", "VpcId": "vpc-0123456789abcdef0",
		"SubnetIds": []string{"subnet-0123456789abcdef0"}, "AppNetworkAccessType": "VpcOnly", "DefaultUserSettings": map[string]any{"ExecutionRole": fRole}},
		"ValidationException", "SecurityGroups is required")
	// At most 4 security groups in UserSettings: the service adds its NFS group.
	wantErr(t, e, "SageMaker.CreateDomain", map[string]any{"DomainName": "sgs", "AuthMode": "IAM", "VpcId": "vpc-0123456789abcdef0",
		"SubnetIds": []string{"subnet-0123456789abcdef0"}, "DefaultUserSettings": map[string]any{"ExecutionRole": fRole,
			"SecurityGroups": []string{"sg-1", "sg-2", "sg-3", "sg-4", "sg-5"}}},
		"ValidationException", "less than or equal to 4")

	id := iamDomain(t, e, "rules", nil)
	// Malformed IDs and names are ValidationException, not ResourceNotFound.
	wantErr(t, e, "SageMaker.DescribeDomain", map[string]any{"DomainId": "not-a-domain"}, "ValidationException", "domainId")
	wantErr(t, e, "SageMaker.DescribeUserProfile", map[string]any{"DomainId": id, "UserProfileName": "bad_name"}, "ValidationException", "userProfileName")
	wantErr(t, e, "SageMaker.DescribeDomain", map[string]any{"DomainId": "d-000000000000"}, "ResourceNotFound", "does not exist")

	mustDo(t, e, "CreateUserProfile", map[string]any{"DomainId": id, "UserProfileName": "alice"})
	mustDo(t, e, "CreateSpace", map[string]any{"DomainId": id, "SpaceName": "lab", "SpaceSettings": map[string]any{"AppType": "JupyterLab"},
		"OwnershipSettings": map[string]any{"OwnerUserProfileName": "alice"}, "SpaceSharingSettings": map[string]any{"SharingType": "Private"}})
	// A space runs its own app type only, and keeps it.
	wantErr(t, e, "SageMaker.CreateApp", map[string]any{"DomainId": id, "SpaceName": "lab", "AppType": "CodeEditor", "AppName": "default"}, "ValidationException", "cannot run a CodeEditor app")
	wantErr(t, e, "SageMaker.UpdateSpace", map[string]any{"DomainId": id, "SpaceName": "lab", "SpaceSettings": map[string]any{"AppType": "CodeEditor"}}, "ValidationException", "cannot be changed")
	mustDo(t, e, "CreateApp", map[string]any{"DomainId": id, "SpaceName": "lab", "AppType": "JupyterLab", "AppName": "default"})
	// With an app running, the network access type and the identity config are fixed.
	wantErr(t, e, "SageMaker.UpdateDomain", map[string]any{"DomainId": id, "AppNetworkAccessType": "VpcOnly",
		"DefaultUserSettings": map[string]any{"SecurityGroups": []string{"sg-1"}}}, "ValidationException", "no apps in the InService")
	wantErr(t, e, "SageMaker.UpdateDomain", map[string]any{"DomainId": id, "DomainSettingsForUpdate": map[string]any{"ExecutionRoleIdentityConfig": "USER_PROFILE_NAME"}},
		"ValidationException", "ExecutionRoleIdentityConfig can only be modified")
	mustDo(t, e, "DeleteApp", map[string]any{"DomainId": id, "SpaceName": "lab", "AppType": "JupyterLab", "AppName": "default"})
	mustDo(t, e, "ListDomains", map[string]any{}) // settles the delete
	mustDo(t, e, "UpdateDomain", map[string]any{"DomainId": id, "DomainSettingsForUpdate": map[string]any{"ExecutionRoleIdentityConfig": "USER_PROFILE_NAME"}})

	// Absent members are left out: no "NextToken": null.
	for _, op := range []string{"ListDomains", "ListUserProfiles", "ListSpaces", "ListApps", "ListStudioLifecycleConfigs"} {
		if out := mustDo(t, e, op, map[string]any{}); out["NextToken"] != nil || strings.Contains(func() string { b, _ := json.Marshal(out); return string(b) }(), "NextToken") {
			t.Errorf("%s answered %v", op, out)
		}
	}
}

// TestSharedSpacesOnSSODomains: allowed, as the current API reference has it.
func TestSharedSpacesOnSSODomains(t *testing.T) {
	e := New(Options{})
	e.AddIdentityCenterUser("alice")
	id := mustDo(t, e, "CreateDomain", map[string]any{"DomainName": "sso", "AuthMode": "SSO", "VpcId": "vpc-0123456789abcdef0",
		"SubnetIds": []string{"subnet-0123456789abcdef0"}, "DefaultUserSettings": map[string]any{"ExecutionRole": fRole}})["DomainId"].(string)
	mustDo(t, e, "CreateUserProfile", map[string]any{"DomainId": id, "UserProfileName": "alice", "SingleSignOnUserIdentifier": "UserName", "SingleSignOnUserValue": "alice"})
	mustDo(t, e, "CreateSpace", map[string]any{"DomainId": id, "SpaceName": "team", "SpaceSettings": map[string]any{"AppType": "JupyterLab"},
		"OwnershipSettings": map[string]any{"OwnerUserProfileName": "alice"}, "SpaceSharingSettings": map[string]any{"SharingType": "Shared"}})
	if out := mustDo(t, e, "DescribeSpace", map[string]any{"DomainId": id, "SpaceName": "team"}); out["SpaceSharingSettings"].(map[string]any)["SharingType"] != "Shared" {
		t.Errorf("DescribeSpace = %v", out)
	}
}

// TestHomeLayout: profiles and Studio Classic spaces on the EFS, JupyterLab and Code
// Editor spaces each on their own EBS folder (gone with the space), and no EFS at all
// when HomeEfsFileSystemCreation is Disabled.
func TestHomeLayout(t *testing.T) {
	efs, ebs := t.TempDir(), t.TempDir()
	e := New(Options{EFSRoot: efs, EBSRoot: ebs})
	id := iamDomain(t, e, "layout", nil)
	fs := mustDo(t, e, "DescribeDomain", map[string]any{"DomainId": id})["HomeEfsFileSystemId"].(string)
	mustDo(t, e, "CreateUserProfile", map[string]any{"DomainId": id, "UserProfileName": "alice"})
	space := func(name, appType string) string {
		mustDo(t, e, "CreateSpace", map[string]any{"DomainId": id, "SpaceName": name, "SpaceSettings": map[string]any{"AppType": appType},
			"OwnershipSettings": map[string]any{"OwnerUserProfileName": "alice"}, "SpaceSharingSettings": map[string]any{"SharingType": "Private"}})
		return mustDo(t, e, "DescribeSpace", map[string]any{"DomainId": id, "SpaceName": name})["HomeEfsFileSystemUid"].(string)
	}
	aliceUID := mustDo(t, e, "DescribeUserProfile", map[string]any{"DomainId": id, "UserProfileName": "alice"})["HomeEfsFileSystemUid"].(string)
	labUID, codeUID, classicUID := space("lab", "JupyterLab"), space("code", "CodeEditor"), space("classic", "JupyterServer")
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	for p, want := range map[string]bool{
		filepath.Join(efs, fs, aliceUID):   true,
		filepath.Join(efs, fs, classicUID): true,
		filepath.Join(efs, fs, labUID):     false,
		filepath.Join(efs, fs, codeUID):    false,
		filepath.Join(ebs, id, "lab"):      true,
		filepath.Join(ebs, id, "code"):     true,
		filepath.Join(ebs, id, "classic"):  false,
	} {
		if exists(p) != want {
			t.Errorf("%s exists: %v, want %v", p, exists(p), want)
		}
	}
	if os.Geteuid() == 0 {
		var st os.FileInfo
		st, _ = os.Stat(filepath.Join(ebs, id, "lab"))
		if uid, gid := fileOwner(st); uid != EBSHomeUID || gid != EBSHomeGID {
			t.Errorf("EBS home owned by %d:%d, want %d:%d", uid, gid, EBSHomeUID, EBSHomeGID)
		}
	}
	mustDo(t, e, "DeleteSpace", map[string]any{"DomainId": id, "SpaceName": "lab"})
	mustDo(t, e, "ListSpaces", map[string]any{})
	if exists(filepath.Join(ebs, id, "lab")) {
		t.Error("the EBS volume of a deleted space is still there")
	}

	noEFS := iamDomain(t, e, "no-efs", map[string]any{"HomeEfsFileSystemCreation": "Disabled"})
	d := mustDo(t, e, "DescribeDomain", map[string]any{"DomainId": noEFS})
	if d["HomeEfsFileSystemId"] != nil || d["HomeEfsFileSystemCreation"] != "Disabled" {
		t.Errorf("DescribeDomain of a domain without EFS: %v", d)
	}
	mustDo(t, e, "CreateUserProfile", map[string]any{"DomainId": noEFS, "UserProfileName": "bob"})
	entries, _ := os.ReadDir(efs)
	if len(entries) != 1 || entries[0].Name() != fs {
		t.Errorf("EFS root holds %v, want only %s: a domain with HomeEfsFileSystemCreation Disabled has no EFS", entries, fs)
	}
}

// TestFaultsInProcess: Update_Failed can be updated again, Delete_Failed deleted again,
// and throttling can be limited to some operations.
func TestFaultsInProcess(t *testing.T) {
	e := New(Options{ThrottleRate: 1})
	e.ThrottleOnly("ListApps")
	id := iamDomain(t, e, "faults", nil)
	if err := e.FailNextUpdate(KindDomain, "faults", "KMS key disabled"); err != nil {
		t.Fatal(err)
	}
	mustDo(t, e, "UpdateDomain", map[string]any{"DomainId": id, "DefaultUserSettings": map[string]any{"StudioWebPortal": "ENABLED"}})
	if d := mustDo(t, e, "DescribeDomain", map[string]any{"DomainId": id}); d["Status"] != "Update_Failed" || d["FailureReason"] != "KMS key disabled" {
		t.Fatalf("after a failed update: %v %v", d["Status"], d["FailureReason"])
	}
	mustDo(t, e, "UpdateDomain", map[string]any{"DomainId": id, "DefaultUserSettings": map[string]any{"StudioWebPortal": "ENABLED"}})
	if d := mustDo(t, e, "DescribeDomain", map[string]any{"DomainId": id}); d["Status"] != "InService" || d["FailureReason"] != nil {
		t.Errorf("after a retried update: %v %v", d["Status"], d["FailureReason"])
	}
	wantErr(t, e, "SageMaker.ListApps", map[string]any{}, "ThrottlingException", "Rate exceeded")
	if err := e.FailNextDelete(KindApp, "x", "y"); err == nil {
		t.Error("FailNextDelete accepted an App")
	}
}
