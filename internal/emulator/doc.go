// Package emulator is an in-memory stand-in for the part of AWS this tool talks to: the
// SageMaker Studio control plane (domains, user profiles, spaces, apps, Studio lifecycle
// configurations, tags), and the SSO admin and Identity Store calls that Identity
// Center domains need. It serves them over the real AWS JSON 1.1 wire protocol, so the
// unmodified aws-sdk-go-v2 clients and the AWS CLI v2 work against it; the tests of
// internal/studio, `migrator emulator` and the in-process demo all use it.
//
// The aim is that code which works against the emulator works against AWS. Where the
// two could differ the emulator is the stricter of the two.
//
// # Wire protocol
//
//   - POST /, X-Amz-Target "SageMaker.<Op>", "SWBExternalService.<Op>" (sso-admin) or
//     "AWSIdentityStore.<Op>", Content-Type application/x-amz-json-1.1. Every request
//     must carry an Authorization header (MissingAuthenticationTokenException
//     otherwise); signatures and credentials are not checked.
//   - Errors are HTTP 400 with {"__type": code, "message": ...} and the code in
//     X-Amzn-ErrorType: ResourceNotFound, ResourceInUse, ResourceLimitExceeded,
//     ValidationException, ThrottlingException ("Rate exceeded") for SageMaker;
//     ResourceNotFoundException, ConflictException, ValidationException for the other
//     two. A target that is not served is answered like AWS answers it,
//     com.amazon.coral.service#UnknownOperationException; a body that does not fit
//     the operation is a SerializationException.
//   - Timestamps are epoch seconds with milliseconds, as JSON numbers.
//   - Validation messages follow the service's form: "1 validation error detected:
//     Value 'x' at 'userProfileName' failed to satisfy constraint: ...".
//
// # State
//
// Domains, profiles, spaces and apps go Pending -> InService (or Failed, see
// FailNext), Updating -> InService (or Update_Failed, FailNextUpdate), Deleting -> gone
// (or Delete_Failed, FailNextDelete; apps: Deleting -> Deleted, and
// they stay listed as Deleted until their profile or space goes). Transitions happen
// Options.ReadyAfter after the call that started them and are applied lazily at the
// start of the next call; there are no goroutines, with one exception: a lifecycle
// configuration script that runs while its app starts (below). Creating or changing anything
// inside a resource that is not InService, or deleting one that is in a transient
// status, is ResourceInUse.
//
// Every settings structure a client sends (DefaultUserSettings, DefaultSpaceSettings,
// DomainSettings, UserSettings, SpaceSettings, ResourceSpec, ...) is stored as the raw
// JSON it arrived as and returned unchanged by Describe, so members this package does
// not know about survive the round trip. Updates replace the top-level members they
// name and keep the others.
//
// # Validation
//
// Every SageMaker request is checked against the service model before its handler
// runs: required members, lengths, ranges, patterns, enums and list sizes, nested
// settings included. The model is botocore's service-2.json trimmed to the input
// shapes of the served operations and embedded (sagemaker_model.json, written by
// `go generate` with internal/modelgen; TestEmbeddedModel checks it against the model
// file installed on the machine). Patterns Go's regexp cannot express are written out
// in internal/svcmodel. On top of the model, the rules the API reference states in
// words: VpcId and SubnetIds unless the domain comes from SageMaker Unified Studio;
// security groups for VpcOnly; at most 4 security groups in UserSettings (the service
// adds its NFS group); no change of AppNetworkAccessType or ExecutionRoleIdentityConfig
// while apps run; a space keeps its app type and runs only apps of it.
//
// # Faults
//
// FailNext, FailNextUpdate, FailNextDelete, HoldPending and ThrottleOnly (also the
// --fail-create, --fail-update, --fail-delete, --pending and --throttle-ops flags of
// `migrator emulator`) make the next create, update or delete of a named resource go
// Failed, Update_Failed or Delete_Failed, keep a create Pending for a while, or
// throttle only some operations. A handler that panics is answered 500 InternalFailure
// and the lock is released.
//
// IDs: DomainId "d-" + 12 lowercase alphanumerics, HomeEfsFileSystemId "fs-" + 17 hex
// digits, drawn from a generator seeded by Options.Seed. HomeEfsFileSystemUid counts
// up from 200001 across all domains and is never reused, so a recreated profile never
// gets its old UID (real domains may hand out the same numbers in two domains; code
// must map old to new UIDs by reading them, never by computing them). With EFSRoot set
// a domain's EFS is the directory <EFSRoot>/<HomeEfsFileSystemId>, each home
// <EFSRoot>/<fs-id>/<uid> (mode 0755, owned by uid:1001 when running as root). With
// HomeDirOnCreate false the home appears at the first CreateApp for its owner, like a
// Studio Classic home. DeleteDomain with RetentionPolicy.HomeEfsFileSystem=Delete
// removes the EFS directory; Retain (the default) keeps it. A domain created with
// HomeEfsFileSystemCreation Disabled has no EFS: no HomeEfsFileSystemId, no directory,
// no homes on it.
//
// JupyterLab and Code Editor spaces keep their home on an EBS volume of their own, as
// in current Studio, never on the EFS: with EBSRoot set it is <EBSRoot>/<DomainId>/
// <SpaceName> (mode 0755, owned by 1000:100, sagemaker-user in those images), made at
// CreateSpace and removed when the space is deleted. User profiles and Studio Classic
// spaces (JupyterServer, KernelGateway, no app type) stay on the EFS.
//
// # Lifecycle configurations
//
// With Options.LCC (`migrator emulator --run-lcc`) CreateApp runs the Studio lifecycle
// configuration the app starts with, as Studio does, so `migrator lcc install` and the
// scripts of scripts/lcc rehearse offline against a local S3 endpoint:
//
//   - Which one: ResourceSpec.LifecycleConfigArn of the CreateApp request, else
//     <AppType>AppSettings.DefaultResourceSpec.LifecycleConfigArn (JupyterServer,
//     KernelGateway, JupyterLab, CodeEditor) of the first settings that name one: the
//     space's SpaceSettings, its owner's UserSettings (private spaces), the domain's
//     DefaultSpaceSettings, then DefaultUserSettings; for a profile's app its
//     UserSettings, then DefaultUserSettings. This is the order of the API reference's
//     "default" wording (settings of the narrower resource win) and of the Studio LCC
//     guide, which attaches defaults for JupyterLab to DefaultUserSettings; the
//     precedence between a space's owner and DefaultSpaceSettings is not documented,
//     we chose the owner's. "None", which the API accepts, means none. A
//     configuration of another app type is not run (Studio only offers an app those
//     of its type); one that does not exist fails the app.
//   - How: bash runs the script (written to a file, so `nohup bash "$0"` works) with
//     its working directory, HOME and HOME_DIR the app's home folder: <EBSRoot>/
//     <DomainId>/<SpaceName> for JupyterLab and Code Editor spaces, <EFSRoot>/<fs-id>/
//     <uid> for a profile's apps and Studio Classic spaces. When the emulator runs as
//     root the script runs as the folder's owner (1000:100 on EBS, <uid>:1001 on the
//     EFS), so what it writes is owned as in Studio. RESOURCE_METADATA is a generated
//     resource-metadata.json with the fields Studio writes (AppType, DomainId,
//     UserProfileName, SpaceName, ResourceArn, ResourceName, AppImageVersion,
//     ExecutionRoleArn; a private space's UserProfileName is its owner). TMPDIR is a
//     folder of the run's own, standing for the container's private /tmp (the scripts
//     keep their locks there). The environment is PATH, LANG and those, then
//     LCCRunner.Env; the emulator's own environment is not passed on.
//   - The app stays Pending while the script runs and goes InService after it exited
//     0 (and not before ReadyAfter); a non-zero exit, or running past LCCRunner.Timeout
//     (default 5 minutes, Studio's limit), makes it Failed with a FailureReason naming
//     the configuration, its exit code or the limit, and the last line it printed.
//     DeleteApp of an app whose script runs kills the script's process group (what it
//     started with it too) and deletes the app. Work a script puts in the background
//     (backup-home.sh returns at once) is its own business and outlives it.
//   - Output goes to a per-run log (LCCResult.LogFile); LCCRuns lists every run with
//     its exit code and output tail, and the emulator's logger gets both at debug.
//   - Close (also when Serve ends) kills running scripts, waits for them, and removes
//     the runs' folder. LCCRunner.Run replaces bash, for the demo where no AWS CLI v2 is
//     installed.
//
// Identity Center: the account has one instance and identity store; users are added
// with AddIdentityCenterUser. An SSO domain gets a SingleSignOnApplicationArn and a
// SingleSignOnManagedApplicationInstanceId; CreateApplicationAssignment and friends
// manage who is assigned to it.
//
// # Outside SageMaker: EC2, KMS, IAM, Service Quotas, EFS
//
// A rehearsal world is built the way it is in AWS, through the APIs that own it
// (network.go, ec2.go, kms.go, iam.go, quotas.go, query.go, efs.go):
//
//   - EC2 (query protocol, form-encoded POST with Version 2016-11-15, XML answers):
//     CreateVpc, DescribeVpcs, CreateSubnet, DescribeSubnets, CreateSecurityGroup,
//     DescribeSecurityGroups (by ID, or the vpc-id / subnet-id / group-id filters).
//     Errors as EC2 words them: InvalidVpcID.NotFound, InvalidSubnetID.NotFound,
//     InvalidGroup.NotFound, *.Malformed, InvalidSubnet.Conflict, ...
//   - IAM (query protocol, Version 2010-05-08): CreateRole, GetRole,
//     UpdateAssumeRolePolicy, DeleteRole; NoSuchEntity (HTTP 404),
//     EntityAlreadyExists (409), MalformedPolicyDocument. The trust policy comes back
//     URL-encoded, as from IAM.
//   - KMS (JSON 1.1, "TrentService.<Op>"): CreateKey, DescribeKey, EnableKey,
//     DisableKey, ScheduleKeyDeletion, GetKeyPolicy, PutKeyPolicy, CreateAlias;
//     NotFoundException, KMSInvalidStateException. Keys get KMS's default key policy.
//   - Service Quotas (JSON 1.1): ListServiceQuotas / GetServiceQuota for "sagemaker",
//     answering Options.MaxDomains, MaxUserProfilesPerDomain, MaxSpacesPerDomain
//     under names that say what they count (the quota codes are the emulator's own).
//   - EFS (REST-JSON, GET /2015-02-01/file-systems and /mount-targets):
//     DescribeFileSystems and DescribeMountTargets by FileSystemId, read-only. The
//     file systems are every domain's home EFS, with a mount target in each of the
//     domain's subnets, and those declared with World.FileSystems. An unknown ID is
//     FileSystemNotFound (HTTP 404, x-amzn-ErrorType) whatever the NetworkMode.
//
// SageMaker's CreateImage / DescribeImage and CreateAppImageConfig /
// DescribeAppImageConfig (images.go) hold the custom images that CustomImages
// settings name; image versions are not modelled.
//
// Options.Network decides what CreateDomain does with what it names:
// NetworkLenient (the default, for the demo and tests that invent IDs) creates an
// unknown VPC, subnet, security group or key on first use; NetworkStrict (`migrator
// emulator --strict-network`) refuses, with a ValidationException, a VPC, subnet or
// security group that does not exist or belongs to another VPC, and a KMS key that
// does not exist or is not Enabled, as AWS does. CallCounts reports every operation
// served, so a test can prove a read-only command created nothing.
//
// # Judgment calls and known gaps
//
//   - Domain names are not unique (AWS allows two domains with one name); profile,
//     space, app and lifecycle configuration names are, per domain or account.
//   - The error code for "parent not InService" is ResourceInUse; AWS's exact message
//     texts are approximated, codes are not.
//   - SSO domains: a profile's SingleSignOnUserValue must name an existing identity
//     store user, and a user may hold one profile per domain. Shared and Studio
//     Classic spaces are allowed: the current API reference sets no auth-mode
//     condition on CreateSpace (only a whitepaper AWS marks historical did).
//   - CreateApplicationAssignment of an existing assignment is a ConflictException.
//   - Not modelled: LCC ARNs in settings are not checked for existence (with
//     Options.LCC a missing one fails the app that would run it); AWS's quotas
//     are replaced by Options.MaxDomains/MaxUserProfilesPerDomain/MaxSpacesPerDomain;
//     TagPropagation does not copy tags anywhere; app images and custom file
//     systems named in settings are not checked for existence (their form is, by the
//     model); no persistence across restarts.
package emulator
