// Package lccinstall installs the backup or restore lifecycle-configuration script
// (scripts/lcc) into a Studio domain for the app types it uses: the logic behind
// `migrator lcc install`, shared with the worker's migrate steps that move EBS-backed
// spaces through S3 (jobs/ebs.go). Configurations are named by kind, app type and a
// hash of the filled-in script, so installing the same settings again changes
// nothing, and other settings give another configuration rather than replacing one
// that another domain may run. studio.Applier.InstallLCC does the attaching.
package lccinstall
