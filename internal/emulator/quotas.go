package emulator

import (
	"time"
)

// Service Quotas (JSON 1.1, X-Amz-Target "ServiceQuotasV20190624.<Op>"):
// ListServiceQuotas and GetServiceQuota for service code "sagemaker", answering the
// limits this emulator enforces (Options.MaxDomains, MaxUserProfilesPerDomain,
// MaxSpacesPerDomain). The quota codes are the emulator's own (L-E0000001...); a
// client should match SageMaker quotas by name, as studio.Preflight does.

func init() {
	services["ServiceQuotasV20190624"] = quotaOps
}

var quotaOps = map[string]handler{
	"ListServiceQuotas": (*Emulator).listServiceQuotas,
	"GetServiceQuota":   (*Emulator).getServiceQuota,
}

// Quota names the emulator answers; the Studio ones say "per domain".
const (
	QuotaNameDomains      = "Maximum number of domains per region"
	QuotaNameUserProfiles = "Maximum number of user profiles per domain"
	QuotaNameSpaces       = "Maximum number of spaces per domain"
)

type serviceQuota struct {
	ServiceCode string
	ServiceName string
	QuotaArn    string
	QuotaCode   string
	QuotaName   string
	Value       float64
	Unit        string
	Adjustable  bool
	GlobalQuota bool
}

func (e *Emulator) sagemakerQuotas() []serviceQuota {
	q := func(code, name string, v int) serviceQuota {
		return serviceQuota{
			ServiceCode: "sagemaker", ServiceName: "Amazon SageMaker",
			QuotaArn:  "arn:aws:servicequotas:" + e.opts.Region + ":" + e.opts.AccountID + ":sagemaker/" + code,
			QuotaCode: code, QuotaName: name, Value: float64(v), Unit: "None", Adjustable: true,
		}
	}
	return []serviceQuota{
		q("L-E0000001", QuotaNameDomains, e.opts.MaxDomains),
		q("L-E0000002", QuotaNameUserProfiles, e.opts.MaxUserProfilesPerDomain),
		q("L-E0000003", QuotaNameSpaces, e.opts.MaxSpacesPerDomain),
	}
}

type quotaReq struct {
	ServiceCode *string
	QuotaCode   *string
	NextToken   *string
	MaxResults  *int32
}

func (e *Emulator) listServiceQuotas(_ time.Time, body []byte) (any, *apiError) {
	var req quotaReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if deref(req.ServiceCode) != "sagemaker" {
		return nil, &apiError{code: "NoSuchResourceException", msg: "The request failed because the specified service does not exist."}
	}
	return map[string]any{"Quotas": e.sagemakerQuotas()}, nil
}

func (e *Emulator) getServiceQuota(_ time.Time, body []byte) (any, *apiError) {
	var req quotaReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if deref(req.ServiceCode) == "sagemaker" {
		for _, q := range e.sagemakerQuotas() {
			if q.QuotaCode == deref(req.QuotaCode) {
				return map[string]any{"Quota": q}, nil
			}
		}
	}
	return nil, &apiError{code: "NoSuchResourceException", msg: "The request failed because the specified resource does not exist."}
}
