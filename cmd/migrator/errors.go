package main

import (
	"errors"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
)

// errorMessage is what main prints for err. Missing AWS credentials and an
// unreachable endpoint are said on their own: the SDK's wrapping ("operation error
// SageMaker: DescribeDomain, get identity: get credentials: ...") adds nothing a
// user can act on.
func errorMessage(err error) string {
	var ce *awsconfig.CredentialsError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	var ue *awsconfig.UnreachableError
	if errors.As(err, &ue) {
		return ue.Error()
	}
	return err.Error()
}
