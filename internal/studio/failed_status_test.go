package studio

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// SageMaker domains, profiles and spaces also settle in Update_Failed and
// Delete_Failed. A rerun of Cleanup after a delete that failed must be able to try
// again, and a wait that sees one must report the FailureReason.
func TestWaitsHandleUpdateAndDeleteFailed(t *testing.T) {
	ctx := context.Background()
	a := &Applier{Waiter: Waiter{PollInterval: time.Millisecond, Timeout: 50 * time.Millisecond}}
	fixed := func(st, reason string) statusFunc {
		return func(context.Context) (string, string, error) { return st, reason, nil }
	}
	for _, st := range []string{"Update_Failed", "Delete_Failed"} {
		if err := a.settleForDelete(ctx, "space d-x/s", fixed(st, "ENI in use")); err != nil {
			t.Errorf("settleForDelete of a %s space: %v, want it deletable", st, err)
		}
		_, err := a.waitFor(ctx, "space d-x/s", fixed(st, "ENI in use"), []string{statusDeleting}, []string{statusGone})
		var fe *FailedError
		if !errors.As(err, &fe) || fe.Reason != "ENI in use" || !strings.Contains(err.Error(), st) {
			t.Errorf("waiting for a space that went %s: %v, want a FailedError with its FailureReason", st, err)
		}
	}
}
