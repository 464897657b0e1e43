package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// CredentialsError is a call that failed because no usable AWS credentials were
// found. Its message says what is missing and how to provide it.
type CredentialsError struct {
	// Profile is the profile asked for (--profile or AWS_PROFILE), if any.
	Profile string
	// NoneFound is set when the SDK's whole default chain came up empty (as opposed
	// to a source that was found but failed, such as an expired SSO session).
	NoneFound bool
	Err       error
}

const credentialsHelp = "provide credentials with --profile NAME or AWS_PROFILE (a profile in ~/.aws/config; " +
	"for an IAM Identity Center profile run 'aws sso login --profile NAME' first), " +
	"or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary keys), " +
	"or run where an instance or container role is attached"

func (e *CredentialsError) Error() string {
	switch {
	case e.Profile != "":
		return fmt.Sprintf("no usable AWS credentials from profile %q (%v): check the profile's settings; %s", e.Profile, e.Err, credentialsHelp)
	case e.NoneFound:
		return "no AWS credentials found (none in the environment, ~/.aws/credentials, ~/.aws/config's default profile, or an instance or container role): " + credentialsHelp
	default:
		return fmt.Sprintf("getting AWS credentials: %v; %s", e.Err, credentialsHelp)
	}
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// explainCredentials turns the credential chain's failure into a CredentialsError.
type explainCredentials struct {
	inner   aws.CredentialsProvider
	profile string
}

func (p *explainCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := p.inner.Retrieve(ctx)
	if err != nil && ctx.Err() == nil {
		return c, &CredentialsError{
			Profile: p.profile,
			// The default chain ends with the EC2 instance role; reaching it and
			// failing means nothing before it had credentials.
			NoneFound: strings.Contains(err.Error(), "no EC2 IMDS role found"),
			Err:       err,
		}
	}
	return c, err
}

// IsCredentialsProvider lets the SDK see the cache inside, so service clients do not
// wrap this provider in a second cache.
func (p *explainCredentials) IsCredentialsProvider(target aws.CredentialsProvider) bool {
	return aws.IsCredentialsProvider(p.inner, target)
}

// UnreachableError is a call whose endpoint could not be reached at all: the name
// does not resolve, the connection is refused, there is no route, or the dial timed
// out. Retrying such an error for minutes only hides a wrong --endpoint-url or region.
type UnreachableError struct {
	// Endpoint is the scheme and host that was dialled, e.g. http://127.0.0.1:1.
	Endpoint string
	Err      error
}

func (e *UnreachableError) Error() string {
	cause := e.Err
	var op *net.OpError
	if errors.As(e.Err, &op) {
		cause = op
	}
	return fmt.Sprintf("cannot reach the AWS endpoint %s (%v): check --endpoint-url, AWS_ENDPOINT_URL*, --region and that this host can reach it",
		e.Endpoint, cause)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// isUnreachable reports whether err means the endpoint could not be reached at all
// (as opposed to a connection that broke mid-request, which is worth retrying).
func isUnreachable(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// unreachable wraps err, naming the endpoint it was dialling.
func unreachable(err error) error {
	endpoint := "(unknown)"
	var ue *url.Error
	if errors.As(err, &ue) {
		endpoint = ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			endpoint = u.Scheme + "://" + u.Host
		}
	}
	return &UnreachableError{Endpoint: endpoint, Err: err}
}
