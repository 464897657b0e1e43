// Package s3test starts a real S3-compatible server in process (gofakes3 over its
// in-memory backend, speaking the S3 REST protocol over HTTP on 127.0.0.1) for tests,
// the demo and the benchmark: the AWS SDK, the AWS CLI v2 and rclone all talk to it as
// they would to S3. It supports what the backup layout needs: PutObject, GetObject,
// ListObjectsV2 with pagination, multipart uploads, DeleteObjects, CopyObject and
// versioned buckets. Requests are not authenticated: any access key works.
package s3test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Credentials the server accepts (it accepts any); tools need some to sign requests.
const (
	AccessKey = "AKIDSTUDIOMIGRATOR"
	SecretKey = "studio-migrator-test-secret"
	Region    = "us-east-1"
)

// Server is a running S3-compatible server.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:<port>.
	URL string

	srv *http.Server
	ln  net.Listener

	mu     sync.Mutex
	hook   func(r *http.Request) // called before each request is served
	served atomic.Int64
}

// New starts a server with the given buckets already created.
func New(buckets ...string) (*Server, error) {
	backend := s3mem.New()
	faker := gofakes3.New(backend, gofakes3.WithTimeSkewLimit(0), gofakes3.WithLogger(gofakes3.DiscardLog()))
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			return nil, fmt.Errorf("creating bucket %s: %w", b, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the S3 server: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), ln: ln}
	h := faker.Server()
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.served.Add(1)
		s.mu.Lock()
		hook := s.hook
		s.mu.Unlock()
		if hook != nil {
			hook(r)
		}
		continueEmpty(w, r)
		h.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// continueEmpty answers "100 Continue" to a request that asks for it
// (Expect: 100-continue) but has an empty body, before the final response.
//
// Go's server sends that interim response only when the handler first reads a
// non-empty body, so for an empty one the final response came alone. The AWS CLI
// (botocore's AWSConnection, in Debian's awscli 2.9) sends Expect: 100-continue with
// every upload, even an empty file's, and when the final response comes without a
// 100 first it keeps that response's status line for the connection (response_class
// with a fixed status_tuple) until the connection is closed. The next upload on the
// same kept-alive connection then reads its real status line as a header, takes the
// response to have no length, and waits for the connection to close: its 60 s read
// timeout, then a retry. A backup of a home with an empty file stalled for a minute
// whenever the CLI reused that connection (the demo's backup-ebs step: 68 s, not 9).
// Answering 100 Continue to every such request, as a server that always reads the
// body does, takes the CLI through its ordinary path.
func continueEmpty(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 && r.ProtoAtLeast(1, 1) && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		w.WriteHeader(http.StatusContinue)
	}
}

// Start is New for a test: it fails the test on error and stops the server at the end.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	s, err := New(buckets...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// SetHook sets a function called with each request before it is served (nil: none);
// tests use it to kill a client at a chosen moment.
func (s *Server) SetHook(fn func(r *http.Request)) {
	s.mu.Lock()
	s.hook = fn
	s.mu.Unlock()
}

// Requests is how many requests the server has received.
func (s *Server) Requests() int64 { return s.served.Load() }

// Client returns an SDK client for the server (path-style addressing).
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		BaseEndpoint: aws.String(s.URL),
		UsePathStyle: true,
		// Checksums only where the API requires them: the fake server does not
		// implement every trailing-checksum variant newer SDKs send by default.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		HTTPClient:                 &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}},
	})
}

// Env returns the environment a command-line tool (the AWS CLI v2, rclone) needs to
// reach the server: credentials, region, and no shared config or metadata lookups.
// The endpoint itself is passed on the command line (--endpoint-url; the CLI 2.9 in
// Debian does not read AWS_ENDPOINT_URL).
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_REGION=" + Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	}
}
