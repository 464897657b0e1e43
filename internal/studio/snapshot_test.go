package studio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedNow is the clock of every snapshot a golden file holds.
var fixedNow = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

const (
	testAccount = emulator.DefaultAccountID
	testVPC     = "vpc-0a1b2c3d4e5f60718"
)

func role(name string) string { return "arn:aws:iam::" + testAccount + ":role/" + name }

func smTags(kv ...string) []smtypes.Tag {
	var out []smtypes.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, smtypes.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

// waitDomain makes the emulator apply pending transitions (ReadyAfter is 0, so any
// call does) and fails the test if the domain is not InService.
func waitDomain(t testing.TB, c Clients, id string) {
	t.Helper()
	out, err := c.SageMaker.DescribeDomain(context.Background(), &sagemaker.DescribeDomainInput{DomainId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != smtypes.DomainStatusInService {
		t.Fatalf("domain %s is %s", id, out.Status)
	}
}

// createDomain creates a domain whose settings are raw JSON (so they can carry
// members the SDK has no field for) and returns its ID once InService.
func createDomain(t testing.TB, c Clients, in *sagemaker.CreateDomainInput, members map[string]json.RawMessage) string {
	t.Helper()
	if in.DefaultUserSettings == nil {
		// The SDK requires the member before serializing; withMembers replaces it.
		in.DefaultUserSettings = &smtypes.UserSettings{}
	}
	out, err := c.SageMaker.CreateDomain(context.Background(), in, withMembers(members))
	if err != nil {
		t.Fatalf("creating domain %s: %v", aws.ToString(in.DomainName), err)
	}
	waitDomain(t, c, aws.ToString(out.DomainId))
	return aws.ToString(out.DomainId)
}

func createProfile(t testing.TB, c Clients, domainID, name string, userSettings string, tags []smtypes.Tag, ssoUser string) {
	t.Helper()
	in := &sagemaker.CreateUserProfileInput{DomainId: aws.String(domainID), UserProfileName: aws.String(name), Tags: tags}
	if ssoUser != "" {
		in.SingleSignOnUserIdentifier = aws.String("UserName")
		in.SingleSignOnUserValue = aws.String(ssoUser)
	}
	members := map[string]json.RawMessage{}
	if userSettings != "" {
		members["UserSettings"] = json.RawMessage(userSettings)
	}
	if _, err := c.SageMaker.CreateUserProfile(context.Background(), in, withMembers(members)); err != nil {
		t.Fatalf("creating user profile %s: %v", name, err)
	}
}

func createSpace(t testing.TB, c Clients, domainID, name, owner, sharing, spaceSettings string, tags []smtypes.Tag) {
	t.Helper()
	in := &sagemaker.CreateSpaceInput{DomainId: aws.String(domainID), SpaceName: aws.String(name), Tags: tags}
	if owner != "" {
		in.OwnershipSettings = &smtypes.OwnershipSettings{OwnerUserProfileName: aws.String(owner)}
		in.SpaceSharingSettings = &smtypes.SpaceSharingSettings{SharingType: smtypes.SharingType(sharing)}
	}
	members := map[string]json.RawMessage{}
	if spaceSettings != "" {
		members["SpaceSettings"] = json.RawMessage(spaceSettings)
	}
	if _, err := c.SageMaker.CreateSpace(context.Background(), in, withMembers(members)); err != nil {
		t.Fatalf("creating space %s: %v", name, err)
	}
}

// buildIAMDomain builds an IAM domain with custom execution roles, tags, settings
// members the SDK does not know (FutureMember), a shared, a private and a Studio
// Classic space, and a profile that failed to create.
func buildIAMDomain(t testing.TB, em *emulator.Emulator, c Clients) string {
	t.Helper()
	id := createDomain(t, c, &sagemaker.CreateDomainInput{
		DomainName:           aws.String("research"),
		AuthMode:             smtypes.AuthModeIam,
		VpcId:                aws.String(testVPC),
		SubnetIds:            []string{"subnet-0123456789abcdef0", "subnet-0fedcba9876543210"},
		AppNetworkAccessType: smtypes.AppNetworkAccessTypeVpcOnly,
		KmsKeyId:             aws.String("arn:aws:kms:us-east-1:" + testAccount + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"),
		TagPropagation:       smtypes.TagPropagationEnabled,
		Tags:                 smTags("team", "research", "cost-center", "42"),
	}, map[string]json.RawMessage{
		"DefaultUserSettings":  json.RawMessage(`{"ExecutionRole":"` + role("StudioDefault") + `","SecurityGroups":["sg-0aaaaaaaaaaaaaaa1"],"FutureMember":{"Answer":42},"JupyterLabAppSettings":{"DefaultResourceSpec":{"InstanceType":"ml.t3.medium"}}}`),
		"DefaultSpaceSettings": json.RawMessage(`{"ExecutionRole":"` + role("StudioSpaces") + `","SecurityGroups":["sg-0aaaaaaaaaaaaaaa1"]}`),
		"DomainSettings":       json.RawMessage(`{"SecurityGroupIds":["sg-0bbbbbbbbbbbbbbb2"],"DockerSettings":{"EnableDockerAccess":"ENABLED"}}`),
	})
	createProfile(t, c, id, "alice", `{"ExecutionRole":"`+role("AliceExec")+`","SecurityGroups":["sg-0aaaaaaaaaaaaaaa1","sg-0ccccccccccccccc3"],"FutureMember":"kept"}`, smTags("studiouserid", "alice"), "")
	createProfile(t, c, id, "bob", "", smTags("studiouserid", "bob", "owner", "bob@example.com"), "")
	em.FailNext("UserProfile", "carol", "Execution role is not assumable")
	createProfile(t, c, id, "carol", `{"ExecutionRole":"`+role("Broken")+`"}`, smTags("studiouserid", "carol"), "")
	createSpace(t, c, id, "team-lab", "alice", "Shared", `{"AppType":"JupyterLab","SpaceStorageSettings":{"EbsStorageSettings":{"EbsVolumeSizeInGb":50}}}`, smTags("team", "research"))
	createSpace(t, c, id, "bob-code", "bob", "Private", `{"AppType":"CodeEditor","FutureSpaceMember":[1,2,3]}`, nil)
	createSpace(t, c, id, "classic", "", "", `{"JupyterServerAppSettings":{"DefaultResourceSpec":{"InstanceType":"system"}}}`, nil)
	return id
}

// buildSSODomain builds an Identity Center domain with trusted identity propagation
// on and profiles mapped to Identity Center users, each with a private space.
func buildSSODomain(t testing.TB, em *emulator.Emulator, c Clients) string {
	t.Helper()
	em.AddIdentityCenterUser("dana@example.com")
	em.AddIdentityCenterUser("eve@example.com")
	id := createDomain(t, c, &sagemaker.CreateDomainInput{
		DomainName: aws.String("sso-studio"),
		AuthMode:   smtypes.AuthModeSso,
		VpcId:      aws.String(testVPC),
		SubnetIds:  []string{"subnet-0123456789abcdef0"},
		Tags:       smTags("env", "prod"),
	}, map[string]json.RawMessage{
		"DefaultUserSettings": json.RawMessage(`{"ExecutionRole":"` + role("SSODefault") + `"}`),
		"DomainSettings":      json.RawMessage(`{"ExecutionRoleIdentityConfig":"USER_PROFILE_NAME","TrustedIdentityPropagationSettings":{"Status":"ENABLED"}}`),
	})
	createProfile(t, c, id, "dana", `{"ExecutionRole":"`+role("DanaExec")+`"}`, smTags("studiouserid", "dana"), "dana@example.com")
	createProfile(t, c, id, "eve", "", smTags("studiouserid", "eve"), "eve@example.com")
	createSpace(t, c, id, "dana-lab", "dana", "Private", `{"AppType":"JupyterLab"}`, nil)
	createSpace(t, c, id, "eve-code", "eve", "Private", `{"AppType":"CodeEditor"}`, smTags("project", "x"))
	return id
}

// goldenCompare compares got with testdata/name, or rewrites it under -update.
func goldenCompare(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./internal/studio -run %s -update` to create it)", err, t.Name())
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got; refresh with -update if intended):\n%s", path, d)
	}
}

func TestSnapshotGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(testing.TB, *emulator.Emulator, Clients) string
	}{
		{"iam", buildIAMDomain},
		{"sso", buildSSODomain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			em, c := newTestEnv(t, emulator.Options{Seed: 7})
			id := tc.build(t, em, c)
			s, err := TakeSnapshot(context.Background(), c, id, SnapshotOptions{Now: fixedNow, Concurrency: 3})
			if err != nil {
				t.Fatal(err)
			}
			b, err := MarshalSnapshot(s)
			if err != nil {
				t.Fatal(err)
			}
			// The document must be one ReadSnapshot accepts, unchanged.
			back, err := ReadSnapshot(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("ReadSnapshot of a fresh snapshot: %v", err)
			}
			b2, err := MarshalSnapshot(back)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, b2) {
				t.Errorf("snapshot does not survive a read/write round trip:\n%s", cmp.Diff(string(b), string(b2)))
			}
			goldenCompare(t, "snapshot_"+tc.name+".golden.json", b)
		})
	}
}

// TestSnapshotFields checks, independently of the golden files, the fields a plan
// depends on.
func TestSnapshotFields(t *testing.T) {
	em, c := newTestEnv(t, emulator.Options{Seed: 1})
	id := buildIAMDomain(t, em, c)
	s, err := TakeSnapshot(context.Background(), c, id, SnapshotOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if s.SchemaVersion != SchemaVersion || s.Region != emulator.DefaultRegion || s.AccountID != testAccount || !s.TakenAt.Equal(fixedNow()) {
		t.Errorf("header: version %d region %q account %q takenAt %v", s.SchemaVersion, s.Region, s.AccountID, s.TakenAt)
	}
	d := s.Domain
	if d.ID != id || d.Name != "research" || d.AuthMode != "IAM" || d.VpcID != testVPC || len(d.SubnetIDs) != 2 ||
		d.AppNetworkAccessType != "VpcOnly" || d.TagPropagation != "ENABLED" || !strings.HasPrefix(d.HomeEfsFileSystemID, "fs-") ||
		!strings.Contains(d.KmsKeyID, ":key/") {
		t.Errorf("domain: %+v", d)
	}
	if !strings.Contains(string(d.DefaultUserSettings), `"FutureMember":{"Answer":42}`) {
		t.Errorf("unknown settings member lost: %s", d.DefaultUserSettings)
	}
	if len(d.Tags) != 2 {
		t.Errorf("domain tags: %v", d.Tags)
	}
	profiles := map[string]UserProfile{}
	for _, p := range s.UserProfiles {
		profiles[p.Name] = p
	}
	if len(profiles) != 3 {
		t.Fatalf("profiles: %v", profiles)
	}
	uids := map[string]bool{}
	for _, p := range s.UserProfiles {
		if p.HomeEfsFileSystemUID == "" || uids[p.HomeEfsFileSystemUID] {
			t.Errorf("profile %s: UID %q missing or repeated", p.Name, p.HomeEfsFileSystemUID)
		}
		uids[p.HomeEfsFileSystemUID] = true
	}
	if p := profiles["alice"]; p.ExecutionRole != role("AliceExec") || !strings.Contains(string(p.UserSettings), `"FutureMember":"kept"`) || p.Status != "InService" {
		t.Errorf("alice: %+v", p)
	}
	if p := profiles["bob"]; p.ExecutionRole != "" || len(p.Tags) != 2 || p.UserSettings != nil {
		t.Errorf("bob (domain default role, two tags, no settings): %+v", p)
	}
	if p := profiles["carol"]; p.Status != "Failed" {
		t.Errorf("carol should be kept with status Failed: %+v", p)
	}
	spaces := map[string]Space{}
	for _, sp := range s.Spaces {
		spaces[sp.Name] = sp
	}
	if sp := spaces["team-lab"]; sp.SharingType != "Shared" || sp.OwnerUserProfileName != "alice" || sp.AppType != "JupyterLab" || len(sp.Tags) != 1 {
		t.Errorf("team-lab: %+v", sp)
	}
	if sp := spaces["bob-code"]; sp.SharingType != "Private" || sp.OwnerUserProfileName != "bob" || sp.AppType != "CodeEditor" || !strings.Contains(string(sp.SpaceSettings), "FutureSpaceMember") {
		t.Errorf("bob-code: %+v", sp)
	}
	if sp := spaces["classic"]; sp.SharingType != "" || sp.OwnerUserProfileName != "" || sp.AppType != "" || sp.HomeEfsFileSystemUID == "" {
		t.Errorf("classic: %+v", sp)
	}
}

func TestSnapshotSSO(t *testing.T) {
	em, c := newTestEnv(t, emulator.Options{})
	id := buildSSODomain(t, em, c)
	s, err := TakeSnapshot(context.Background(), c, id, SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Domain.AuthMode != "SSO" || !strings.HasPrefix(s.Domain.SingleSignOnApplicationArn, "arn:aws:sso::") || s.Domain.SingleSignOnManagedApplicationInstanceID == "" {
		t.Errorf("domain SSO fields: %+v", s.Domain)
	}
	var ds struct{ TrustedIdentityPropagationSettings struct{ Status string } }
	if err := json.Unmarshal(s.Domain.DomainSettings, &ds); err != nil || ds.TrustedIdentityPropagationSettings.Status != "ENABLED" {
		t.Errorf("DomainSettings %s: %v", s.Domain.DomainSettings, err)
	}
	for _, p := range s.UserProfiles {
		if p.SingleSignOnUserIdentifier != "UserName" || p.SingleSignOnUserValue != p.Name+"@example.com" {
			t.Errorf("profile %s SSO mapping: %q=%q", p.Name, p.SingleSignOnUserIdentifier, p.SingleSignOnUserValue)
		}
	}
}

// TestSnapshotLargeThrottled reads a domain too big for one page of anything while
// the service throttles 30% of calls: every profile, space, UID and tag must be there.
func TestSnapshotLargeThrottled(t *testing.T) {
	if testing.Short() {
		t.Skip("large domain")
	}
	const nProfiles, nSpaces = 300, 40
	em, c := newTestEnv(t, emulator.Options{Seed: 3})
	id := createDomain(t, c, &sagemaker.CreateDomainInput{
		DomainName: aws.String("big"), AuthMode: smtypes.AuthModeIam,
		VpcId: aws.String(testVPC), SubnetIds: []string{"subnet-0123456789abcdef0"},
	}, map[string]json.RawMessage{"DefaultUserSettings": json.RawMessage(`{"ExecutionRole":"` + role("Default") + `"}`)})
	for i := range nProfiles {
		name := fmt.Sprintf("user-%03d", i)
		createProfile(t, c, id, name, `{"ExecutionRole":"`+role("Exec-"+name)+`"}`, smTags("studiouserid", name, "index", fmt.Sprint(i)), "")
	}
	for i := range nSpaces {
		owner := fmt.Sprintf("user-%03d", i)
		createSpace(t, c, id, fmt.Sprintf("space-%02d", i), owner, "Private", `{"AppType":"JupyterLab"}`, smTags("owner", owner))
	}
	em.SetThrottleRate(0.3)
	s, err := TakeSnapshot(context.Background(), c, id, SnapshotOptions{Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	em.SetThrottleRate(0)
	if len(s.UserProfiles) != nProfiles || len(s.Spaces) != nSpaces {
		t.Fatalf("got %d profiles and %d spaces, want %d and %d", len(s.UserProfiles), len(s.Spaces), nProfiles, nSpaces)
	}
	uids := map[string]string{}
	for _, p := range s.UserProfiles {
		if other, dup := uids[p.HomeEfsFileSystemUID]; dup || p.HomeEfsFileSystemUID == "" {
			t.Errorf("profile %s UID %q (also %s)", p.Name, p.HomeEfsFileSystemUID, other)
		}
		uids[p.HomeEfsFileSystemUID] = p.Name
		if p.ExecutionRole != role("Exec-"+p.Name) {
			t.Errorf("profile %s role %q", p.Name, p.ExecutionRole)
		}
		if len(p.Tags) != 2 {
			t.Errorf("profile %s tags %v", p.Name, p.Tags)
		}
	}
	for _, sp := range s.Spaces {
		if other, dup := uids[sp.HomeEfsFileSystemUID]; dup || sp.HomeEfsFileSystemUID == "" {
			t.Errorf("space %s UID %q (also %s)", sp.Name, sp.HomeEfsFileSystemUID, other)
		}
		uids[sp.HomeEfsFileSystemUID] = sp.Name
		if len(sp.Tags) != 1 || sp.Tags[0].Value != sp.OwnerUserProfileName {
			t.Errorf("space %s tags %v owner %q", sp.Name, sp.Tags, sp.OwnerUserProfileName)
		}
	}
	// Spot values: UIDs are handed out in creation order from 200001 in this
	// emulator, so the first and last profile and space are known.
	b, _ := MarshalSnapshot(s)
	back, _ := ReadSnapshot(bytes.NewReader(b))
	for _, want := range []struct{ name, uid string }{
		{"user-000", fmt.Sprint(emulator.FirstUID)},
		{"user-299", fmt.Sprint(emulator.FirstUID + nProfiles - 1)},
		{"space-00", fmt.Sprint(emulator.FirstUID + nProfiles)},
		{"space-39", fmt.Sprint(emulator.FirstUID + nProfiles + nSpaces - 1)},
	} {
		if uids[want.uid] != want.name {
			t.Errorf("UID %s belongs to %q, want %q", want.uid, uids[want.uid], want.name)
		}
	}
	if back.UserProfiles[0].Name != "user-000" || back.Spaces[nSpaces-1].Name != "space-39" {
		t.Errorf("not sorted: first %s last space %s", back.UserProfiles[0].Name, back.Spaces[nSpaces-1].Name)
	}
	if n := em.Calls("DescribeUserProfile"); n < nProfiles {
		t.Errorf("DescribeUserProfile answered %d times", n)
	}
}

func TestSnapshotUnknownDomain(t *testing.T) {
	_, c := newTestEnv(t, emulator.Options{})
	_, err := TakeSnapshot(context.Background(), c, "d-doesnotexist", SnapshotOptions{})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("error %v does not wrap ErrNotFound", err)
	}
	for _, want := range []string{"d-doesnotexist", "not found in us-east-1", "--domain", "--region"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestSnapshotSkipsVanished deletes a profile and a space between List and Describe
// (by answering their Describe with ResourceNotFound): the snapshot skips them with
// a warning and keeps the rest.
func TestSnapshotSkipsVanished(t *testing.T) {
	em := emulator.New(emulator.Options{})
	gone := map[string]bool{`"UserProfileName":"bob"`: true, `"SpaceName":"bob-code"`: true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		if target == "SageMaker.DescribeUserProfile" || target == "SageMaker.DescribeSpace" {
			body, _ := readAll(r)
			for k := range gone {
				if bytes.Contains(body, []byte(k)) {
					w.Header().Set("X-Amzn-ErrorType", "ResourceNotFound")
					w.Header().Set("Content-Type", "application/x-amz-json-1.1")
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprintf(w, `{"__type":"ResourceNotFound","message":"%s does not exist."}`, strings.ReplaceAll(k, `"`, ""))
					return
				}
			}
		}
		em.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := NewClients(aws.Config{
		Region:       emulator.DefaultRegion,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) { so.RateLimiter = ratelimit.None })
		},
	})
	id := buildIAMDomain(t, em, c)
	var logs lockedBuffer
	s, err := TakeSnapshot(context.Background(), c, id, SnapshotOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range s.UserProfiles {
		names = append(names, p.Name)
	}
	for _, sp := range s.Spaces {
		names = append(names, sp.Name)
	}
	if d := cmp.Diff([]string{"alice", "carol", "team-lab", "classic"}, names, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("resources (-want +got):\n%s", d)
	}
	for _, want := range []string{"profile=bob", "space=bob-code", "vanished"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not mention %q:\n%s", want, logs.String())
		}
	}
}

