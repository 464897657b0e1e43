package emulator_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// EFS over REST-JSON: the real AWS CLI and the SDK read the declared file systems
// and the lenient emulator's home EFS with their mount targets, and an unknown ID is
// FileSystemNotFound with HTTP 404 in lenient mode too (reads are never lenient).
func TestEFSDescribe(t *testing.T) {
	t.Parallel()
	bin := testutil.RequireBinary(t, "apt-get install awscli", "/usr/bin/aws")
	e := newEnv(t, emulator.Options{}) // NetworkLenient
	e.em.AddWorld(emulator.World{
		VPCs:        map[string][]string{"vpc-0aaaaaaaaaaaaaaaa": {"subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"}},
		FileSystems: map[string][]string{"fs-0123456789abcdef0": {"subnet-0aaaaaaaaaaaaaaa2"}},
	})
	ctx := context.Background()

	fss := mustCLI(t, bin, e.url, "efs", "describe-file-systems", "--file-system-id", "fs-0123456789abcdef0")
	list, _ := fss["FileSystems"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["FileSystemId"] != "fs-0123456789abcdef0" || list[0].(map[string]any)["LifeCycleState"] != "available" {
		t.Fatalf("describe-file-systems printed %v", fss)
	}
	mts := mustCLI(t, bin, e.url, "efs", "describe-mount-targets", "--file-system-id", "fs-0123456789abcdef0")
	mtl, _ := mts["MountTargets"].([]any)
	if len(mtl) != 1 || mtl[0].(map[string]any)["SubnetId"] != "subnet-0aaaaaaaaaaaaaaa2" || mtl[0].(map[string]any)["VpcId"] != "vpc-0aaaaaaaaaaaaaaaa" {
		t.Fatalf("describe-mount-targets printed %v", mts)
	}
	_, stderr, code := awsCLI(t, bin, e.url, "efs", "describe-mount-targets", "--file-system-id", "fs-0000000000000dead")
	if code == 0 || !strings.Contains(stderr, "FileSystemNotFound") {
		t.Errorf("describe-mount-targets of a missing file system exited %d: %s", code, stderr)
	}

	// A domain's home EFS has a mount target in each of its subnets.
	in := iamDomainInput("efs-home")
	in.VpcId, in.SubnetIds = aws.String("vpc-0aaaaaaaaaaaaaaaa"), []string{"subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"}
	id := e.createDomain(t, in)
	d, err := e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	c := efs.NewFromConfig(sdkConfig(e.url))
	out, err := c.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{FileSystemId: d.HomeEfsFileSystemId})
	if err != nil || len(out.MountTargets) != 2 || aws.ToString(out.MountTargets[0].SubnetId) != "subnet-0aaaaaaaaaaaaaaa1" || aws.ToString(out.MountTargets[1].SubnetId) != "subnet-0aaaaaaaaaaaaaaa2" {
		t.Fatalf("mount targets of the home EFS %s = %+v, %v", aws.ToString(d.HomeEfsFileSystemId), out, err)
	}

	_, err = c.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: aws.String("fs-0000000000000dead")})
	var nf *efstypes.FileSystemNotFound
	var re *smithyhttp.ResponseError
	if !errors.As(err, &nf) || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotFound || !strings.Contains(nf.ErrorMessage(), "fs-0000000000000dead") {
		t.Errorf("DescribeFileSystems of a missing file system: %v, want FileSystemNotFound (404)", err)
	}
}
