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
// An Applier runs Apply as separate steps the workflow can checkpoint and re-run one
// by one: CreateDomain, CreateUserProfiles, CreateSpaces (after their owners),
// AssignUsers (Identity Center domains). Each reads the actual state first and
// creates only what is missing, so running a step twice, or after a crash, is
// harmless. Every create carries the plan's tags plus JobTagKey=<job ID>. Domain names
// are not unique in AWS, so the domain is found by name AND that tag (a same-named
// domain without it is left alone), and CreateDomain is retried only when throttled
// (a retry after a lost response could make a second domain; the step's rerun finds
// it by tag instead). Profile and space names are unique per domain, and the domain
// is the job's, so an existing one is adopted. New UIDs are read from Describe, never
// computed; Result.UIDMap holds one entry per profile and space. A plan with error
// Problems is refused before any AWS call (ErrPlanHasErrors).
//
// # Waits and pacing
//
// find.go has a find / status / wait trio per resource (domain, user profile, space,
// app), after terraform-provider-aws: a resource that does not exist is an error
// wrapping ErrNotFound, one that settles in Failed a *FailedError carrying the
// service's FailureReason (the step stops and starts nothing more), and a wait gives up
// after Waiter.Timeout with ErrWaitTimeout. Creates run with bounded concurrency
// (errgroup) and through a pacer that spaces them out and widens the spacing on every
// throttled attempt it sees inside the SDK's retry loop, narrowing it again on success.
//
// # Preflight and what points outside the domain
//
// Some settings name resources outside the domain (lifecycle configuration ARNs,
// custom images and app image configs, EFS/FSx/S3 file systems, execution and other
// roles, UnifiedStudioSettings, IpAddressType dualstack). NewPlan lists each, with
// every place it is used, as Plan.ExternalReferences (extrefs.go). Preflight
// (preflight.go, `plan --live`) checks the plan against the target account before
// anything is created, and only reads: VPC, subnets and security groups (EC2), the
// KMS key (state, spec, key policy), every role (existence, SageMaker trust,
// sts:SetContext under trusted identity propagation), the SageMaker quotas (Service
// Quotas), Identity Center users, the referenced lifecycle configurations and
// images, and the EFS file systems of CustomFileSystemConfigs (existing, with a
// mount target in the new VPC); every problem at once, each with its fix. The snapshot also keeps the
// content of every lifecycle configuration it references, and an Applier with
// RecreateLifecycleConfigs recreates a missing one under its name and points the
// settings at the new ARN (lccsnap.go).
//
// # Leftovers of earlier runs
//
// CreateUserProfiles and CreateSpaces act only on a domain carrying this job's tag
// (ErrNotJobDomain otherwise). A profile or space an earlier run left Failed stops
// the step, or with ReplaceFailed is deleted and created again. A create answered
// ResourceInUse is adopted only when Describe finds the resource: error codes and
// Describe decide, never the wording of a message (leftovers.go).
//
// # Lifecycle configurations, apps, cleanup, IAM
//
// InstallLCC creates a Studio lifecycle configuration (reusing one with the same
// content; a different script under the same name is ErrLCCContentDiffers, since
// other domains may run it) and attaches it to the domain's DefaultUserSettings,
// editing only the one <AppType>AppSettings member as JSON so no setting or existing
// ARN is lost; it becomes the default only where none is set. RestartApp deletes and
// recreates an app with the same resource spec and tags, resumably. Cleanup deletes
// apps, spaces, profiles, then the domain, retaining its home EFS unless told
// otherwise. IAMPolicy derives the worker's least-privilege policy from a snapshot;
// IAMPolicies keeps it within IAM's 6,144-character limit with hundreds of per-user
// roles (role path or name-prefix wildcards, else several policies, and says which).
package studio
