package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// emulatorOptions are the flags of `migrator emulator`.
type emulatorOptions struct {
	listen       string
	efsRoot      string
	ebsRoot      string
	readyAfter   time.Duration
	throttleRate float64
	seed         int64
	region       string
	accountID    string
	ssoUsers     []string
	// Rehearsal fidelity: refuse unknown network resources and keys; quotas.
	strictNetwork                   bool
	maxProfilesPerDomain, maxSpaces int

	// Faults, each "Kind/name=value" (see emulator.ParseFaultTarget).
	failCreate  []string
	failUpdate  []string
	failDelete  []string
	pending     []string
	throttleOps []string
	lcc         *emulator.LCCRunner // from the --*lcc* flags (lccRunner)

	// Lifecycle configurations: run them at app start (emulator.LCCRunner).
	runLCC     bool
	lccEnv     []string
	lccTimeout time.Duration
}

// AddFlags registers the emulator's flags.
func (o *emulatorOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.listen, "listen", "127.0.0.1:4566", "address to serve on (port 0 picks a free port)")
	fs.StringVar(&o.efsRoot, "efs-root", "", "directory standing in for the domains' home EFS volumes (<dir>/<fs-id>/<uid>)")
	fs.StringVar(&o.ebsRoot, "ebs-root", "", "directory standing in for the EBS volumes of JupyterLab and Code Editor spaces (<dir>/<domain-id>/<space>)")
	fs.DurationVar(&o.readyAfter, "ready-after", 0, "how long Pending/Updating/Deleting resources take to settle")
	fs.Float64Var(&o.throttleRate, "throttle-rate", 0, "share of calls (0..1) answered with ThrottlingException")
	fs.Int64Var(&o.seed, "seed", 0, "seed for generated IDs and throttling")
	fs.StringVar(&o.region, "region", emulator.DefaultRegion, "region in the ARNs and URLs it hands out")
	fs.StringVar(&o.accountID, "account-id", emulator.DefaultAccountID, "account ID in the ARNs it hands out")
	fs.StringSliceVar(&o.ssoUsers, "sso-user", nil, "Identity Center user names to create (repeatable), for Identity Center domains")
	fs.BoolVar(&o.strictNetwork, "strict-network", false, "CreateDomain refuses a VPC, subnet, security group or KMS key not created first through the EC2/KMS APIs (default: create them on first use)")
	fs.IntVar(&o.maxProfilesPerDomain, "max-user-profiles-per-domain", 0, "quota of user profiles per domain (default 1000)")
	fs.IntVar(&o.maxSpaces, "max-spaces-per-domain", 0, "quota of spaces per domain (default 1000)")
	fs.StringArrayVar(&o.failCreate, "fail-create", nil, "make the next create of Kind/name settle in Failed: Kind/name=reason (Kind: Domain, UserProfile, Space, App; repeatable)")
	fs.StringArrayVar(&o.failUpdate, "fail-update", nil, "make the next update of Kind/name settle in Update_Failed: Kind/name=reason (Domain, UserProfile, Space; repeatable)")
	fs.StringArrayVar(&o.failDelete, "fail-delete", nil, "make the next delete of Kind/name settle in Delete_Failed: Kind/name=reason (Domain, UserProfile, Space; repeatable)")
	fs.StringArrayVar(&o.pending, "pending", nil, "keep the next create of Kind/name Pending for a while: Kind/name=duration, e.g. UserProfile/alice=2m (repeatable)")
	fs.StringSliceVar(&o.throttleOps, "throttle-ops", nil, "operations --throttle-rate applies to, e.g. CreateUserProfile,CreateSpace (default: all)")
	fs.BoolVar(&o.runLCC, "run-lcc", false, "run the lifecycle configuration an app's settings attach when the app starts (bash, in the app's --ebs-root/--efs-root home, as its owner); the app is InService only after it exits 0")
	fs.StringArrayVar(&o.lccEnv, "lcc-env", nil, "environment for --run-lcc scripts: KEY=VALUE, or KEY to pass the emulator's own value (keeps secrets off the command line); repeatable, e.g. --lcc-env PATH=/usr/bin:/bin --lcc-env AWS_SECRET_ACCESS_KEY")
	fs.DurationVar(&o.lccTimeout, "lcc-timeout", emulator.DefaultLCCTimeout, "time limit of a --run-lcc script; the app goes Failed after it (Studio: 5m)")
}

var envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// lccRunner builds the LCC runner from the flags (nil without --run-lcc).
func (o *emulatorOptions) lccRunner(flags *pflag.FlagSet) (*emulator.LCCRunner, error) {
	if !o.runLCC {
		for _, f := range []string{"lcc-env", "lcc-timeout"} {
			if flags != nil && flags.Changed(f) {
				return nil, fmt.Errorf("--%s: only with --run-lcc", f)
			}
		}
		return nil, nil
	}
	if o.lccTimeout <= 0 {
		return nil, fmt.Errorf("--lcc-timeout %v: want a positive duration such as 5m", o.lccTimeout)
	}
	r := &emulator.LCCRunner{Timeout: o.lccTimeout}
	for _, kv := range o.lccEnv {
		k, v, hasValue := strings.Cut(kv, "=")
		if !envKeyRE.MatchString(k) {
			return nil, fmt.Errorf("--lcc-env %q: want KEY=VALUE or KEY, KEY of letters, digits and _", kv)
		}
		if !hasValue {
			val, ok := os.LookupEnv(k)
			if !ok {
				return nil, fmt.Errorf("--lcc-env %s: not set in the emulator's environment", k)
			}
			v = val
		}
		r.Env = append(r.Env, k+"="+v)
	}
	return r, nil
}

// armFaults applies the fault flags to em; any malformed flag is an error before
// anything is served.
func (o *emulatorOptions) armFaults(em *emulator.Emulator) error {
	type fault struct {
		flag string
		vals []string
		arm  func(kind, name, val string) error
	}
	for _, f := range []fault{
		{"--fail-create", o.failCreate, func(k, n, v string) error { em.FailNext(k, n, v); return nil }},
		{"--fail-update", o.failUpdate, em.FailNextUpdate},
		{"--fail-delete", o.failDelete, em.FailNextDelete},
		{"--pending", o.pending, func(k, n, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("want a positive duration such as 90s or 2m, got %q", v)
			}
			em.HoldPending(k, n, d)
			return nil
		}},
	} {
		for _, spec := range f.vals {
			target, val, ok := strings.Cut(spec, "=")
			if !ok || val == "" {
				return fmt.Errorf("%s %q: want Kind/name=value, e.g. UserProfile/alice=%s", f.flag, spec, map[bool]string{true: "2m", false: "\"disk full\""}[f.flag == "--pending"])
			}
			kind, name, err := emulator.ParseFaultTarget(target)
			if err == nil {
				err = f.arm(kind, name, val)
			}
			if err != nil {
				return fmt.Errorf("%s %q: %w", f.flag, spec, err)
			}
		}
	}
	if len(o.throttleOps) > 0 {
		em.ThrottleOnly(o.throttleOps...)
	}
	return nil
}

