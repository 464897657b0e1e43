package studio

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// TestWireRoundTrip proves the two halves of "settings travel as wire JSON": members
// merged into a Create request arrive, including one the SDK has no field for, and the
// Describe response body is captured byte for byte as the service sent it.
func TestWireRoundTrip(t *testing.T) {
	ctx := context.Background()
	_, c := newTestEnv(t, emulator.Options{})
	settings := json.RawMessage(`{"ExecutionRole":"arn:aws:iam::123456789012:role/Exec","FutureMember":{"Answer":42},"SecurityGroups":["sg-0123456789abcdef0"]}`)
	out, err := c.SageMaker.CreateDomain(ctx, &sagemaker.CreateDomainInput{
		DomainName: aws.String("wire"),
		AuthMode:   smtypes.AuthModeIam,
		VpcId:      aws.String("vpc-0123456789abcdef0"),
		SubnetIds:  []string{"subnet-0123456789abcdef0"},
		// The input's own DefaultUserSettings is replaced by the merged member.
		DefaultUserSettings: &smtypes.UserSettings{ExecutionRole: aws.String("arn:aws:iam::123456789012:role/Replaced")},
	}, withMembers(map[string]json.RawMessage{"DefaultUserSettings": settings, "DefaultSpaceSettings": json.RawMessage("null")}))
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	d, err := c.SageMaker.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: out.DomainId}, captureBody(&body))
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.DomainName) != "wire" {
		t.Errorf("typed output still decoded: DomainName %q", aws.ToString(d.DomainName))
	}
	var got struct {
		DefaultUserSettings  json.RawMessage
		DefaultSpaceSettings json.RawMessage
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("captured body %q: %v", body, err)
	}
	gc, err := canonicalJSON(got.DefaultUserSettings)
	if err != nil {
		t.Fatal(err)
	}
	if string(gc) != string(settings) {
		t.Errorf("DefaultUserSettings round trip:\n got %s\nwant %s", gc, settings)
	}
	if got.DefaultSpaceSettings != nil {
		t.Errorf("a null member was sent: %s", got.DefaultSpaceSettings)
	}
}
