package emulator

import (
	"fmt"
	"strings"
	"time"
)

// Fault injection: the failures AWS can hand a client, on demand, so tests, the demo
// and shell scripts (through `migrator emulator` flags) can drive every failure path.
// Each fault is armed for one resource, named by kind and name, and is used up by the
// first call it applies to.

// Kinds of resource a fault can name.
const (
	KindDomain      = "Domain"
	KindUserProfile = "UserProfile"
	KindSpace       = "Space"
	KindApp         = "App"
)

// Statuses a failed update or delete leaves, as the service spells them.
const (
	statusUpdateFailed = "Update_Failed"
	statusDeleteFailed = "Delete_Failed"
)

type faults struct {
	create, update, del map[string]string        // kind/name -> FailureReason
	pending             map[string]time.Duration // kind/name -> how long the next create stays Pending
	throttleOps         map[string]bool          // nil = throttling applies to every operation
}

func newFaults() faults {
	return faults{create: map[string]string{}, update: map[string]string{}, del: map[string]string{}, pending: map[string]time.Duration{}}
}

func faultKey(kind, name string) string { return kind + "/" + name }

// ParseFaultTarget reads "Kind/name" (Kind one of Domain, UserProfile, Space, App; a
// domain is named by its DomainName).
func ParseFaultTarget(s string) (kind, name string, err error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok || name == "" {
		return "", "", fmt.Errorf("fault target %q: want Kind/name, e.g. UserProfile/alice", s)
	}
	switch kind {
	case KindDomain, KindUserProfile, KindSpace, KindApp:
		return kind, name, nil
	}
	return "", "", fmt.Errorf("fault target %q: kind %q is not one of Domain, UserProfile, Space, App", s, kind)
}

// FailNext makes the next resource of kind ("Domain", "UserProfile", "Space" or "App")
// created with name settle in Failed with FailureReason reason instead of InService.
func (e *Emulator) FailNext(kind, name, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.create[faultKey(kind, name)] = reason
}

// FailNextUpdate makes the next update of the named Domain, UserProfile or Space
// settle in Update_Failed with FailureReason reason.
func (e *Emulator) FailNextUpdate(kind, name, reason string) error {
	if kind == KindApp {
		return fmt.Errorf("apps are not updated; an update failure needs a Domain, UserProfile or Space")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.update[faultKey(kind, name)] = reason
	return nil
}

// FailNextDelete makes the next delete of the named Domain, UserProfile or Space
// settle in Delete_Failed with FailureReason reason (the resource stays).
func (e *Emulator) FailNextDelete(kind, name, reason string) error {
	if kind == KindApp {
		return fmt.Errorf("an app that fails to delete has no Delete_Failed status; a delete failure needs a Domain, UserProfile or Space")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.del[faultKey(kind, name)] = reason
	return nil
}

// HoldPending makes the next create of the named resource stay Pending for d
// (instead of Options.ReadyAfter).
func (e *Emulator) HoldPending(kind, name string, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.pending[faultKey(kind, name)] = d
}

// ThrottleOnly limits throttling (Options.ThrottleRate, SetThrottleRate) to the named
// operations (e.g. "CreateUserProfile"); none = every operation.
func (e *Emulator) ThrottleOnly(ops ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.throttleOps = nil
	if len(ops) > 0 {
		e.faults.throttleOps = map[string]bool{}
		for _, op := range ops {
			e.faults.throttleOps[op] = true
		}
	}
}

func take[T any](m map[string]T, key string) (T, bool) {
	v, ok := m[key]
	if ok {
		delete(m, key)
	}
	return v, ok
}

// createOutcome is how long a new resource stays Pending and where it settles.
func (e *Emulator) createOutcome(kind, name string) (after time.Duration, target, reason string) {
	after = e.opts.ReadyAfter
	if d, ok := take(e.faults.pending, faultKey(kind, name)); ok {
		after = d
	}
	if r, ok := take(e.faults.create, faultKey(kind, name)); ok {
		return after, statusFailed, r
	}
	return after, statusInService, ""
}

// outcome is where a transition settles.
type outcome struct{ target, reason string }

func (l *lifecycle) beginOutcome(now time.Time, after time.Duration, transient string, o outcome) {
	l.begin(now, after, transient, o.target, o.reason)
}

// updateOutcome is where an update settles: InService, or Update_Failed when armed.
func (e *Emulator) updateOutcome(kind, name string) outcome {
	if r, ok := take(e.faults.update, faultKey(kind, name)); ok {
		return outcome{statusUpdateFailed, r}
	}
	return outcome{statusInService, ""}
}

// deleteOutcome is where a delete settles: gone, or Delete_Failed when armed.
func (e *Emulator) deleteOutcome(kind, name string) outcome {
	if r, ok := take(e.faults.del, faultKey(kind, name)); ok {
		return outcome{statusDeleteFailed, r}
	}
	return outcome{statusGone, ""}
}

// updatable is the gate for an update: InService, or Update_Failed (an update that
// failed may be tried again).
func updatable(kind, arn string, l *lifecycle) *apiError {
	if l.status == statusUpdateFailed {
		return nil
	}
	return inService(kind, arn, l)
}
