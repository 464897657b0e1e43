package emulator

import (
	"encoding/json"
)

// Rules of the service that the model cannot express: each is stated in the API
// reference (the model's documentation of the member named), quoted beside the check.

// unifiedStudioDomainID returns DomainSettings.UnifiedStudioSettings.DomainId: a domain
// created from SageMaker Unified Studio names its Unified Studio domain there.
func unifiedStudioDomainID(domainSettings json.RawMessage) string {
	var ds struct {
		UnifiedStudioSettings *struct{ DomainId string }
	}
	if len(domainSettings) == 0 || json.Unmarshal(domainSettings, &ds) != nil || ds.UnifiedStudioSettings == nil {
		return ""
	}
	return ds.UnifiedStudioSettings.DomainId
}

// checkDomainNetwork applies CreateDomain's network rules to the domain as it will be.
//
// VpcId/SubnetIds: "The field is optional when the AppNetworkAccessType parameter is
// set to PublicInternetOnly for domains created from Amazon SageMaker Unified Studio"
// (CreateDomain), so every other domain needs both.
//
// UserSettings.SecurityGroups: "Required when the CreateDomain.AppNetworkAccessType
// parameter is set to VpcOnly, unless specified as part of the DefaultUserSettings
// for the domain."
func checkDomainNetwork(vpcID string, subnets []string, accessType string, domainSettings, defaultUserSettings json.RawMessage) *apiError {
	unified := unifiedStudioDomainID(domainSettings) != ""
	if vpcID == "" || len(subnets) == 0 {
		if !unified || accessType == "VpcOnly" {
			return errValidation("VpcId and SubnetIds are required: they are optional only for a domain created from Amazon SageMaker Unified Studio (DomainSettings.UnifiedStudioSettings) whose AppNetworkAccessType is PublicInternetOnly.")
		}
	}
	if accessType == "VpcOnly" && len(securityGroups(defaultUserSettings)) == 0 {
		return errValidation("DefaultUserSettings.SecurityGroups is required when AppNetworkAccessType is VpcOnly.")
	}
	return nil
}

func securityGroups(userSettings json.RawMessage) []string {
	var us struct{ SecurityGroups []string }
	if len(userSettings) > 0 {
		_ = json.Unmarshal(userSettings, &us)
	}
	return us.SecurityGroups
}

// appsIn counts the domain's apps in any of statuses.
func appsIn(d *domain, statuses ...string) int {
	n := 0
	for _, a := range d.apps {
		if contains(statuses, a.status) {
			n++
		}
	}
	return n
}

// checkUpdateWhileAppsRun applies UpdateDomain's rules on running apps.
//
// AppNetworkAccessType: "This configuration can only be modified if there are no apps
// in the InService, Pending, or Deleting state."
// DomainSettingsForUpdate.ExecutionRoleIdentityConfig: "This configuration can only be
// modified if there are no apps in the InService or Pending state."
func checkUpdateWhileAppsRun(d *domain, accessType string, settingsForUpdate json.RawMessage) *apiError {
	if accessType != "" && accessType != d.appNetworkAccessType {
		if n := appsIn(d, statusInService, statusPending, statusDeleting); n > 0 {
			return errValidation("AppNetworkAccessType can only be modified if there are no apps in the InService, Pending, or Deleting state; domain %s has %d.", d.id, n)
		}
	}
	var upd struct{ ExecutionRoleIdentityConfig string }
	if len(settingsForUpdate) > 0 && json.Unmarshal(settingsForUpdate, &upd) == nil && upd.ExecutionRoleIdentityConfig != "" {
		var cur struct{ ExecutionRoleIdentityConfig string }
		if len(d.domainSettings) > 0 {
			_ = json.Unmarshal(d.domainSettings, &cur)
		}
		if cur.ExecutionRoleIdentityConfig == "" {
			cur.ExecutionRoleIdentityConfig = "DISABLED"
		}
		if upd.ExecutionRoleIdentityConfig != cur.ExecutionRoleIdentityConfig {
			if n := appsIn(d, statusInService, statusPending); n > 0 {
				return errValidation("ExecutionRoleIdentityConfig can only be modified if there are no apps in the InService or Pending state; domain %s has %d.", d.id, n)
			}
		}
	}
	return nil
}

// spaceAppType is SpaceSettings.AppType ("" when not set).
func spaceAppType(settings json.RawMessage) string {
	var ss struct{ AppType string }
	if len(settings) > 0 {
		_ = json.Unmarshal(settings, &ss)
	}
	return ss.AppType
}