func newEmulatorCommand(g *cli.Globals) *cobra.Command {
	opts := &emulatorOptions{}
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Serve an in-memory SageMaker (Studio), SSO admin and Identity Store API for tests and demos",
		Long: `Serve the SageMaker API subset this tool uses (domains, user profiles, spaces, apps,
Studio lifecycle configurations, tags), plus the SSO admin and Identity Store calls
Identity Center domains need, over the real AWS JSON 1.1 protocol. Point any AWS client
at it with --endpoint-url; any credentials are accepted. State lives in memory only.

Every request is validated against the SageMaker service model, as the service does.
The --fail-*, --pending and --throttle-* flags make it fail where AWS can fail, so
scripts and the real AWS CLI can drive every failure path.

With --run-lcc, starting an app runs the lifecycle configuration its settings attach,
as Studio does: bash in the app's home folder (--ebs-root for JupyterLab and Code
Editor spaces, --efs-root otherwise), as the folder's owner when run as root, with a
generated resource-metadata.json, and the environment given by --lcc-env only (not the
emulator's own). The app goes InService when the script exits 0, Failed otherwise or
after --lcc-timeout. So 'migrator lcc install' and the backup scripts rehearse offline
against a local S3 endpoint.`,
		Example: `  migrator emulator --listen 127.0.0.1:4566 --efs-root /tmp/efs --ebs-root /tmp/ebs
  migrator emulator --listen 127.0.0.1:4566 --efs-root /tmp/efs --ebs-root /tmp/ebs --run-lcc \
    --lcc-env PATH=/usr/bin:/bin --lcc-env AWS_ACCESS_KEY_ID --lcc-env AWS_SECRET_ACCESS_KEY --lcc-timeout 2m
  migrator emulator --listen 127.0.0.1:0 --throttle-rate 0.1 --sso-user alice --sso-user bob
  migrator emulator --listen 127.0.0.1:4566 --efs-root /tmp/efs \
    --fail-create UserProfile/alice="Insufficient capacity" \
    --fail-update Space/team="Volume resize failed" --fail-delete Domain/lab="ENI still in use" \
    --pending UserProfile/bob=2m --throttle-rate 0.3 --throttle-ops CreateUserProfile`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lcc, err := opts.lccRunner(cmd.Flags())
			if err != nil {
				return cli.UsageErrorf("%w", err)
			}
			opts.lcc = lcc
			return runEmulator(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runEmulator serves until ctx is done (SIGINT/SIGTERM in main).
func runEmulator(ctx context.Context, g *cli.Globals, opts *emulatorOptions) error {
	if opts.throttleRate < 0 || opts.throttleRate > 1 {
		return cli.UsageErrorf("--throttle-rate %v: want a share between 0 and 1", opts.throttleRate)
	}
	em := emulator.New(emulator.Options{
		Region:       opts.region,
		AccountID:    opts.accountID,
		ReadyAfter:   opts.readyAfter,
		ThrottleRate: opts.throttleRate,
		Seed:         opts.seed,
		EFSRoot:      opts.efsRoot,
		EBSRoot:      opts.ebsRoot,
		Logger:       g.Log,
		LCC:          opts.lcc,

		Network:                  map[bool]emulator.NetworkMode{true: emulator.NetworkStrict}[opts.strictNetwork],
		MaxUserProfilesPerDomain: opts.maxProfilesPerDomain,
		MaxSpacesPerDomain:       opts.maxSpaces,
	})
	if err := opts.armFaults(em); err != nil {
		return cli.UsageErrorf("%w", err)
	}
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("listening on %s for the emulator: %w", opts.listen, err)
	}
	for _, u := range opts.ssoUsers {
		g.Log.Info("identity center user added", "user", u, "user_id", em.AddIdentityCenterUser(u))
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(g.Stdout, `SageMaker emulator listening on %s
  Identity Center instance %s, identity store %s
Use it with any credentials, for example:
  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y AWS_DEFAULT_REGION=%s aws --endpoint-url %s sagemaker list-domains
  migrator snapshot --endpoint-url %s ...
Stop with Ctrl-C.
`, url, em.InstanceArn(), em.IdentityStoreID(), opts.region, url, url)
	g.Log.Info("emulator listening", "url", url, "efs_root", opts.efsRoot, "ebs_root", opts.ebsRoot, "ready_after", opts.readyAfter,
		"throttle_rate", opts.throttleRate, "run_lcc", opts.lcc != nil)
	if err := em.Serve(ctx, ln); err != nil {
		return err
	}
	g.Log.Info("emulator stopped")
	return nil
}
