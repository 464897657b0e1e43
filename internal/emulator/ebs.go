package emulator

import (
	"fmt"
	"os"
	"path/filepath"
)

// Home storage of spaces. In current Studio, JupyterLab and Code Editor spaces keep
// their home (/home/sagemaker-user) on an EBS volume of their own
// (SpaceSettings.SpaceStorageSettings.EbsStorageSettings), created with the space and
// deleted with it; Studio Classic spaces (JupyterServer, KernelGateway, no app type)
// and user profiles keep theirs on the domain's EFS, /<HomeEfsFileSystemUid>.

// The owner of an EBS home: sagemaker-user in the JupyterLab and Code Editor images.
const (
	EBSHomeUID = 1000
	EBSHomeGID = 100
)

// onEBS reports whether a space with these settings keeps its home on EBS.
func onEBS(spaceSettings []byte) bool {
	switch spaceAppType(spaceSettings) {
	case "JupyterLab", "CodeEditor":
		return true
	}
	return false
}

// homeFSID draws the domain's home EFS ID, or none when HomeEfsFileSystemCreation is
// Disabled (the domain has no EFS and no home directories on one).
func homeFSID(e *Emulator, creation string) string {
	if creation == "Disabled" {
		return ""
	}
	return "fs-" + e.randHex(17)
}

// EBSHome is the folder standing for a space's EBS volume ("" without EBSRoot).
func (e *Emulator) ebsHome(d *domain, s *space) string {
	if e.opts.EBSRoot == "" {
		return ""
	}
	return filepath.Join(e.opts.EBSRoot, d.id, s.name)
}

// makeSpaceHome makes a space's home where the space keeps it: its own EBS volume
// folder, or /<uid> on the domain's EFS.
func (e *Emulator) makeSpaceHome(d *domain, s *space) error {
	if !onEBS(s.settings) {
		return e.makeHome(d, s.uid)
	}
	dir := e.ebsHome(d, s)
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the EBS home of space %s: %w", s.name, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("setting the mode of the EBS home of space %s: %w", s.name, err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(dir, EBSHomeUID, EBSHomeGID); err != nil {
			return fmt.Errorf("giving the EBS home of space %s to %d:%d: %w", s.name, EBSHomeUID, EBSHomeGID, err)
		}
	}
	return nil
}

// removeEBSHome deletes a deleted space's volume, as the service does.
func (e *Emulator) removeEBSHome(d *domain, s *space) {
	dir := e.ebsHome(d, s)
	if dir == "" || !onEBS(s.settings) {
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		e.log.Warn("removing the EBS volume of a deleted space", "domain", d.id, "space", s.name, "err", err)
	}
}
