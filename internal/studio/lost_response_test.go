package studio

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// The SDK retries a create whose response was lost; the retry meets the resource the
// first attempt made. That is success, not a second resource and not a failure.
func TestCreatesSurviveALostResponse(t *testing.T) {
	for _, op := range []string{"CreateUserProfile", "CreateSpace"} {
		t.Run(op, func(t *testing.T) {
			em := emulator.New(emulator.Options{})
			srv := httptest.NewServer(&lostResponse{h: em, op: op})
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
	t.Run("CreateApp", func(t *testing.T) {
		ctx := context.Background()
		em := emulator.New(emulator.Options{ReadyAfter: 5 * time.Millisecond})
		lost := &lostResponse{h: em, op: "CreateApp"}
		lost.lost.Store(true) // the test's own CreateApp goes through
		srv := httptest.NewServer(lost)
		t.Cleanup(srv.Close)
		c := testClients(srv.URL)
		a := testApplier(c)
		res, err := a.Apply(ctx, testPlan("restart", "IAM", 1, 0))
		if err != nil {
			t.Fatal(err)
		}
		owner := AppOwner{UserProfileName: "user-000"}
		createTestApp(t, c, res.Domain.ID, owner, "JupyterServer", "default", `{"InstanceType":"system"}`)
		lost.lost.Store(false)
		if err := a.RestartApp(ctx, res.Domain.ID, owner, "JupyterServer", "default"); err != nil {
			t.Fatalf("RestartApp with a lost CreateApp response: %v", err)
		}
	})
}
