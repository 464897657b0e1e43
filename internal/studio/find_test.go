package studio

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

func TestWaits(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// A clock that never moves: Pending never settles.
	_, c := newTestEnv(t, emulator.Options{ReadyAfter: time.Hour, Now: func() time.Time { return now }})
	a := testApplier(c)
	d, err := a.createDomain(ctx, testPlan("slow", "IAM", 0, 0).Domain)
	if err != nil {
		t.Fatal(err)
	}
	w := Waiter{PollInterval: time.Millisecond, Timeout: 30 * time.Millisecond}
	err = w.waitDomainInService(ctx, c.SageMaker, d)
	if !errors.Is(err, ErrWaitTimeout) {
		t.Errorf("wait on a domain that stays Pending: %v, want ErrWaitTimeout", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.waitDomainInService(cctx, c.SageMaker, d); !errors.Is(err, context.Canceled) || errors.Is(err, ErrWaitTimeout) {
		t.Errorf("wait with a cancelled context: %v, want context.Canceled", err)
	}
	// The rest must end on what the service says, not on the clock: a generous
	// timeout keeps a slow machine from turning "not found" into a timeout.
	w.Timeout = time.Minute
	if err := w.waitDomainInService(ctx, c.SageMaker, "d-doesnotexist"); !errors.Is(err, ErrNotFound) {
		t.Errorf("wait on a missing domain: %v, want ErrNotFound", err)
	}
	if err := w.waitDomainDeleted(ctx, c.SageMaker, "d-doesnotexist"); err != nil {
		t.Errorf("waiting for a missing domain to be gone: %v", err)
	}
	if err := w.waitUserProfileInService(ctx, c.SageMaker, d, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("wait on a missing profile: %v, want ErrNotFound", err)
	}
	if err := w.waitAppDeleted(ctx, c.SageMaker, d, AppOwner{UserProfileName: "nobody"}, "JupyterServer", "default"); err != nil {
		t.Errorf("waiting for the app of a missing profile to be gone: %v", err)
	}
}
