// Package lcc embeds the lifecycle-configuration scripts backup-home.sh and
// restore-home.sh, and fills in their settings for `migrator lcc install`: the result
// is the script text to base64 into CreateStudioLifecycleConfig, checked against the
// service's limit. The scripts and the layout they write are described in the README
// ("Backups to S3") and in the package comment of internal/backup.
package lcc

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

//go:embed backup-home.sh
var backupHome string

//go:embed restore-home.sh
var restoreHome string

// MaxContent is the limit on StudioLifecycleConfigContent: 16384 characters of base64
// (API reference, CreateStudioLifecycleConfig; "each script has a limit of 16,384
// characters", Studio's LCC guide).
const MaxContent = 16384

// Settings are the variables `lcc install` sets in the scripts; empty means the
// script's default.
type Settings struct {
	Bucket       string // BACKUP_BUCKET (required)
	Prefix       string // BACKUP_PREFIX
	HomeDir      string // HOME_DIR
	EndpointURL  string // S3_ENDPOINT_URL (tests, the demo)
	Excludes     string // BACKUP_EXCLUDES (backup)
	Interval     int    // BACKUP_INTERVAL seconds (backup)
	SourceDomain string // BACKUP_SOURCE_DOMAIN (restore)
	Force        bool   // RESTORE_FORCE=1 (restore)
}

// bucketRE is compiled on first use: its {1,61} takes a millisecond to compile, which
// package init would charge to every migrator command.
var bucketRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
})

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (s Settings) lines(restore bool) ([]string, error) {
	if !bucketRE().MatchString(s.Bucket) {
		return nil, fmt.Errorf("bucket %q: not an S3 bucket name", s.Bucket)
	}
	for what, v := range map[string]string{"prefix": s.Prefix, "home dir": s.HomeDir, "endpoint": s.EndpointURL, "excludes": s.Excludes, "source domain": s.SourceDomain} {
		if strings.ContainsAny(v, "\x00\n\r") {
			return nil, fmt.Errorf("%s %q: has a newline or NUL", what, v)
		}
	}
	if s.Interval < 0 {
		return nil, fmt.Errorf("interval %d: want seconds >= 0", s.Interval)
	}
	l := []string{"BACKUP_BUCKET=" + quote(s.Bucket)}
	add := func(name, v string) {
		if v != "" {
			l = append(l, name+"="+quote(v))
		}
	}
	add("BACKUP_PREFIX", s.Prefix)
	add("HOME_DIR", s.HomeDir)
	add("S3_ENDPOINT_URL", s.EndpointURL)
	if restore {
		add("BACKUP_SOURCE_DOMAIN", s.SourceDomain)
		if s.Force {
			l = append(l, "RESTORE_FORCE=1")
		}
	} else {
		add("BACKUP_EXCLUDES", s.Excludes)
		if s.Interval > 0 {
			l = append(l, fmt.Sprintf("BACKUP_INTERVAL=%d", s.Interval))
		}
	}
	return l, nil
}

func fill(script string, lines []string) (string, error) {
	first, rest, _ := strings.Cut(script, "\n")
	out := first + "\n# Settings written by migrator lcc install:\n" + strings.Join(lines, "\n") + "\n" + rest
	if n := base64.StdEncoding.EncodedLen(len(out)); n > MaxContent {
		return "", fmt.Errorf("the script with its settings is %d characters of base64, over the LCC limit of %d", n, MaxContent)
	}
	return out, nil
}

// BackupScript returns backup-home.sh with the settings filled in.
func BackupScript(s Settings) (string, error) {
	l, err := s.lines(false)
	if err != nil {
		return "", err
	}
	return fill(backupHome, l)
}

// RestoreScript returns restore-home.sh with the settings filled in.
func RestoreScript(s Settings) (string, error) {
	l, err := s.lines(true)
	if err != nil {
		return "", err
	}
	return fill(restoreHome, l)
}
