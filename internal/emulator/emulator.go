package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Options configure an Emulator. The zero value is a usable emulator in us-east-1.
type Options struct {
	Region       string        // default "us-east-1"
	AccountID    string        // default "123456789012"
	ReadyAfter   time.Duration // delay before Pending/Updating/Deleting settle; 0 = immediately on next read
	ThrottleRate float64       // share of calls (0..1) answered ThrottlingException
	Seed         int64         // makes throttling and IDs reproducible
	EFSRoot      string        // if set, <EFSRoot>/<HomeEfsFileSystemId>/<uid> dirs are created
	// EBSRoot, if set, stands for the EBS volumes of JupyterLab and Code Editor spaces:
	// each such space's home is <EBSRoot>/<DomainId>/<SpaceName>, made at CreateSpace
	// and removed when the space is deleted. Unset, those spaces get no folder at all
	// (never one on the EFS: in Studio their home is not there).
	EBSRoot string
	// HomeDirOnCreate creates a profile's or space's home directory when it is created;
	// when false the directory appears at the first CreateApp for it, like a Studio
	// Classic home that does not exist until the user first opens an app. nil = true.
	HomeDirOnCreate *bool
	Logger          *slog.Logger // nil = discard

	// Now replaces the clock (tests use it to step past ReadyAfter without sleeping).
	// nil = time.Now.
	Now func() time.Time
	// Quotas answered with ResourceLimitExceeded. 0 = the defaults below.
	MaxDomains               int // default 100
	MaxUserProfilesPerDomain int // default 1000
	MaxSpacesPerDomain       int // default 1000
	// Network: whether CreateDomain refuses unknown VPCs, subnets, security groups
	// and KMS keys (NetworkStrict) or creates them on first use (NetworkLenient, the
	// default). See NetworkMode.
	Network NetworkMode
	// LCC runs lifecycle configurations when apps start; nil = they are stored,
	// attached, and never run (the behaviour without it). See LCCRunner.
	LCC *LCCRunner
}

// Defaults applied by New.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"
	// FirstUID is the first HomeEfsFileSystemUid handed out; real domains start there too.
	FirstUID = 200001
	// HomeGID is the group of home directories the emulator creates. Studio's EFS
	// access points use GID 1001 for every user.
	HomeGID = 1001
)

// Emulator serves the SageMaker, SSO admin and Identity Store API subsets over the AWS
// JSON 1.1 protocol. It implements http.Handler; all state lives in memory behind one
// mutex, so it is safe for any number of concurrent clients.
type Emulator struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	homeDir bool

	mu           sync.Mutex
	idRand       *mrand.Rand // IDs: fs-, d-, user ids
	throttleRand *mrand.Rand
	throttleRate float64
	calls        map[string]int
	faults       faults
	seq          uint64
	nextUID      int

	domains    map[string]*domain // by DomainId
	lccs       map[string]*studioLCC
	tags       map[string][]tag // by ARN of an existing resource
	sso        ssoState
	ssoUsers   []*idcUser
	assignment map[string]map[string]string // application ARN -> principal ID -> principal type
	acct       accountState                 // EC2, KMS, IAM (network.go)
	// Custom images and app image configs by name (images.go).
	images          map[string]*image
	appImageConfigs map[string]*appImageConfig
	// Lifecycle configurations running and run (lccrun.go).
	lcc lccState
}

// New returns an emulator with no resources and one Identity Center instance.
func New(o Options) *Emulator {
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.AccountID == "" {
		o.AccountID = DefaultAccountID
	}
	if o.MaxDomains <= 0 {
		o.MaxDomains = 100
	}
	if o.MaxUserProfilesPerDomain <= 0 {
		o.MaxUserProfilesPerDomain = 1000
	}
	if o.MaxSpacesPerDomain <= 0 {
		o.MaxSpacesPerDomain = 1000
	}
	e := &Emulator{
		opts:         o,
		log:          o.Logger,
		now:          o.Now,
		homeDir:      o.HomeDirOnCreate == nil || *o.HomeDirOnCreate,
		idRand:       mrand.New(mrand.NewPCG(uint64(o.Seed), 0x5a6e)),
		throttleRand: mrand.New(mrand.NewPCG(uint64(o.Seed), 0x7468)),
		throttleRate: o.ThrottleRate,
		calls:        map[string]int{},
		faults:       newFaults(),
		nextUID:      FirstUID,
		domains:      map[string]*domain{},
		lccs:         map[string]*studioLCC{},
		tags:         map[string][]tag{},
		assignment:   map[string]map[string]string{},
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.sso = ssoState{
		instanceID:      "ssoins-" + e.randHex(16),
		identityStoreID: "d-" + e.randHex(10),
		created:         e.now(),
	}
	return e
}

// SetThrottleRate changes the share of calls answered with ThrottlingException.
func (e *Emulator) SetThrottleRate(rate float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.throttleRate = rate
}

// Calls returns how many calls of op (e.g. "CreateUserProfile") were answered other
// than with ThrottlingException, whether they succeeded or not.
func (e *Emulator) Calls(op string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[op]
}

// Serve answers requests on ln until ctx is done, then shuts down gracefully.
func (e *Emulator) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving the emulator on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	// Every request is answered from memory in microseconds, so a short grace period
	// lets in-flight calls finish. net/http waits 5 s for connections that were opened
	// but never sent a request (clients dial spares); those are simply closed.
	shutCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		e.log.Debug("closing connections still open after the grace period", "err", err)
		if err := srv.Close(); err != nil {
			return fmt.Errorf("closing the emulator's connections: %w", err)
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving the emulator on %s: %w", ln.Addr(), err)
	}
	return e.Close()
}

