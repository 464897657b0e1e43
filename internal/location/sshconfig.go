package location

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"strings"
)

// SSHHost is what an OpenSSH client configuration (~/.ssh/config) says about one
// host alias, for the keywords this tool honours: HostName, User, Port,
// IdentityFile and ProxyJump (which is refused: see Open). The first value of a
// keyword wins, as in ssh(1); IdentityFile accumulates.
type SSHHost struct {
	HostName      string
	User          string
	Port          string
	IdentityFiles []string
	ProxyJump     string
}

// DefaultSSHConfigFile is ~/.ssh/config.
func DefaultSSHConfigFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ssh", "config")
}

// LookupSSHConfig reads the configuration file (a missing file says nothing) and
// returns what applies to alias.
func LookupSSHConfig(file, alias string) (SSHHost, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return SSHHost{}, nil
	}
	if err != nil {
		return SSHHost{}, fmt.Errorf("reading SSH config %s: %w", file, err)
	}
	defer f.Close()
	h, err := parseSSHConfig(f, alias)
	if err != nil {
		return SSHHost{}, fmt.Errorf("reading SSH config %s: %w", file, err)
	}
	return h, nil
}

// parseSSHConfig applies the Host blocks of r that match alias. Match blocks are
// skipped (their conditions are not evaluated), as are keywords this tool does not
// use.
func parseSSHConfig(r io.Reader, alias string) (SSHHost, error) {
	var h SSHHost
	active := true // lines before the first Host apply to every host
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		key, args := splitConfigLine(sc.Text())
		if key == "" {
			continue
		}
		switch key {
		case "host":
			active = hostMatches(args, alias)
			continue
		case "match":
			active = false
			continue
		}
		if !active || len(args) == 0 {
			continue
		}
		switch key {
		case "hostname":
			if h.HostName == "" {
				h.HostName = strings.ReplaceAll(args[0], "%h", alias)
			}
		case "user":
			if h.User == "" {
				h.User = args[0]
			}
		case "port":
			if h.Port == "" {
				h.Port = args[0]
			}
		case "identityfile":
			h.IdentityFiles = append(h.IdentityFiles, args[0])
		case "proxyjump", "proxycommand":
			if h.ProxyJump == "" && !strings.EqualFold(args[0], "none") {
				h.ProxyJump = key + " " + strings.Join(args, " ")
			}
		}
	}
	if err := sc.Err(); err != nil {
		return SSHHost{}, fmt.Errorf("line %d: %w", line, err)
	}
	host := h.HostName
	if host == "" {
		host = alias
	}
	for i, f := range h.IdentityFiles {
		h.IdentityFiles[i] = expandIdentity(f, host, h.User)
	}
	return h, nil
}

// splitConfigLine returns the lower-cased keyword and the arguments of one line
// ("Key value", "Key=value", quoted arguments), or "" for a blank or comment line.
func splitConfigLine(s string) (string, []string) {
	s = strings.TrimSpace(s)
	if s == "" || s[0] == '#' {
		return "", nil
	}
	i := strings.IndexAny(s, " \t=")
	if i < 0 {
		return strings.ToLower(s), nil
	}
	key := strings.ToLower(s[:i])
	rest := strings.TrimLeft(s[i:], " \t")
	rest = strings.TrimLeft(strings.TrimPrefix(rest, "="), " \t")
	var args []string
	for rest != "" {
		if rest[0] == '"' {
			j := strings.IndexByte(rest[1:], '"')
			if j < 0 {
				args = append(args, rest[1:])
				break
			}
			args = append(args, rest[1:1+j])
			rest = strings.TrimLeft(rest[2+j:], " \t")
			continue
		}
		j := strings.IndexAny(rest, " \t")
		if j < 0 {
			args = append(args, rest)
			break
		}
		args = append(args, rest[:j])
		rest = strings.TrimLeft(rest[j:], " \t")
	}
	return key, args
}

// hostMatches applies ssh_config(5) Host patterns: * and ? wildcards, and a
// pattern starting with ! that, matching, excludes the host whatever else matches.
func hostMatches(patterns []string, alias string) bool {
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(alias)); ok {
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

// expandIdentity expands ~ and the tokens %d (home), %u (local user), %h (host)
// and %r (remote user) in an IdentityFile.
func expandIdentity(f, host, remoteUser string) string {
	home, _ := os.UserHomeDir()
	local := ""
	if u, err := user.Current(); err == nil {
		local = u.Username
	}
	if remoteUser == "" {
		remoteUser = local
	}
	if f == "~" || strings.HasPrefix(f, "~/") {
		f = home + f[1:]
	}
	f = strings.NewReplacer("%d", home, "%u", local, "%h", host, "%r", remoteUser, "%%", "%").Replace(f)
	if !filepath.IsAbs(f) {
		f = filepath.Join(home, f)
	}
	return f
}
