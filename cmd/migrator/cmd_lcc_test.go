package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/scripts/lcc"
)

func TestLCCInstall(t *testing.T) {
	url, id := emulatorDomain(t) // one JupyterLab space, no apps
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{Region: "us-east-1", EndpointURL: url})
	if err != nil {
		t.Fatal(err)
	}
	sm := sagemaker.NewFromConfig(cfg)
	// The administrator's own configuration, attached and default, stays so.
	a := &studio.Applier{Clients: studio.NewClients(cfg)}
	adminArn, err := a.InstallLCC(ctx, id, "admins-own", "JupyterLab", []byte("#!/bin/bash\necho mine\n"))
	if err != nil {
		t.Fatal(err)
	}

	args := []string{"lcc", "install", "--domain", id, "--bucket", "my-backups", "--prefix", "team/backups",
		"--endpoint-url", url, "--region", "us-east-1", "-o", "json"}
	out, stderr, err := runMigrator(t, args...)
	if err != nil {
		t.Fatalf("lcc install: %v\n%s", err, stderr)
	}
	var res lccInstallResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The domain has one JupyterLab space and lands in current Studio: JupyterLab only.
	if len(res.Installed) != 1 || res.Installed[0].AppType != "JupyterLab" || res.Installed[0].AlreadyAttached || res.Installed[0].Default {
		t.Fatalf("installed %+v", res.Installed)
	}
	arn := res.Installed[0].ARN

	d, err := sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
	if err != nil {
		t.Fatal(err)
	}
	jl := d.DefaultUserSettings.JupyterLabAppSettings
	if jl == nil || !slices.Equal(jl.LifecycleConfigArns, []string{adminArn, arn}) {
		t.Fatalf("JupyterLabAppSettings.LifecycleConfigArns = %+v, want the admin's and %s", jl, arn)
	}
	// The admin's was the default already: kept (InstallLCC's rule), and reported.
	if jl.DefaultResourceSpec == nil || aws.ToString(jl.DefaultResourceSpec.LifecycleConfigArn) != adminArn {
		t.Errorf("default changed: %+v", jl.DefaultResourceSpec)
	}
	if aws.ToString(d.DefaultUserSettings.ExecutionRole) != "arn:aws:iam::123456789012:role/Default" {
		t.Errorf("execution role lost: %+v", d.DefaultUserSettings)
	}

	// The content is backup-home.sh with the bucket and prefix filled in.
	l, err := sm.DescribeStudioLifecycleConfig(ctx, &sagemaker.DescribeStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String(res.Installed[0].Name)})
	if err != nil {
		t.Fatal(err)
	}
	content, err := base64.StdEncoding.DecodeString(aws.ToString(l.StudioLifecycleConfigContent))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := lcc.BackupScript(lcc.Settings{Bucket: "my-backups", Prefix: "team/backups"})
	if string(content) != want || !strings.Contains(string(content), "\nBACKUP_BUCKET='my-backups'\n") || !strings.Contains(string(content), "\nBACKUP_PREFIX='team/backups'\n") {
		t.Errorf("content is not the filled-in backup script:\n%.400s", content)
	}
	if string(l.StudioLifecycleConfigAppType) != "JupyterLab" || aws.ToString(l.StudioLifecycleConfigArn) != arn {
		t.Errorf("lifecycle configuration %+v", l)
	}

	// Twice: nothing changes, and it says so.
	out2, stderr, err := runMigrator(t, args...)
	if err != nil {
		t.Fatalf("second install: %v\n%s", err, stderr)
	}
	var res2 lccInstallResult
	if err := json.Unmarshal([]byte(out2), &res2); err != nil {
		t.Fatal(err)
	}
	if len(res2.Installed) != 1 || res2.Installed[0].ARN != arn || !res2.Installed[0].AlreadyAttached {
		t.Errorf("second install: %+v", res2.Installed)
	}
	d2, _ := sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
	b1, _ := json.Marshal(d.DefaultUserSettings)
	b2, _ := json.Marshal(d2.DefaultUserSettings)
	if string(b1) != string(b2) {
		t.Errorf("second install changed the settings:\n%s\n%s", b1, b2)
	}
	list, _ := sm.ListStudioLifecycleConfigs(ctx, &sagemaker.ListStudioLifecycleConfigsInput{})
	if len(list.StudioLifecycleConfigs) != 2 {
		t.Errorf("%d lifecycle configurations after two installs, want 2 (admin's + ours)", len(list.StudioLifecycleConfigs))
	}

	// Restore, for explicit app types, in text: a CodeEditor default is set.
	out3, stderr, err := runMigrator(t, "lcc", "install", "--domain", id, "--bucket", "my-backups", "--restore", "--source-domain", "d-oldoldoldold",
		"--app-type", "CodeEditor", "--s3-endpoint-url", "http://127.0.0.1:9000", "--endpoint-url", url, "--region", "us-east-1")
	if err != nil {
		t.Fatalf("restore install: %v\n%s", err, stderr)
	}
	if !strings.Contains(out3, "restore-home.sh (s3://my-backups/studio-backups/) in domain "+id) || !strings.Contains(out3, "CodeEditor") || !strings.Contains(out3, "attached, default") {
		t.Errorf("text output:\n%s", out3)
	}
	d3, _ := sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
	ce := d3.DefaultUserSettings.CodeEditorAppSettings
	if ce == nil || len(ce.LifecycleConfigArns) != 1 || ce.DefaultResourceSpec == nil || aws.ToString(ce.DefaultResourceSpec.LifecycleConfigArn) != ce.LifecycleConfigArns[0] {
		t.Fatalf("CodeEditorAppSettings %+v", ce)
	}
	if !strings.Contains(out3, ce.LifecycleConfigArns[0]) {
		t.Errorf("text output does not name %s:\n%s", ce.LifecycleConfigArns[0], out3)
	}
	l, _ = sm.DescribeStudioLifecycleConfig(ctx, &sagemaker.DescribeStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String(ce.LifecycleConfigArns[0][strings.LastIndex(ce.LifecycleConfigArns[0], "/")+1:])})
	content, _ = base64.StdEncoding.DecodeString(aws.ToString(l.StudioLifecycleConfigContent))
	want, _ = lcc.RestoreScript(lcc.Settings{Bucket: "my-backups", Prefix: "studio-backups", SourceDomain: "d-oldoldoldold", EndpointURL: "http://127.0.0.1:9000"})
	if string(content) != want {
		t.Errorf("restore content is not the filled-in restore script:\n%.400s", content)
	}
}

