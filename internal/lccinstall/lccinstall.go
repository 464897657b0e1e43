package lccinstall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"

	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/scripts/lcc"
)

// DefaultPrefix is the scripts' own default BACKUP_PREFIX.
const DefaultPrefix = "studio-backups"

// AppTypes are the app types a backup or restore script can run in: the two current
// Studio apps whose space home is on EBS, and Studio Classic's JupyterServer, which
// sees the profile's EFS home.
var AppTypes = []string{"JupyterLab", "CodeEditor", "JupyterServer"}

// Options say what to install where.
type Options struct {
	DomainID string
	// Restore installs restore-home.sh instead of backup-home.sh.
	Restore  bool
	Settings lcc.Settings
	// AppTypes to install for (default: those the domain uses, DomainAppTypes).
	AppTypes []string
}

// Installed is one lifecycle configuration Install created (or found) and attached.
type Installed struct {
	AppType string `json:"appType"`
	Name    string `json:"name"`
	ARN     string `json:"arn"`
	// Default: it is the app type's DefaultResourceSpec.LifecycleConfigArn (apps
	// started without choosing one run it). False when the domain had another default.
	Default bool `json:"default"`
	// AlreadyAttached: it was attached before this run (nothing changed).
	AlreadyAttached bool `json:"alreadyAttached"`
}

// Result is what Install did.
type Result struct {
	DomainID  string      `json:"domainId"`
	Script    string      `json:"script"`
	Bucket    string      `json:"bucket"`
	Prefix    string      `json:"prefix"`
	Installed []Installed `json:"installed"`
}

// ARN returns the ARN installed for appType, "" if none.
func (r *Result) ARN(appType string) string {
	for _, in := range r.Installed {
		if in.AppType == appType {
			return in.ARN
		}
	}
	return ""
}

// CheckAppTypes refuses an app type the scripts cannot run in.
func CheckAppTypes(types []string) error {
	for _, t := range types {
		if !slices.Contains(AppTypes, t) {
			return fmt.Errorf("app type %q: want %s", t, strings.Join(AppTypes, ", "))
		}
	}
	return nil
}

// Script returns the filled-in script and its kind ("backup" or "restore").
func Script(restore bool, s lcc.Settings) (script, kind string, err error) {
	kind, build := "backup", lcc.BackupScript
	if restore {
		kind, build = "restore", lcc.RestoreScript
	}
	script, err = build(s)
	if err != nil {
		return "", kind, fmt.Errorf("building the %s script: %w", kind, err)
	}
	return script, kind, nil
}

// Name is the configuration name of a script for an app type:
// studio-migrator-<kind>-<app type>-<first 4 bytes of its SHA-256 in hex>.
func Name(kind, appType, script string) string {
	sum := sha256.Sum256([]byte(script))
	return fmt.Sprintf("studio-migrator-%s-%s-%s", kind, strings.ToLower(appType), hex.EncodeToString(sum[:4]))
}

// Install creates the script as a lifecycle configuration for each app type and
// attaches it to the domain's default user settings (studio.Applier.InstallLCC),
// keeping every configuration already there. Running it again changes nothing.
func Install(ctx context.Context, a *studio.Applier, o Options) (*Result, error) {
	if err := CheckAppTypes(o.AppTypes); err != nil {
		return nil, err
	}
	if o.Settings.Prefix == "" {
		// The scripts read an unset prefix as their default: refuse rather than write
		// keys other than those the caller asked for.
		return nil, fmt.Errorf("installing lifecycle configurations in domain %s: empty prefix (the default is %s)", o.DomainID, DefaultPrefix)
	}
	script, kind, err := Script(o.Restore, o.Settings)
	if err != nil {
		return nil, err
	}
	types := slices.Clone(o.AppTypes)
	if len(types) == 0 {
		if types, err = DomainAppTypes(ctx, a.SageMaker, o.DomainID); err != nil {
			return nil, err
		}
	}
	before, err := domainUserSettings(ctx, a.SageMaker, o.DomainID)
	if err != nil {
		return nil, err
	}
	res := &Result{DomainID: o.DomainID, Script: kind + "-home.sh", Bucket: o.Settings.Bucket, Prefix: o.Settings.Prefix}
	for _, t := range types {
		name := Name(kind, t, script)
		arn, err := a.InstallLCC(ctx, o.DomainID, name, t, []byte(script))
		if err != nil {
			return nil, err
		}
		arns, _ := before.lcc(t)
		res.Installed = append(res.Installed, Installed{AppType: t, Name: name, ARN: arn, AlreadyAttached: slices.Contains(arns, arn)})
	}
	after, err := domainUserSettings(ctx, a.SageMaker, o.DomainID)
	if err != nil {
		return nil, err
	}
	for i := range res.Installed {
		_, def := after.lcc(res.Installed[i].AppType)
		res.Installed[i].Default = def == res.Installed[i].ARN
	}
	return res, nil
}

