// Package studio is the SageMaker Studio control plane of a migration: it reads a
// domain into a Snapshot, turns a snapshot plus the administrator's overrides into a
// Plan, and applies the plan to build the new domain with every user profile and space,
// returning the map from old to new HomeEfsFileSystemUid that the home-directory mover
// needs. It also installs Studio lifecycle configurations, restarts default apps and,
// only when asked, cleans the old domain up.
//
// # Settings travel as wire JSON
//
// A snapshot must rebuild a domain faithfully, including settings members this build of
// aws-sdk-go-v2 does not know yet and union-typed members (CustomFileSystemConfigs) that
// encoding/json cannot decode into SDK structs. So the settings structures
// (DefaultUserSettings, DefaultSpaceSettings, DomainSettings, UserSettings,
// SpaceSettings, OwnershipSettings, SpaceSharingSettings) are kept exactly as the
// service sent them: the raw JSON of the Describe response is captured (captureBody)
// and stored in the snapshot as canonical JSON (keys sorted), the same text
// `aws sagemaker describe-user-profile` prints. Create calls send them back unchanged
// by merging them into the serialized request body (withMembers), so they never pass
// through a lossy Go struct. Only the few members the plan rewrites (security groups,
// execution roles) are edited, as JSON.
//
// # Snapshot and plan
//
// TakeSnapshot only reads (the name Snapshot is the document type). It describes the
// domain, then every profile and space with bounded concurrency; one that disappears
// between List and Describe is skipped with a warning, one in Failed or Deleting status
// is kept with its status. NewPlan never calls AWS: it validates the Overrides, rewrites
// the settings JSON they touch, and reports everything the administrator must fix as a
// Problem (severity error blocks Apply) rather than stopping at the first one; it
// returns an error only for input it cannot plan at all. Switching IAM -> SSO takes a
// user-mapping CSV (ReadUserMapping: "profile,ssoUserName" lines).
//
// # Steps are level-based
//
// Every Apply step reads the actual state first (find by name, and the tag that
// records the job) and only creates what is missing, so running a step twice, or after
// a crash, is harmless; waits report FailureReason and stop at a timeout.
package studio
