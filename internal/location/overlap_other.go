//go:build !linux

package location

// devIno finds no identity here: no local home can be opened on this platform
// (efs.ErrUnsupportedPlatform), so Overlap compares paths only, and Open refuses
// the location anyway.
func devIno(string) (fileID, bool) { return fileID{}, false }
