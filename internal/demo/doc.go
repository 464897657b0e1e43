// Package demo runs a whole domain migration on this machine, with no AWS account and
// no Docker: the SageMaker emulator serves the API in process, and a local folder
// stands in for each domain's EFS volume (<dir>/efs/<HomeEfsFileSystemId>/<uid>).
//
// It first builds what an administrator starts from: an "old" IAM domain with user
// profiles and spaces, each with a home directory full of the things real homes hold
// (notebooks, a git object store, a conda environment with hardlinks and symlinks, an
// executable, empty directories, a symlink pointing outside the home), owned by the
// old UID. Then it does what the tool does for real, through the same packages:
// snapshot (internal/studio), plan with a VPC change, apply on the emulator (new
// domain, profiles and spaces, a UID map read back from the API), copy every home from
// /<oldUID> to /<newUID> re-owned to the new UID (internal/efs), verify with
// checksums, run the copy again to show that a rerun moves nothing, and print a
// report.
//
// `migrator demo` is the thin command over Run; the package test runs it too, and
// asserts on the files it leaves on disk.
package demo
