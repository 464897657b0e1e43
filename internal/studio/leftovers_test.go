package studio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// A profile and a space that an earlier run left Failed stop the step; with
// ReplaceFailed they are deleted and created again, and get a UID.
func TestReplaceFailed(t *testing.T) {
	ctx := context.Background()
	em, c := newTestEnv(t, emulator.Options{})
	p := testPlan("failed", "IAM", 3, 2)
	em.FailNext("UserProfile", "user-001", "The execution role could not be assumed")
	a := testApplier(c)
	_, err := a.Apply(ctx, p)
	var fe *FailedError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "could not be assumed") {
		t.Fatalf("first run: %v, want the Failed profile", err)
	}
	// Without the option the rerun stops on it again, naming the reason.
	if _, err := a.Apply(ctx, p); !errors.As(err, &fe) {
		t.Fatalf("rerun without ReplaceFailed: %v, want a FailedError", err)
	}
	em.FailNext("Space", "space-001", "capacity")
	a.ReplaceFailed = true
	if _, err := a.Apply(ctx, p); !errors.As(err, &fe) || fe.Reason != "capacity" {
		t.Fatalf("rerun that leaves a space Failed: %v", err)
	}
	res, err := a.Apply(ctx, p)
	if err != nil {
		t.Fatalf("rerun with ReplaceFailed: %v", err)
	}
	checkApplied(t, c, p, res, "job-1")
	if n := em.Calls("DeleteUserProfile"); n != 1 {
		t.Errorf("%d DeleteUserProfile calls, want 1 (the Failed one)", n)
	}
	if n := em.Calls("DeleteSpace"); n != 1 {
		t.Errorf("%d DeleteSpace calls, want 1", n)
	}
}

// create-profiles and create-spaces act only on the domain the job made.
func TestCreateStepsRefuseAnotherJobsDomain(t *testing.T) {
	ctx := context.Background()
	em, c := newTestEnv(t, emulator.Options{})
	p := testPlan("theirs", "IAM", 2, 1)
	other := testApplier(c)
	other.JobID = "job-other"
	d, err := other.CreateDomain(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	a := testApplier(c)
	if _, err := a.CreateUserProfiles(ctx, p, d.ID); !errors.Is(err, ErrNotJobDomain) {
		t.Errorf("CreateUserProfiles in another job's domain: %v, want ErrNotJobDomain", err)
	}
	if _, err := a.CreateSpaces(ctx, p, d.ID); !errors.Is(err, ErrNotJobDomain) {
		t.Errorf("CreateSpaces in another job's domain: %v, want ErrNotJobDomain", err)
	}
	if n := em.Calls("CreateUserProfile") + em.Calls("CreateSpace"); n != 0 {
		t.Errorf("%d creates reached the service", n)
	}
	if _, err := other.CreateUserProfiles(ctx, p, d.ID); err != nil {
		t.Errorf("the domain's own job: %v", err)
	}
}

// rewordedConflict loses the first response of op and answers every later
// ResourceInUse of op with a message that says nothing about existing: adoption
// must rest on the error code and a Describe, not on the wording.
type rewordedConflict struct {
	h    http.Handler
	op   string
	lost atomic.Bool
}

func (l *rewordedConflict) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "SageMaker."+l.op {
		l.h.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	l.h.ServeHTTP(rec, r)
	if l.lost.CompareAndSwap(false, true) {
		w.Header().Set("X-Amzn-ErrorType", "InternalFailure")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"__type":"InternalFailure","message":"We encountered an internal error."}`))
		return
	}
	if rec.Header().Get("X-Amzn-ErrorType") == "ResourceInUse" {
		w.Header().Set("X-Amzn-ErrorType", "ResourceInUse")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"ResourceInUse","message":"Conflict."}`))
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func TestAdoptAfterLostResponseIgnoresMessages(t *testing.T) {
	for _, op := range []string{"CreateUserProfile", "CreateSpace"} {
		t.Run(op, func(t *testing.T) {
			em := emulator.New(emulator.Options{})
			srv := httptest.NewServer(&rewordedConflict{h: em, op: op})
			t.Cleanup(srv.Close)
			c := testClients(srv.URL)
			p := testPlan("lost", "IAM", 2, 2)
			res, err := testApplier(c).Apply(context.Background(), p)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			checkApplied(t, c, p, res, "job-1")
		})
	}
}
