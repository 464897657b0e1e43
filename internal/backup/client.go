package backup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// ErrNoSuchBucket is wrapped by CheckStore when the bucket does not exist.
var ErrNoSuchBucket = errors.New("the bucket does not exist")

// NewS3Client is the S3 client the worker and the CLI use for a backup store. With
// an endpoint (an S3-compatible server such as MinIO, or a test's) it addresses
// buckets by path and sends checksums only where the API requires them, which every
// such server understands; without one it is the SDK's default for AWS.
func NewS3Client(cfg aws.Config, endpointURL string, workers int) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpointURL != "" {
			o.BaseEndpoint = aws.String(endpointURL)
			o.UsePathStyle = true
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
		// Many objects are in flight at once (Options.Workers): keep that many
		// connections open rather than the transport's default of two.
		if workers <= 0 {
			workers = 64
		}
		o.HTTPClient = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
			MaxIdleConns: workers * 2, MaxIdleConnsPerHost: workers * 2}}
	})
}

// CheckStore lists one key under the store's prefix, so a wrong bucket name, a
// missing permission or an unreachable endpoint fails before a job is enqueued
// (ErrNoSuchBucket for a bucket that does not exist).
func CheckStore(ctx context.Context, st Store) error {
	_, err := st.Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(st.Bucket), Prefix: aws.String(prefixOf(st.Prefix)), MaxKeys: aws.Int32(1)})
	if err == nil {
		return nil
	}
	var nsb *types.NoSuchBucket
	var api smithy.APIError
	if errors.As(err, &nsb) || (errors.As(err, &api) && api.ErrorCode() == "NoSuchBucket") {
		return fmt.Errorf("%s: %w", st, ErrNoSuchBucket)
	}
	return fmt.Errorf("listing %s: %w", st, err)
}

// prefixOf is the key prefix of everything under a store prefix ("" or "p/").
func prefixOf(prefix string) string {
	p := strings.Trim(prefix, "/")
	if p != "" {
		p += "/"
	}
	return p
}
