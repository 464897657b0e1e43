//go:build linux

package efs

// TempName exposes tempName, so the MultiMount tests can check that a file's
// temporary and final names are routed to one mount.
var TempName = tempName
