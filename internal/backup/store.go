package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3API is the part of the S3 client the package uses; *s3.Client implements it.
type S3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(context.Context, *s3.UploadPartInput, ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// Store is where backups live: a bucket and an optional key prefix.
type Store struct {
	Client S3API
	Bucket string
	Prefix string
}

// String is s3://bucket/prefix, for logs.
func (s Store) String() string {
	return "s3://" + s.Bucket + "/" + strings.Trim(s.Prefix, "/")
}

// Marker is the completion marker of a backup run (complete/<run>.json) or the marker
// a restore writes (restored/<id>.json).
type Marker struct {
	Run           string    `json:"run"`
	Writer        string    `json:"writer"`
	Version       string    `json:"version"`
	Status        string    `json:"status"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	Files         int64     `json:"files"`
	Dirs          int64     `json:"dirs"`
	Symlinks      int64     `json:"symlinks"`
	Bytes         int64     `json:"bytes"`
	Uploaded      int64     `json:"uploaded"`
	UploadedBytes int64     `json:"uploadedBytes"`
	Encoded       int64     `json:"encoded"`
	Errors        int64     `json:"errors"`
	// Restores only: where from, and what was kept because the local copy was newer.
	SourceDomain string `json:"sourceDomain,omitempty"`
	Kept         int64  `json:"kept,omitempty"`
	Downloaded   int64  `json:"downloaded,omitempty"`
}

func (s Store) put(ctx context.Context, key string, body []byte, contentType string) error {
	_, err := s.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String(contentType),
	})
	if err != nil {
		return fmt.Errorf("writing s3://%s/%s: %w", s.Bucket, key, err)
	}
	return nil
}

func (s Store) get(ctx context.Context, key string) ([]byte, error) {
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("reading s3://%s/%s: %w", s.Bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("reading s3://%s/%s: %w", s.Bucket, key, err)
	}
	return b, nil
}

// list calls fn for every object under prefix.
func (s Store) list(ctx context.Context, prefix string, fn func(types.Object)) error {
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing s3://%s/%s: %w", s.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			fn(o)
		}
	}
	return nil
}

// CompleteRuns returns the run IDs of a home's complete backups, oldest first.
func CompleteRuns(ctx context.Context, st Store, domain string, kind Kind, name string) ([]string, error) {
	if err := checkIdent(domain, kind, name); err != nil {
		return nil, err
	}
	base := Base(st.Prefix, domain, kind, name)
	var runs []string
	err := st.list(ctx, base+"complete/", func(o types.Object) {
		run := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(o.Key), base+"complete/"), ".json")
		if validRunID(run) && strings.HasSuffix(aws.ToString(o.Key), ".json") {
			runs = append(runs, run)
		}
	})
	sort.Strings(runs)
	return runs, err
}

// Latest returns the marker of a home's newest complete backup, or ErrNoBackup.
func Latest(ctx context.Context, st Store, domain string, kind Kind, name string) (*Marker, error) {
	runs, err := CompleteRuns(ctx, st, domain, kind, name)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%s %s of domain %s in %s: %w", kind, name, domain, st, ErrNoBackup)
	}
	return readMarker(ctx, st, Base(st.Prefix, domain, kind, name), runs[len(runs)-1])
}

func readMarker(ctx context.Context, st Store, base, run string) (*Marker, error) {
	b, err := st.get(ctx, base+"complete/"+run+".json")
	if err != nil {
		return nil, err
	}
	var m Marker
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("completion marker of run %s: %w", run, err)
	}
	if m.Run == "" {
		m.Run = run
	}
	return &m, nil
}

// HasComplete reports whether a profile or space has a complete backup, and when the
// newest one finished. Cleanup uses it before deleting an EBS-backed space.
func HasComplete(ctx context.Context, st Store, domain string, kind Kind, name string) (bool, time.Time, error) {
	m, err := Latest(ctx, st, domain, kind, name)
	if errors.Is(err, ErrNoBackup) {
		return false, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, err
	}
	return true, m.Finished, nil
}

// readManifest downloads and parses one run's manifest.
func readManifest(ctx context.Context, st Store, base, run string) ([]Entry, error) {
	b, err := st.get(ctx, base+"manifests/"+run+".tsv")
	if err != nil {
		return nil, err
	}
	entries, err := ParseManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("manifest of run %s: %w", run, err)
	}
	return entries, nil
}