// userSettings is the part of DefaultUserSettings Install reads: each app type's
// attached and default lifecycle configurations.
type userSettings map[string]json.RawMessage

func (u userSettings) lcc(appType string) (arns []string, def string) {
	var m struct {
		LifecycleConfigArns []string
		DefaultResourceSpec struct{ LifecycleConfigArn string }
	}
	_ = json.Unmarshal(u[appType+"AppSettings"], &m)
	return m.LifecycleConfigArns, m.DefaultResourceSpec.LifecycleConfigArn
}

func domainUserSettings(ctx context.Context, sm *sagemaker.Client, domainID string) (userSettings, error) {
	out, err := sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: aws.String(domainID)})
	if err != nil {
		return nil, fmt.Errorf("describing domain %s: %w", domainID, err)
	}
	u := userSettings{}
	if out.DefaultUserSettings == nil {
		return u, nil
	}
	// Through JSON: the typed settings name each member as the service does.
	b, err := json.Marshal(out.DefaultUserSettings)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &u); err != nil {
		return nil, fmt.Errorf("reading the default user settings of domain %s: %w", domainID, err)
	}
	return u, nil
}

// DomainAppTypes returns the app types of AppTypes the domain uses: its spaces' app
// types (a space without one is a Studio Classic space), the types of its apps, and
// JupyterServer when the users land in Studio Classic. A domain that uses none yet
// (a new domain before its spaces exist) gets current Studio's JupyterLab and
// CodeEditor.
func DomainAppTypes(ctx context.Context, sm *sagemaker.Client, domainID string) ([]string, error) {
	used := map[string]bool{}
	d, err := sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: aws.String(domainID)})
	if err != nil {
		return nil, fmt.Errorf("describing domain %s: %w", domainID, err)
	}
	if us := d.DefaultUserSettings; us != nil {
		if us.StudioWebPortal == "DISABLED" || strings.HasPrefix(aws.ToString(us.DefaultLandingUri), "app:JupyterServer:") {
			used["JupyterServer"] = true
		}
	}
	spaces := sagemaker.NewListSpacesPaginator(sm, &sagemaker.ListSpacesInput{DomainIdEquals: aws.String(domainID)})
	for spaces.HasMorePages() {
		page, err := spaces.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the spaces of domain %s: %w", domainID, err)
		}
		for _, s := range page.Spaces {
			t := ""
			if s.SpaceSettingsSummary != nil {
				t = string(s.SpaceSettingsSummary.AppType)
			}
			if t == "" {
				t = "JupyterServer"
			}
			used[t] = true
		}
	}
	apps := sagemaker.NewListAppsPaginator(sm, &sagemaker.ListAppsInput{DomainIdEquals: aws.String(domainID)})
	for apps.HasMorePages() {
		page, err := apps.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the apps of domain %s: %w", domainID, err)
		}
		for _, ap := range page.Apps {
			if ap.Status != "Deleted" {
				used[string(ap.AppType)] = true
			}
		}
	}
	var out []string
	for _, t := range AppTypes {
		if used[t] {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		out = []string{"JupyterLab", "CodeEditor"}
	}
	return out, nil
}
