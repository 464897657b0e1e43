package efs

import "strings"

// validFSName reports whether name is a valid FS name: "." (the root) or
// slash-separated non-empty components, none of them "." or "..", with no leading or
// trailing slash and no NUL byte. Unlike fs.ValidPath it accepts any other bytes,
// invalid UTF-8 included: Linux file names are bytes, and a home directory may hold
// names in a legacy encoding that must be copied, not refused.
func validFSName(name string) bool {
	if name == "." {
		return true
	}
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return false
	}
	for {
		i := strings.IndexByte(name, '/')
		elem := name
		if i >= 0 {
			elem = name[:i]
		}
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
		if i < 0 {
			return true
		}
		name = name[i+1:]
	}
}
