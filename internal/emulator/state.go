package emulator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Resource statuses, as the service spells them.
const (
	statusPending   = "Pending"
	statusInService = "InService"
	statusUpdating  = "Updating"
	statusDeleting  = "Deleting"
	statusFailed    = "Failed"
	statusDeleted   = "Deleted" // apps only
	statusGone      = ""        // target of a delete: the resource disappears
)

// lifecycle is the status machine every domain, profile, space and app shares. A
// transient status (Pending, Updating, Deleting) moves to target once settleAt has
// passed; settle evaluates that lazily at the start of each call.
type lifecycle struct {
	status        string
	failureReason string

	transitioning bool
	target        string
	targetReason  string
	settleAt      time.Time

	created, modified time.Time
	seq               uint64
}

func (l *lifecycle) begin(now time.Time, after time.Duration, transient, target, reason string) {
	l.status = transient
	l.transitioning = true
	l.target = target
	l.targetReason = reason
	l.settleAt = now.Add(after)
	l.modified = now
}

// advance applies a due transition and reports whether the resource is now gone.
func (l *lifecycle) advance(now time.Time) (gone bool) {
	if !l.transitioning || now.Before(l.settleAt) {
		return false
	}
	l.transitioning = false
	l.status = l.target
	l.failureReason = l.targetReason
	l.modified = l.settleAt
	return l.status == statusGone
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type domain struct {
	lifecycle
	id, name, arn, url, fsID    string
	authMode                    string
	appNetworkAccessType        string
	appSecurityGroupManagement  string
	vpcID                       string
	subnetIDs                   []string
	kmsKeyID, homeEfsKmsKeyID   string
	tagPropagation              string
	homeEfsFileSystemCreation   string
	securityGroupForBoundary    string
	defaultUserSettings         json.RawMessage
	defaultSpaceSettings        json.RawMessage
	domainSettings              json.RawMessage
	ssoApplicationArn           string
	ssoManagedApplicationInstID string
	retainHome                  bool

	profiles map[string]*userProfile
	spaces   map[string]*space
	apps     map[string]*app // by appKey
}

type userProfile struct {
	lifecycle
	name, arn, uid string
	ssoIdentifier  string
	ssoValue       string
	settings       json.RawMessage
}

type space struct {
	lifecycle
	name, arn, uid, displayName, url string
	settings                         json.RawMessage
	owner                            string // OwnershipSettings.OwnerUserProfileName
	sharingType                      string // "" for a Studio Classic space without sharing settings
}

type app struct {
	lifecycle
	domainID, profile, space, appType, name, arn string
	resourceSpec                                 json.RawMessage
	recoveryMode                                 *bool
	// lccHeld keeps the app Pending while its lifecycle configuration runs
	// (lccrun.go): the transition waits for the script's exit.
	lccHeld bool
}

type studioLCC struct {
	name, arn, appType, content string
	created, modified           time.Time
	seq                         uint64
}

func appKey(profile, space, appType, name string) string {
	return profile + "\x00" + space + "\x00" + appType + "\x00" + name
}

// settle applies every due transition and forgets what finished deleting.
func (e *Emulator) settle(now time.Time) {
	for id, d := range e.domains {
		for _, a := range d.apps {
			if !a.lccHeld {
				a.advance(now)
			}
		}
		for name, p := range d.profiles {
			if p.advance(now) {
				e.forgetOwned(d, p.name, "")
				delete(e.tags, p.arn)
				delete(d.profiles, name)
			}
		}
		for name, s := range d.spaces {
			if s.advance(now) {
				e.removeEBSHome(d, s)
				e.forgetOwned(d, "", s.name)
				delete(e.tags, s.arn)
				delete(d.spaces, name)
			}
		}
		if d.advance(now) {
			for _, a := range d.apps {
				delete(e.tags, a.arn)
			}
			delete(e.tags, d.arn)
			if d.ssoApplicationArn != "" {
				delete(e.assignment, d.ssoApplicationArn)
			}
			if !d.retainHome && e.opts.EFSRoot != "" && d.fsID != "" {
				if err := os.RemoveAll(filepath.Join(e.opts.EFSRoot, d.fsID)); err != nil {
					e.log.Warn("removing the home EFS of a deleted domain", "domain", d.id, "err", err)
				}
			}
			delete(e.domains, id)
		}
	}
}

// forgetOwned drops the (Deleted) apps of a profile or space that has gone.
func (e *Emulator) forgetOwned(d *domain, profile, spaceName string) {
	for k, a := range d.apps {
		if (profile != "" && a.profile == profile) || (spaceName != "" && a.space == spaceName) {
			delete(e.tags, a.arn)
			delete(d.apps, k)
		}
	}
}

// allocUID hands out HomeEfsFileSystemUids; they are never reused, even across domains.
func (e *Emulator) allocUID() string {
	uid := e.nextUID
	e.nextUID++
	return strconv.Itoa(uid)
}

// makeHome creates <EFSRoot>/<fs-id>/<uid>, mode 0755, owned by uid:HomeGID when the
// emulator runs as root (as Studio's EFS access point would make it).
func (e *Emulator) makeHome(d *domain, uid string) error {
	if e.opts.EFSRoot == "" || d.fsID == "" { // HomeEfsFileSystemCreation Disabled: no EFS
		return nil
	}
	dir := filepath.Join(e.opts.EFSRoot, d.fsID, uid)
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating home directory %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // MkdirAll's mode is masked by umask
		return fmt.Errorf("setting the mode of home directory %s: %w", dir, err)
	}
	if os.Geteuid() == 0 {
		n, _ := strconv.Atoi(uid)
		if err := os.Chown(dir, n, HomeGID); err != nil {
			return fmt.Errorf("giving home directory %s to uid %s: %w", dir, uid, err)
		}
	}
	return nil
}

// mergeSettings applies an update to a stored settings structure: every top-level
// member the update names replaces the stored one, members it omits are kept.
func mergeSettings(old, update json.RawMessage) (json.RawMessage, error) {
	if len(update) == 0 {
		return old, nil
	}
	m := map[string]json.RawMessage{}
	if len(old) > 0 {
		if err := json.Unmarshal(old, &m); err != nil {
			return nil, fmt.Errorf("reading stored settings: %w", err)
		}
	}
	var u map[string]json.RawMessage
	if err := json.Unmarshal(update, &u); err != nil {
		return nil, fmt.Errorf("reading settings update: %w", err)
	}
	for k, v := range u {
		m[k] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("writing merged settings: %w", err)
	}
	return out, nil
}

// mkdirFS creates the root of a domain's home EFS.
func mkdirFS(root, fsID string) error {
	dir := filepath.Join(root, fsID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the home EFS directory %s: %w", dir, err)
	}
	return nil
}
