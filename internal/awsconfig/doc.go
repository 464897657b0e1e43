// Package awsconfig loads the AWS configuration every command that calls AWS shares:
// the default credential chain and the standard AWS_* environment variables, plus the
// --region, --profile and --endpoint-url flags. --endpoint-url points every service
// client (SageMaker, SSO admin, Identity Store) at one place, which is how the emulator
// is reached; AWS_ENDPOINT_URL_SAGEMAKER and friends keep working per service.
//
// The retryer is tuned for SageMaker's throttling: more attempts, a longer backoff cap,
// and no client-side retry quota, because a migration that makes thousands of calls
// must outlast a throttling burst rather than fail on an exhausted token bucket. An
// endpoint that cannot be reached at all (refused, unresolvable, no route) is the
// opposite case: it is tried twice and reported as an UnreachableError naming it,
// instead of minutes of silent backoff. Missing credentials come back as a
// CredentialsError saying how to provide them, and the SDK's own log lines go through
// slog like everything else.
package awsconfig
