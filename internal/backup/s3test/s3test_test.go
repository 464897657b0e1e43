package s3test_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestContinueForEmptyBody: an upload with an empty body that asks for
// "100 Continue" gets it before the final response, as a non-empty one does, on one
// kept-alive connection (the AWS CLI misreads the next response on a connection
// where it did not: see continueEmpty).
func TestContinueForEmptyBody(t *testing.T) {
	s := s3test.Start(t, "b")
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	put := func(key, body string) {
		t.Helper()
		fmt.Fprintf(c, "PUT /b/%s HTTP/1.1\r\nHost: %s\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", key, strings.TrimPrefix(s.URL, "http://"), len(body))
		var codes []int
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("PUT %s: reading the response: %v (codes so far %v)", key, err, codes)
			}
			codes = append(codes, resp.StatusCode)
			if resp.StatusCode == http.StatusContinue {
				io.WriteString(c, body)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			break
		}
		if fmt.Sprint(codes) != "[100 200]" {
			t.Errorf("PUT %s (%d bytes): responses %v, want [100 200]", key, len(body), codes)
		}
	}
	put("empty", "")
	put("full", "hello")
	for key, want := range map[string]string{"empty": "", "full": "hello"} {
		out, err := s.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("getting %s: %v", key, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || string(got) != want {
			t.Errorf("object %s = %q, %v; want %q", key, got, err, want)
		}
	}
}

// TestAWSCLIEmptyFileThenAnother: the AWS CLI uploads an empty file and then another
// over the same connection (one request at a time) with one PUT each, no stall and
// no retry. Before continueEmpty the second PUT waited for the read timeout and was
// sent again.
func TestAWSCLIEmptyFileThenAnother(t *testing.T) {
	cli := testutil.RequireBinary(t, "apt-get install awscli", "/usr/bin/aws")
	s := s3test.Start(t, "b")
	var mu sync.Mutex
	var puts []string
	s.SetHook(func(r *http.Request) {
		if r.Method == http.MethodPut {
			mu.Lock()
			puts = append(puts, r.URL.Path)
			mu.Unlock()
		}
	})
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	files := map[string]string{"a-empty": "", "b-full": "some bytes\n", "c-full": "more bytes\n", "d-full": "and more\n"}
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// One request at a time: one connection, reused in name order.
	cfg := filepath.Join(dir, "aws-config")
	if err := os.WriteFile(cfg, []byte("[default]\ns3 =\n  max_concurrent_requests = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A short read timeout, so the old stall fails the test in seconds, not a minute.
	cmd := exec.Command(cli, "--endpoint-url", s.URL, "--cli-read-timeout", "5", "s3", "cp", "--recursive", "--only-show-errors", src, "s3://b/p/")
	cmd.Env = append(s.Env(), "AWS_CONFIG_FILE="+cfg, "HOME="+dir, "PATH=/usr/bin:/bin")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws s3 cp: %v: %s", err, out)
	}
	t.Logf("aws s3 cp of %d files: %v", len(files), time.Since(start).Round(time.Millisecond))
	mu.Lock()
	defer mu.Unlock()
	if len(puts) != len(files) {
		t.Errorf("the CLI sent %d PUTs for %d files (a retry after a stalled response): %v", len(puts), len(files), puts)
	}
	for name, want := range files {
		out, err := s.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("p/" + name)})
		if err != nil {
			t.Fatalf("getting p/%s: %v", name, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || string(got) != want {
			t.Errorf("object p/%s = %q, %v; want %q", name, got, err, want)
		}
	}
}