// readAll reads the request body and puts it back for the emulator.
func readAll(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSnapshotConcurrencyBound counts Describe/ListTags calls in flight at the server:
// they overlap (the snapshot is concurrent) but never exceed the bound.
func TestSnapshotConcurrencyBound(t *testing.T) {
	const limit = 3
	em := emulator.New(emulator.Options{})
	var (
		mu                sync.Mutex
		inFlight, maxSeen int
		counting          bool
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		count := counting
		if count {
			inFlight++
			maxSeen = max(maxSeen, inFlight)
		}
		mu.Unlock()
		if count {
			time.Sleep(2 * time.Millisecond) // long enough for calls to overlap
		}
		em.ServeHTTP(w, r)
		if count {
			mu.Lock()
			inFlight--
			mu.Unlock()
		}
	}))
	defer srv.Close()
	c := NewClients(aws.Config{
		Region:       emulator.DefaultRegion,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	})
	id := createDomain(t, c, &sagemaker.CreateDomainInput{
		DomainName: aws.String("bound"), AuthMode: smtypes.AuthModeIam,
		VpcId: aws.String(testVPC), SubnetIds: []string{"subnet-0123456789abcdef0"},
	}, map[string]json.RawMessage{"DefaultUserSettings": json.RawMessage(`{"ExecutionRole":"` + role("Default") + `"}`)})
	for i := range 20 {
		createProfile(t, c, id, fmt.Sprintf("u%02d", i), "", nil, "")
	}
	mu.Lock()
	counting = true
	mu.Unlock()
	s, err := TakeSnapshot(context.Background(), c, id, SnapshotOptions{Concurrency: limit})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.UserProfiles) != 20 {
		t.Fatalf("%d profiles", len(s.UserProfiles))
	}
	if maxSeen > limit || maxSeen < 2 {
		t.Errorf("at most %d calls were in flight, want between 2 and %d", maxSeen, limit)
	}
}