type handler func(e *Emulator, now time.Time, body []byte) (any, *apiError)

// services maps the X-Amz-Target prefix to its operations.
var services = map[string]map[string]handler{
	"SageMaker":          sagemakerOps,
	"SWBExternalService": ssoAdminOps,
	"AWSIdentityStore":   identityStoreOps,
}

const maxBody = 1 << 20

// ServeHTTP answers one AWS JSON 1.1 request.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	target := r.Header.Get("X-Amz-Target")
	if target == "" && isEFSRequest(r) {
		e.serveEFS(w, r) // EFS, REST-JSON (efs.go)
		return
	}
	if target == "" && isQueryRequest(r) {
		e.serveQuery(w, r) // EC2 and IAM (query.go)
		return
	}
	prefix, op, _ := strings.Cut(target, ".")
	ops := services[prefix]
	h := ops[op]
	if r.Method != http.MethodPost || h == nil {
		// What AWS answers for a target its front end does not route.
		writeError(w, &apiError{code: "com.amazon.coral.service#UnknownOperationException"})
		e.log.Debug("unknown operation", "target", target, "method", r.Method)
		return
	}
	// Signatures are not checked, but like AWS a request must carry one.
	if r.Header.Get("Authorization") == "" {
		writeError(w, &apiError{code: "MissingAuthenticationTokenException", msg: "Missing Authentication Token"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, &apiError{code: "SerializationException", msg: "reading request body: " + err.Error()})
		return
	}
	if len(body) > maxBody {
		writeError(w, &apiError{code: "SerializationException", msg: "request body too large"})
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}

	out, aerr := e.call(prefix, op, h, body)
	if aerr != nil {
		e.log.Debug("call failed", "op", op, "code", aerr.code, "message", aerr.msg)
		writeError(w, aerr)
		return
	}
	e.log.Debug("call", "op", op)
	writeJSON(w, http.StatusOK, out)
}

// call runs one handler under the lock. The lock is released however the handler
// ends, and a handler that panics is answered 500 InternalFailure (and logged with its
// stack), so one bad request can neither take the process down nor hang every later
// call behind a lock that was never released.
func (e *Emulator) call(service, op string, h handler, body []byte) (out any, aerr *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("handler panicked", "op", op, "panic", r, "stack", string(debug.Stack()))
			out, aerr = nil, &apiError{status: http.StatusInternalServerError, code: "InternalFailure",
				msg: "The request processing has failed because of an unknown error, exception or failure."}
		}
	}()
	if e.throttled(op) {
		return nil, &apiError{code: "ThrottlingException", msg: "Rate exceeded"}
	}
	e.calls[op]++
	now := e.now()
	e.settle(now)
	if service == "SageMaker" {
		if aerr := validateInput(op, body); aerr != nil {
			return nil, aerr
		}
	}
	return h(e, now, body)
}

// throttled draws whether this call is answered ThrottlingException.
func (e *Emulator) throttled(op string) bool {
	if len(e.faults.throttleOps) > 0 && !e.faults.throttleOps[op] {
		return false
	}
	return e.throttleRate > 0 && e.throttleRand.Float64() < e.throttleRate
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

const (
	hexDigits   = "0123456789abcdef"
	alnumDigits = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// randHex and randAlnum draw from the seeded generator; callers hold e.mu (or are New).
func (e *Emulator) randHex(n int) string { return e.randFrom(hexDigits, n) }

func (e *Emulator) randAlnum(n int) string { return e.randFrom(alnumDigits, n) }

func (e *Emulator) randFrom(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[e.idRand.IntN(len(alphabet))]
	}
	return string(b)
}

func (e *Emulator) nextSeq() uint64 {
	e.seq++
	return e.seq
}

func (e *Emulator) arn(resource string) string {
	return "arn:aws:sagemaker:" + e.opts.Region + ":" + e.opts.AccountID + ":" + resource
}
