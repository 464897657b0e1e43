package cli

import "runtime/debug"

// BuildInfo is what `migrator version` and `migrator-copy-home --version` print,
// read from the binary itself.
type BuildInfo struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	// Time is the commit time of Revision (RFC 3339).
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
}

// ReadBuildInfo reads the build information Go recorded in this binary.
func ReadBuildInfo() BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return BuildInfo{Version: "unknown"}
	}
	info := BuildInfo{Module: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the version, the revision with its time and whether the work tree was
// modified, and the Go version: "(devel), 0123abc (2026-12-01T10:00:00Z), go1.26.8".
func (info BuildInfo) String() string {
	rev := info.Revision
	if rev == "" {
		rev = "unknown revision"
	}
	if info.Time != "" {
		rev += " (" + info.Time + ")"
	}
	if info.Modified {
		rev += ", modified"
	}
	return info.Version + ", " + rev + ", " + info.GoVersion
}
