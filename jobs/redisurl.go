package jobs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
)

// parseRedisURL is ParseRedisURL. It does not use asynq.ParseRedisURI: that drops the
// user name of redis://user:pw@ (Redis ACLs), puts a sentinel URL's password on the
// sentinels only, and its errors quote the whole URL, password included.
func parseRedisURL(s string) (asynq.RedisConnOpt, error) {
	if s == "" {
		return nil, errors.New("no Redis URL: pass --redis or set REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
	}
	// url.Parse refuses a sentinel URL's host list (a "port" with commas): parse it
	// with one placeholder host and keep the list aside.
	hosts, rest, err := splitHosts(s)
	if err != nil {
		return nil, fmt.Errorf("redis URL %s: %w", redactURL(s), err)
	}
	u, err := url.Parse(rest)
	if err != nil {
		// url's errors quote the input, which may hold a password.
		return nil, fmt.Errorf("redis URL %s: not a URL", redactURL(s))
	}
	user := u.User.Username()
	pw, _ := u.User.Password()
	db := 0
	if p := strings.Trim(u.Path, "/"); p != "" {
		db, err = strconv.Atoi(p)
		if err != nil || db < 0 {
			return nil, fmt.Errorf("redis URL %s: the path must be a database number, e.g. /0", redactURL(s))
		}
	}
	if v := u.Query().Get("db"); v != "" {
		db, err = strconv.Atoi(v)
		if err != nil || db < 0 {
			return nil, fmt.Errorf("redis URL %s: db=%q is not a database number", redactURL(s), v)
		}
	}
	if hosts == "" {
		return nil, fmt.Errorf("redis URL %s: no host", redactURL(s))
	}
	if strings.Count(hosts, "[") != strings.Count(hosts, "]") {
		return nil, fmt.Errorf("redis URL %s: unbalanced brackets in the host", redactURL(s))
	}
	switch u.Scheme {
	case "redis", "rediss":
		if strings.Contains(hosts, ",") {
			return nil, fmt.Errorf("redis URL %s: several hosts need redis-sentinel://host:port,host:port/?master=NAME", redactURL(s))
		}
		o := asynq.RedisClientOpt{Addr: withPort(hosts), Username: user, Password: pw, DB: db}
		if u.Scheme == "rediss" {
			name, _, err := net.SplitHostPort(o.Addr)
			if err != nil {
				return nil, fmt.Errorf("redis URL %s: %w", redactURL(s), err)
			}
			o.TLSConfig = &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12}
		}
		return o, nil
	case "redis-sentinel":
		master := u.Query().Get("master")
		if master == "" {
			return nil, fmt.Errorf("redis URL %s: redis-sentinel:// needs ?master=NAME (the monitored master's name)", redactURL(s))
		}
		var addrs []string
		for _, h := range strings.Split(hosts, ",") {
			if h == "" {
				continue
			}
			addrs = append(addrs, withPort(h))
		}
		// The password is the master's (what clients authenticate with); sentinels
		// that need their own take sentinelPassword=... in the query.
		return asynq.RedisFailoverClientOpt{
			MasterName: master, SentinelAddrs: addrs, Username: user, Password: pw, DB: db,
			SentinelPassword: u.Query().Get("sentinelPassword"),
		}, nil
	default:
		return nil, fmt.Errorf("redis URL %s: unsupported scheme %q; want redis://, rediss:// or redis-sentinel://", redactURL(s), u.Scheme)
	}
}

// splitHosts cuts the host list out of a URL: it returns the hosts and the URL with
// the placeholder host "h" in their place.
func splitHosts(s string) (hosts, rest string, err error) {
	scheme, after, ok := strings.Cut(s, "://")
	if !ok {
		return "", "", errors.New("not a URL (want redis://host:port/db)")
	}
	end := strings.IndexAny(after, "/?#")
	if end < 0 {
		end = len(after)
	}
	authority, tail := after[:end], after[end:]
	userinfo := ""
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, authority = authority[:at+1], authority[at+1:]
	}
	return authority, scheme + "://" + userinfo + "h" + tail, nil
}

// withPort adds Redis's default port to a host without one.
func withPort(h string) string {
	if _, _, err := net.SplitHostPort(h); err == nil {
		return h
	}
	return net.JoinHostPort(strings.Trim(h, "[]"), "6379")
}

// redactURL hides the user and password of a Redis URL for errors and logs. It
// does not trust url.Parse, which reads a malformed URL's password as a path: it
// drops everything between the scheme and the last '@'.
func redactURL(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	scheme := "redis"
	if i := strings.Index(s, ":"); i > 0 && i < at {
		scheme = s[:i]
	}
	return scheme + "://xxxxx@" + s[at+1:]
}