func TestLCCInstallBadInput(t *testing.T) {
	url, id := emulatorDomain(t)
	aws := []string{"--endpoint-url", url, "--region", "us-east-1"}
	for _, args := range [][]string{
		{"lcc", "install", "--domain", id},
		{"lcc", "install", "--domain", id, "--bucket", "Not_A_Bucket"},
		{"lcc", "install", "--domain", id, "--bucket", "b-ok", "--prefix", ""},
		{"lcc", "install", "--domain", id, "--bucket", "b-ok", "--source-domain", "d-x"},
		{"lcc", "install", "--domain", id, "--bucket", "b-ok", "--restore", "--interval", "60"},
		{"lcc", "install", "--domain", id, "--bucket", "b-ok", "--app-type", "KernelGateway"},
		{"lcc", "install", "--domain", id, "--bucket", "b-ok", "-o", "yaml"},
	} {
		_, _, code, err := runMigratorIn(t, context.Background(), "", append(args, aws...)...)
		if err == nil || code != cli.ExitUsage {
			t.Errorf("%v: code %d, err %v; want a usage error", args, code, err)
		}
	}
	_, _, err := runMigrator(t, append([]string{"lcc", "install", "--domain", "d-nosuchdomain", "--bucket", "b-ok"}, aws...)...)
	if err == nil || !strings.Contains(err.Error(), "d-nosuchdomain") {
		t.Errorf("unknown domain: %v", err)
	}
	// Nothing was installed by any of them.
	cfg, _ := awsconfig.Load(context.Background(), awsconfig.Options{Region: "us-east-1", EndpointURL: url})
	list, err := sagemaker.NewFromConfig(cfg).ListStudioLifecycleConfigs(context.Background(), &sagemaker.ListStudioLifecycleConfigsInput{})
	if err != nil || len(list.StudioLifecycleConfigs) != 0 {
		t.Errorf("bad input installed %+v (%v)", list, err)
	}
}

