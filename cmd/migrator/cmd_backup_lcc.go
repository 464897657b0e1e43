package main

// `migrator backup --via lcc`: install backup-home.sh as the domain's lifecycle
// configuration and watch the backups arrive. It runs in the CLI, not as a job: it
// copies nothing itself (the apps do, when they start), and what it does beside
// watching, restarting users' apps, is a decision the administrator takes at the
// terminal with --restart-apps after reading the list.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/schollz/progressbar/v3"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/lccinstall"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/scripts/lcc"
)

// backupLCCOptions are what `backup --via lcc` runs with (its flags are backup's).
type backupLCCOptions struct {
	aws         awsconfig.Options
	domain      string
	bucket      backupFlags
	restartApps bool
	timeout     time.Duration
	poll        time.Duration
	output      string
}

// lccHome is one profile or space as backup --via lcc reports it.
type lccHome struct {
	Kind    string `json:"kind"` // profile or space
	Name    string `json:"name"`
	AppType string `json:"appType"`
	// State: backed-up, waiting (its app runs the script), no-app, app-failed,
	// needs-restart (its app started before the install), restarted.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	Run    string `json:"run,omitempty"`
	Files  int64  `json:"files,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
}

type backupLCCResult struct {
	DomainID string             `json:"domainId"`
	Since    time.Time          `json:"since"`
	Install  *lccinstall.Result `json:"install"`
	Homes    []lccHome          `json:"homes"`
}

// runBackupLCC installs, restarts (with --restart-apps), watches and reports. Exit
// 5 when some profile or space has not backed up since the install.
func runBackupLCC(ctx context.Context, g *cli.Globals, o *backupLCCOptions) error {
	if err := cli.CheckFormat(o.output, cli.FormatText, cli.FormatJSON); err != nil {
		return err
	}
	if o.domain == "" {
		return cli.UsageErrorf("--domain is required: the ID of the domain (d-...)")
	}
	bt, err := o.bucket.target()
	if err != nil {
		return err
	}
	if bt == nil {
		return cli.UsageErrorf("--via lcc needs --bucket: the S3 bucket the scripts write to")
	}
	settings := lcc.Settings{Bucket: bt.Bucket, Prefix: bt.Prefix, EndpointURL: bt.EndpointURL}
	if _, _, err := lccinstall.Script(false, settings); err != nil {
		return cli.WithExit(cli.ExitUsage, err)
	}
	aopts := o.aws
	aopts.Logger = g.Log
	cfg, err := awsconfig.Load(ctx, aopts)
	if err != nil {
		return err
	}
	a := &studio.Applier{Clients: studio.NewClients(cfg), Log: g.Log, Waiter: studio.Waiter{PollInterval: min(o.poll, studio.DefaultPollInterval)}}
	s3cfg := cfg.Copy()
	s3cfg.BaseEndpoint = nil // --endpoint-url is SageMaker's; the bucket has its own
	if bt.Region != "" {
		s3cfg.Region = bt.Region
	}
	st := backup.Store{Client: s3Client(s3cfg, bt.EndpointURL), Bucket: bt.Bucket, Prefix: bt.Prefix}
	since := time.Now().UTC()
	inst, err := lccinstall.Install(ctx, a, lccinstall.Options{DomainID: o.domain, Settings: settings})
	if err != nil {
		return fmt.Errorf("installing the backup lifecycle configuration: %w", err)
	}
	fmt.Fprint(g.Stderr, lccInstallText(inst))
	homes, err := lccHomes(ctx, a.SageMaker, o.domain, inst, since)
	if err != nil {
		return err
	}
	var restart []int
	for i, h := range homes {
		if h.State == "needs-restart" {
			restart = append(restart, i)
		}
	}
	if len(restart) > 0 && o.restartApps {
		fmt.Fprintf(g.Stderr, "Restarting %d app(s) so they run the backup now (their kernels stop):\n", len(restart))
		for _, i := range restart {
			fmt.Fprintf(g.Stderr, "  %s %s (%s)\n", homes[i].Kind, homes[i].Name, homes[i].AppType)
		}
		for _, i := range restart {
			h := &homes[i]
			// Stopped and started again on its instance type with the backup script
			// named: a restart that kept the app's own ResourceSpec would run the
			// configuration it names, if any, not the backup.
			cur, err := a.FindApp(ctx, o.domain, owner(*h), h.AppType, appName(*h))
			if err == nil {
				err = a.StopApp(ctx, o.domain, owner(*h), h.AppType, appName(*h))
			}
			if err == nil {
				err = a.StartApp(ctx, o.domain, owner(*h), h.AppType, appName(*h), cur.InstanceType, inst.ARN(h.AppType))
			}
			if err != nil {
				h.Reason = "restart failed: " + err.Error()
				continue
			}
			h.State, h.Reason = "waiting", "restarted"
		}
	}
	watchLCCBackups(ctx, g, a, st, o, homes, since)
	res := backupLCCResult{DomainID: o.domain, Since: since, Install: inst, Homes: homes}
	missing := 0
	for _, h := range homes {
		if h.State != "backed-up" {
			missing++
		}
	}
	if o.output == cli.FormatJSON {
		if err := cli.WriteJSON(g.Stdout, res); err != nil {
			return err
		}
	} else if err := writeLCCHomes(g.Stdout, res); err != nil {
		return err
	}
	if missing > 0 {
		return cli.WithExit(cli.ExitPartial, fmt.Errorf("%d of %d profiles and spaces have not backed up since %s (see the list)", missing, len(homes), since.Format(time.RFC3339)))
	}
	return nil
}

func owner(h lccHome) studio.AppOwner {
	if h.Kind == string(backup.Space) {
		return studio.AppOwner{SpaceName: h.Name}
	}
	return studio.AppOwner{UserProfileName: h.Name}
}

func appName(lccHome) string { return "default" }

// lccHomes lists the domain's profiles (when JupyterServer got the script) and
// spaces of the app types that got it, with their app's state.
func lccHomes(ctx context.Context, sm *sagemaker.Client, domainID string, inst *lccinstall.Result, since time.Time) ([]lccHome, error) {
	installed := map[string]bool{}
	for _, in := range inst.Installed {
		installed[in.AppType] = true
	}
	var homes []lccHome
	spaces := sagemaker.NewListSpacesPaginator(sm, &sagemaker.ListSpacesInput{DomainIdEquals: aws.String(domainID)})
	for spaces.HasMorePages() {
		page, err := spaces.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the spaces of domain %s: %w", domainID, err)
		}
		for _, s := range page.Spaces {
			t := "JupyterServer"
			if s.SpaceSettingsSummary != nil && s.SpaceSettingsSummary.AppType != "" {
				t = string(s.SpaceSettingsSummary.AppType)
			}
			if installed[t] {
				homes = append(homes, lccHome{Kind: string(backup.Space), Name: aws.ToString(s.SpaceName), AppType: t})
			}
		}
	}
	if installed["JupyterServer"] {
		profiles := sagemaker.NewListUserProfilesPaginator(sm, &sagemaker.ListUserProfilesInput{DomainIdEquals: aws.String(domainID)})
		for profiles.HasMorePages() {
			page, err := profiles.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing the user profiles of domain %s: %w", domainID, err)
			}
			for _, p := range page.UserProfiles {
				homes = append(homes, lccHome{Kind: string(backup.Profile), Name: aws.ToString(p.UserProfileName), AppType: "JupyterServer"})
			}
		}
	}
	type appKey struct{ kind, name, appType string }
	apps := map[appKey]lccHome{}
	pg := sagemaker.NewListAppsPaginator(sm, &sagemaker.ListAppsInput{DomainIdEquals: aws.String(domainID)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the apps of domain %s: %w", domainID, err)
		}
		for _, ap := range page.Apps {
			if aws.ToString(ap.AppName) != "default" {
				continue
			}
			k := appKey{string(backup.Space), aws.ToString(ap.SpaceName), string(ap.AppType)}
			if ap.SpaceName == nil {
				k = appKey{string(backup.Profile), aws.ToString(ap.UserProfileName), string(ap.AppType)}
			}
			h := lccHome{}
			created := aws.ToTime(ap.CreationTime)
			switch ap.Status {
			case "InService", "Pending":
				h.State = "waiting"
				if created.Before(since) {
					h.State, h.Reason = "needs-restart", "its app started before the install: it runs the script only when it restarts (--restart-apps)"
				}
			case "Failed":
				if !created.Before(since) {
					h.State, h.Reason = "app-failed", "its app failed to start"
				}
			}
			if h.State != "" {
				apps[k] = h
			}
		}
	}
	for i := range homes {
		h := &homes[i]
		if ap, ok := apps[appKey{h.Kind, h.Name, h.AppType}]; ok {
			h.State, h.Reason = ap.State, ap.Reason
		} else {
			h.State, h.Reason = "no-app", "no app runs: it backs up when its app next starts"
		}
	}
	slices.SortFunc(homes, func(x, y lccHome) int { return strings.Compare(x.Kind+"/"+x.Name, y.Kind+"/"+y.Name) })
	return homes, nil
}

// watchLCCBackups polls each home's newest complete backup until every home whose
// app runs the script has one newer than since, or the timeout. Homes without an
// app that backed up anyway (a user started one meanwhile) count too.
func watchLCCBackups(ctx context.Context, g *cli.Globals, a *studio.Applier, st backup.Store, o *backupLCCOptions, homes []lccHome, since time.Time) {
	var bar *progressbar.ProgressBar
	if cli.IsTerminal(g.Stderr) {
		bar = progressbar.NewOptions(len(homes), progressbar.OptionSetWriter(g.Stderr), progressbar.OptionSetDescription("backed up"),
			progressbar.OptionShowCount(), progressbar.OptionSetElapsedTime(true), progressbar.OptionClearOnFinish())
		defer func() { _ = bar.Finish() }()
	}
	deadline := time.Now().Add(o.timeout)
	last := -1
	for {
		done, waiting := 0, 0
		for i := range homes {
			h := &homes[i]
			if h.State == "backed-up" {
				done++
				continue
			}
			m, err := backup.Latest(ctx, st, o.domain, backup.Kind(h.Kind), h.Name)
			switch {
			case err == nil && !m.Started.Before(since.Truncate(time.Second)): // the scripts write whole seconds
				h.State, h.Reason, h.Run, h.Files, h.Bytes = "backed-up", "", m.Run, m.Files, m.Bytes
				done++
				continue
			case err != nil && !errors.Is(err, backup.ErrNoBackup):
				g.Log.Warn("reading the backups", "home", h.Kind+"/"+h.Name, "error", err)
			}
			if h.State == "waiting" {
				if ap, err := a.FindApp(ctx, o.domain, owner(*h), h.AppType, appName(*h)); err == nil && ap.Status == "Failed" {
					h.State, h.Reason = "app-failed", "its app failed: "+ap.FailureReason
					continue
				}
				waiting++
			}
		}
		if bar != nil {
			_ = bar.Set(done)
		} else if done != last {
			fmt.Fprintf(g.Stderr, "backed up %d of %d (%d apps running the script)\n", done, len(homes), waiting)
		}
		last = done
		if waiting == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			for i := range homes {
				if homes[i].State == "waiting" {
					homes[i].State, homes[i].Reason = "no-backup", fmt.Sprintf("its app runs the script but no backup arrived within %s", o.timeout)
				}
			}
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(o.poll):
		}
	}
}

func writeLCCHomes(w io.Writer, res backupLCCResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Backups of domain %s since %s:\n", res.DomainID, res.Since.Format(time.RFC3339))
	for _, h := range res.Homes {
		line := fmt.Sprintf("  %-7s %-24s %-13s %-13s", h.Kind, h.Name, h.AppType, h.State)
		if h.State == "backed-up" {
			line += fmt.Sprintf(" run %s, %d files, %s", h.Run, h.Files, cli.MiB(h.Bytes))
		} else {
			line += " " + h.Reason
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// s3Client is an S3 client for the bucket (path-style on an S3-compatible endpoint).
func s3Client(cfg aws.Config, endpoint string) backup.S3API {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
}
