package studio

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
)

// Clients are the AWS API clients the control plane uses. Identity Center calls
// (SSOAdmin, IdentityStore) are only made for SSO domains.
type Clients struct {
	SageMaker     *sagemaker.Client
	SSOAdmin      *ssoadmin.Client
	IdentityStore *identitystore.Client
	// EC2, EFS, KMS, IAM and ServiceQuotas are only read, by Preflight (nil ones
	// skip their checks, with a warning).
	EC2           *ec2.Client
	EFS           *efs.Client
	KMS           *kms.Client
	IAM           *iam.Client
	ServiceQuotas *servicequotas.Client
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
		EC2:           ec2.NewFromConfig(cfg),
		EFS:           efs.NewFromConfig(cfg),
		KMS:           kms.NewFromConfig(cfg),
		IAM:           iam.NewFromConfig(cfg),
		ServiceQuotas: servicequotas.NewFromConfig(cfg),
		Region:        cfg.Region,
	}
}
