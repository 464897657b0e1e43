package emulator

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// NetworkMode says what CreateDomain does with a VPC, subnet, security group or KMS
// key the emulator has never seen.
type NetworkMode int

const (
	// NetworkLenient (the default) creates an unknown VPC, subnet, security group or
	// KMS key on first use, under the ID the request names (subnets and security
	// groups in the request's VPC, keys enabled). Existing tests and the demo invent
	// their network IDs; this keeps them working. It never refuses a request.
	NetworkLenient NetworkMode = iota
	// NetworkStrict answers CreateDomain with a ValidationException, as AWS does,
	// when its VPC, a subnet or a security group does not exist or belongs to
	// another VPC, or its KMS key does not exist or is not enabled. The rehearsal
	// world is built first, through the EC2, KMS and IAM APIs the emulator serves
	// (aws ec2 create-vpc, create-subnet, create-security-group, aws kms create-key,
	// aws iam create-role).
	NetworkStrict
)

// accountState holds the account-level resources outside SageMaker: EC2 networking,
// KMS keys and IAM roles. Guarded by Emulator.mu like everything else.
type accountState struct {
	vpcs    map[string]*vpc
	subnets map[string]*subnet
	groups  map[string]*securityGroup
	keys    map[string]*kmsKey // by key ID
	aliases map[string]string  // "alias/name" -> key ID
	roles   map[string]*iamRole
	// fileSystems are the EFS file systems declared with World.FileSystems (domains'
	// home file systems are added by efs.go).
	fileSystems map[string]*efsFileSystem
}

type vpc struct {
	id, cidr, ipv6Cidr string
}

type subnet struct {
	id, vpcID, cidr, ipv6Cidr, az string
}

type securityGroup struct {
	id, name, description, vpcID string
}

// account returns the account state, making it on first use (New predates it).
func (e *Emulator) account() *accountState {
	a := &e.acct
	if a.vpcs == nil {
		a.vpcs = map[string]*vpc{}
		a.subnets = map[string]*subnet{}
		a.groups = map[string]*securityGroup{}
		a.keys = map[string]*kmsKey{}
		a.aliases = map[string]string{}
		a.roles = map[string]*iamRole{}
		a.fileSystems = map[string]*efsFileSystem{}
	}
	return a
}

// CallCounts returns how many calls of every operation were answered (other than
// throttled), by operation name, across every API the emulator serves. A test that
// must prove nothing was created checks that no key starts with "Create".
func (e *Emulator) CallCounts() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.calls))
	for k, v := range e.calls {
		out[k] = v
	}
	return out
}

// checkDomainNetwork is CreateDomain's check of the resources it names outside
// SageMaker (see NetworkMode).
func (e *Emulator) checkDomainNetwork(now time.Time, req *createDomainReq) *apiError {
	acct := e.account()
	vpcID := deref(req.VpcId)
	groups := domainSecurityGroups(req)
	keyID := deref(req.KmsKeyId)
	if keyID == "" {
		keyID = deref(req.HomeEfsFileSystemKmsKeyId)
	}
	if e.opts.Network == NetworkLenient {
		if vpcID != "" && acct.vpcs[vpcID] == nil {
			acct.vpcs[vpcID] = &vpc{id: vpcID, cidr: "10.0.0.0/16"}
		}
		for _, id := range req.SubnetIds {
			if acct.subnets[id] == nil {
				acct.subnets[id] = &subnet{id: id, vpcID: vpcID, cidr: "10.0.0.0/24", az: e.opts.Region + "a"}
			}
		}
		for _, id := range groups {
			if acct.groups[id] == nil {
				acct.groups[id] = &securityGroup{id: id, name: id, description: "created on first use", vpcID: vpcID}
			}
		}
		if keyID != "" {
			if _, aerr := e.findKey(keyID); aerr != nil && !strings.HasPrefix(keyID, "alias/") && !strings.Contains(keyID, ":alias/") {
				id := keyID[strings.LastIndex(keyID, "/")+1:]
				acct.keys[id] = e.newKey(now, id, "created on first use", nil)
			}
		}
		return nil
	}
	var problems []string
	if vpcID != "" && acct.vpcs[vpcID] == nil {
		problems = append(problems, "The VPC '"+vpcID+"' does not exist")
	}
	for _, id := range req.SubnetIds {
		s := acct.subnets[id]
		switch {
		case s == nil:
			problems = append(problems, "The subnet '"+id+"' does not exist")
		case vpcID != "" && s.vpcID != vpcID:
			problems = append(problems, "The subnet '"+id+"' belongs to VPC '"+s.vpcID+"', not to '"+vpcID+"'")
		}
	}
	for _, id := range groups {
		g := acct.groups[id]
		switch {
		case g == nil:
			problems = append(problems, "The security group '"+id+"' does not exist")
		case vpcID != "" && g.vpcID != vpcID:
			problems = append(problems, "The security group '"+id+"' belongs to VPC '"+g.vpcID+"', not to '"+vpcID+"'")
		}
	}
	if keyID != "" {
		k, aerr := e.findKey(keyID)
		switch {
		case aerr != nil:
			problems = append(problems, "The KMS key '"+keyID+"' does not exist or is not accessible")
		case k.state != keyEnabled:
			problems = append(problems, "The KMS key '"+k.arn+"' is "+k.state+", not Enabled")
		}
	}
	if len(problems) > 0 {
		return errValidation("%s.", strings.Join(problems, "; "))
	}
	return nil
}

// domainSecurityGroups are the security groups a CreateDomain request names.
func domainSecurityGroups(req *createDomainReq) []string {
	var out []string
	for _, raw := range []struct {
		v      json.RawMessage
		member string
	}{{req.DomainSettings, "SecurityGroupIds"}, {req.DefaultUserSettings, "SecurityGroups"}, {req.DefaultSpaceSettings, "SecurityGroups"}} {
		var m map[string]json.RawMessage
		if len(raw.v) == 0 || json.Unmarshal(raw.v, &m) != nil {
			continue
		}
		var ids []string
		_ = json.Unmarshal(m[raw.member], &ids)
		out = append(out, ids...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