func TestLCCPolicy(t *testing.T) {
	roles := []string{"arn:aws:iam::123456789012:role/StudioExec", "arn:aws:iam::123456789012:role/Other"}
	out, stderr, err := runMigrator(t, "lcc", "policy", "--bucket", "my-backups", "--role", roles[0], "--role", roles[1])
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var p struct {
		Version   string
		Statement []struct {
			Sid         string
			Effect      string
			Principal   any
			Action      []string
			Resource    []string
			NotResource []string
			Condition   map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if p.Version != "2012-10-17" || len(p.Statement) != 5 {
		t.Fatalf("policy %+v", p)
	}
	own := "arn:aws:s3:::my-backups/studio-backups/*/profile/${aws:SourceIdentity}/*"
	sids := map[string]int{}
	for i, st := range p.Statement {
		sids[st.Sid] = i
	}
	allow := p.Statement[sids["StudioSessionsBackUpAndRestore"]]
	if allow.Effect != "Allow" || !slices.Contains(allow.Resource, own) || !slices.Contains(allow.Action, "s3:PutObject") {
		t.Errorf("allow statement %+v", allow)
	}
	if pr, _ := allow.Principal.(map[string]any); pr == nil || len(pr["AWS"].([]any)) != 2 {
		t.Errorf("principal %+v", allow.Principal)
	}
	deny := p.Statement[sids["StudioSessionsOnlyTheirOwnProfileObjects"]]
	if deny.Effect != "Deny" || !slices.Contains(deny.NotResource, own) || deny.Condition["ArnLike"]["aws:PrincipalArn"] == nil {
		t.Errorf("deny statement %+v", deny)
	}
	noID := p.Statement[sids["StudioSessionsNeedASourceIdentity"]]
	if noID.Effect != "Deny" || noID.Condition["Null"]["aws:SourceIdentity"] != "true" {
		t.Errorf("source identity statement %+v", noID)
	}
	if strings.Contains(out, `\u003c`) || !strings.HasSuffix(out, "}\n") {
		t.Errorf("output not plain indented JSON:\n%s", out)
	}

	for _, args := range [][]string{
		{"lcc", "policy", "--bucket", "my-backups"},
		{"lcc", "policy", "--role", roles[0]},
		{"lcc", "policy", "--bucket", "my-backups", "--role", "StudioExec"},
	} {
		if _, _, code, err := runMigratorIn(t, context.Background(), "", args...); err == nil || code != cli.ExitUsage {
			t.Errorf("%v: code %d, err %v; want a usage error", args, code, err)
		}
	}
}

func TestIAMPolicyCommandBucket(t *testing.T) {
	s := &studio.Snapshot{SchemaVersion: studio.SchemaVersion, Region: "us-east-1", Domain: studio.Domain{
		ID: "d-abcdefghijkl", ARN: "arn:aws:sagemaker:us-east-1:111122223333:domain/d-abcdefghijkl", Name: "research", AuthMode: "IAM"}}
	b, _ := studio.MarshalSnapshot(s)
	path := filepath.Join(t.TempDir(), "snap.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runMigrator(t, "iam-policy", "--snapshot", path, "--bucket", "my-backups", "--prefix", "studio-backups")
	if err != nil {
		t.Fatal(err)
	}
	var p studio.PolicyDocument
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	var objects *studio.PolicyStatement
	for i, st := range p.Statement {
		if st.Sid == "S3BackupObjects" {
			objects = &p.Statement[i]
		}
	}
	if objects == nil || !slices.Equal(objects.Action, []string{"s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"}) ||
		!slices.Equal(objects.Resource, []string{"arn:aws:s3:::my-backups/studio-backups/*"}) {
		t.Errorf("S3 object statement %+v\n%s", objects, out)
	}
}

// A Studio Classic space (no app type) and a code editor space add JupyterServer and
// CodeEditor to the JupyterLab space's type.
func TestLCCDomainAppTypes(t *testing.T) {
	url, id := emulatorDomain(t)
	ctx := context.Background()
	cfg, _ := awsconfig.Load(ctx, awsconfig.Options{Region: "us-east-1", EndpointURL: url})
	sm := sagemaker.NewFromConfig(cfg)
	got, err := domainAppTypes(ctx, sm, id)
	if err != nil || !slices.Equal(got, []string{"JupyterLab"}) {
		t.Fatalf("app types %v, %v; want JupyterLab", got, err)
	}
	if _, err := sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: &id, SpaceName: aws.String("classic")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: &id, SpaceName: aws.String("code"),
		OwnershipSettings:    &smtypes.OwnershipSettings{OwnerUserProfileName: aws.String("bob")},
		SpaceSharingSettings: &smtypes.SpaceSharingSettings{SharingType: smtypes.SharingTypePrivate},
		SpaceSettings:        &smtypes.SpaceSettings{AppType: smtypes.AppTypeCodeEditor}}); err != nil {
		t.Fatal(err)
	}
	got, err = domainAppTypes(ctx, sm, id)
	if err != nil || !slices.Equal(got, []string{"JupyterLab", "CodeEditor", "JupyterServer"}) {
		t.Errorf("app types %v, %v; want all three", got, err)
	}
}
