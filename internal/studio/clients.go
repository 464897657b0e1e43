package studio

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
)

// Clients are the AWS API clients the control plane uses. Identity Center calls
// (SSOAdmin, IdentityStore) are only made for SSO domains.
type Clients struct {
	SageMaker     *sagemaker.Client
	SSOAdmin      *ssoadmin.Client
	IdentityStore *identitystore.Client
	// Region is where the domains live (cfg.Region); recorded in snapshots.
	Region string
}

// NewClients builds every client from one configuration (see internal/awsconfig),
// so --endpoint-url, --profile and the AWS_ENDPOINT_URL_<SERVICE> variables apply to all.
func NewClients(cfg aws.Config) Clients {
	return Clients{
		SageMaker:     sagemaker.NewFromConfig(cfg),
		SSOAdmin:      ssoadmin.NewFromConfig(cfg),
		IdentityStore: identitystore.NewFromConfig(cfg),
		Region:        cfg.Region,
	}
}
