package studio

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// The snapshot keeps the content of every lifecycle configuration the settings name;
// Apply into a fresh account recreates each under its name, and the settings of the
// new domain and profiles point at the new ARNs.
func TestLifecycleConfigRoundTrip(t *testing.T) {
	ctx := context.Background()
	_, cA := newTestEnv(t, emulator.Options{Seed: 1})
	emB, cB := newTestEnv(t, emulator.Options{Seed: 2, AccountID: "210987654321"})
	const script = "IyEvYmluL2Jhc2gKZWNobyBzZXR1cAo=" // #!/bin/bash echo setup
	var arns []string
	for _, l := range []struct{ name, appType, content string }{{"setup", "JupyterLab", script}, {"editor", "CodeEditor", "IyEvYmluL3NoCg=="}} {
		out, err := cA.SageMaker.CreateStudioLifecycleConfig(ctx, &sagemaker.CreateStudioLifecycleConfigInput{
			StudioLifecycleConfigName: aws.String(l.name), StudioLifecycleConfigAppType: "JupyterLab",
			StudioLifecycleConfigContent: aws.String(l.content),
		})
		if l.appType == "CodeEditor" {
			// created with its own app type below
			_, _ = cA.SageMaker.DeleteStudioLifecycleConfig(ctx, &sagemaker.DeleteStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String(l.name)})
			out, err = cA.SageMaker.CreateStudioLifecycleConfig(ctx, &sagemaker.CreateStudioLifecycleConfigInput{
				StudioLifecycleConfigName: aws.String(l.name), StudioLifecycleConfigAppType: "CodeEditor",
				StudioLifecycleConfigContent: aws.String(l.content),
			})
		}
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, aws.ToString(out.StudioLifecycleConfigArn))
	}
	id := createDomain(t, cA, &sagemaker.CreateDomainInput{
		DomainName: aws.String("lcc"), AuthMode: "IAM", VpcId: aws.String(testVPC), SubnetIds: []string{"subnet-0123456789abcdef0"},
	}, map[string]json.RawMessage{
		"DefaultUserSettings": json.RawMessage(`{"ExecutionRole":"` + role("Default") + `","JupyterLabAppSettings":{"LifecycleConfigArns":["` + arns[0] + `"],"DefaultResourceSpec":{"LifecycleConfigArn":"` + arns[0] + `","InstanceType":"ml.t3.medium"}}}`),
	})
	createProfile(t, cA, id, "alice", `{"CodeEditorAppSettings":{"LifecycleConfigArns":["`+arns[1]+`"]}}`, nil, "")

	s, err := TakeSnapshot(ctx, cA, id, SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := MarshalSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	if s, err = ReadSnapshot(bytes.NewReader(doc)); err != nil {
		t.Fatalf("reading the document back: %v", err)
	}
	want := []LifecycleConfig{
		{Name: "editor", ARN: arns[1], AppType: "CodeEditor", Content: "IyEvYmluL3NoCg=="},
		{Name: "setup", ARN: arns[0], AppType: "JupyterLab", Content: script},
	}
	if len(s.LifecycleConfigs) != 2 || s.LifecycleConfigs[0] != want[0] || s.LifecycleConfigs[1] != want[1] {
		t.Fatalf("snapshot lifecycleConfigs = %+v, want %+v", s.LifecycleConfigs, want)
	}

	p, err := NewPlan(s, Overrides{DomainName: "lcc-v2"}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := testApplier(cB)
	a.RecreateLifecycleConfigs = true
	res, err := a.Apply(ctx, p)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	newArn := func(name string) string {
		return "arn:aws:sagemaker:us-east-1:210987654321:studio-lifecycle-config/" + name
	}
	for _, l := range want {
		out, err := cB.SageMaker.DescribeStudioLifecycleConfig(ctx, &sagemaker.DescribeStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String(l.Name)})
		if err != nil {
			t.Fatalf("lifecycle configuration %s not recreated: %v", l.Name, err)
		}
		if aws.ToString(out.StudioLifecycleConfigContent) != l.Content || string(out.StudioLifecycleConfigAppType) != l.AppType || aws.ToString(out.StudioLifecycleConfigArn) != newArn(l.Name) {
			t.Errorf("recreated %s = %s %s %s", l.Name, aws.ToString(out.StudioLifecycleConfigArn), out.StudioLifecycleConfigAppType, aws.ToString(out.StudioLifecycleConfigContent))
		}
	}
	got, err := TakeSnapshot(ctx, cB, res.Domain.ID, SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dus := string(got.Domain.DefaultUserSettings)
	if strings.Count(dus, newArn("setup")) != 2 || strings.Contains(dus, "123456789012:studio-lifecycle-config") {
		t.Errorf("new domain's DefaultUserSettings do not point at the recreated configuration: %s", dus)
	}
	if us := string(got.UserProfiles[0].UserSettings); !strings.Contains(us, newArn("editor")) || strings.Contains(us, arns[1]) {
		t.Errorf("alice's UserSettings do not point at the recreated configuration: %s", us)
	}
	if len(got.LifecycleConfigs) != 2 {
		t.Errorf("a snapshot of the new domain holds %d lifecycle configurations, want 2", len(got.LifecycleConfigs))
	}
	// Idempotent: a rerun finds them (same content) and creates nothing.
	if _, err := a.Apply(ctx, p); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if n := emB.Calls("CreateStudioLifecycleConfig"); n != 2 {
		t.Errorf("%d CreateStudioLifecycleConfig calls, want 2", n)
	}
}

// A configuration of the same name but other content in the target belongs to
// someone else: Apply stops before creating the domain.
func TestRecreateLifecycleConfigRefusesOtherContent(t *testing.T) {
	ctx := context.Background()
	em, c := newTestEnv(t, emulator.Options{})
	if _, err := c.SageMaker.CreateStudioLifecycleConfig(ctx, &sagemaker.CreateStudioLifecycleConfigInput{
		StudioLifecycleConfigName: aws.String("setup"), StudioLifecycleConfigAppType: "JupyterLab", StudioLifecycleConfigContent: aws.String("IyEvYmluL3NoCg=="),
	}); err != nil {
		t.Fatal(err)
	}
	p := testPlan("lcc", "IAM", 1, 0)
	p.LifecycleConfigs = []LifecycleConfig{{Name: "setup", ARN: "arn:aws:sagemaker:eu-west-1:111122223333:studio-lifecycle-config/setup", AppType: "JupyterLab", Content: "ZWNobyBvdGhlcgo="}}
	a := testApplier(c)
	a.RecreateLifecycleConfigs = true
	if _, err := a.Apply(ctx, p); !errorsIs(err, ErrLCCContentDiffers) {
		t.Fatalf("Apply = %v, want ErrLCCContentDiffers", err)
	}
	if n := em.Calls("CreateDomain"); n != 0 {
		t.Errorf("%d CreateDomain calls after the refusal", n)
	}
}
