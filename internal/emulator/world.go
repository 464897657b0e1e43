package emulator

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// World is what exists in an emulated account outside SageMaker: networks, execution roles
// and EFS file systems. The demo and tests that name fixed IDs declare it with AddWorld
// instead of building it call by call through the EC2 and IAM APIs, so the live
// preflight (studio.Preflight) finds it, whichever NetworkMode is in force.
type World struct {
	// VPCs maps a VPC ID to the IDs of its subnets.
	VPCs map[string][]string
	// SecurityGroups maps a security group ID to its VPC.
	SecurityGroups map[string]string
	// Roles are execution roles (names or ARNs) that trust SageMaker, with
	// sts:AssumeRole and sts:SetContext (trusted identity propagation).
	Roles []string
	// FileSystems maps an EFS file system ID to the subnets of its mount targets
	// (subnets not declared in VPCs are mount targets in no known VPC).
	FileSystems map[string][]string
}

// sageMakerTrust is the trust policy of the roles AddWorld makes.
const sageMakerTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
	`"Principal":{"Service":"sagemaker.amazonaws.com"},"Action":["sts:AssumeRole","sts:SetContext"]}]}`

// AddWorld makes every resource of w that does not exist yet (existing ones are left
// as they are).
func (e *Emulator) AddWorld(w World) {
	e.mu.Lock()
	defer e.mu.Unlock()
	acct := e.account()
	now := time.Now()
	if e.opts.Now != nil {
		now = e.opts.Now()
	}
	for vpcID, subnets := range w.VPCs {
		if acct.vpcs[vpcID] == nil {
			acct.vpcs[vpcID] = &vpc{id: vpcID, cidr: "10.0.0.0/16"}
		}
		for i, id := range subnets {
			if acct.subnets[id] == nil {
				acct.subnets[id] = &subnet{id: id, vpcID: vpcID, cidr: fmt.Sprintf("10.0.%d.0/24", i%256), az: e.opts.Region + string(rune('a'+i%3))}
			}
		}
	}
	for id, vpcID := range w.SecurityGroups {
		if acct.groups[id] == nil {
			acct.groups[id] = &securityGroup{id: id, name: id, description: "declared by AddWorld", vpcID: vpcID}
		}
	}
	for id, subnets := range w.FileSystems {
		if acct.fileSystems[id] == nil {
			acct.fileSystems[id] = &efsFileSystem{id: id, subnets: slices.Clone(subnets), created: now}
		}
	}
	for _, r := range w.Roles {
		path, name := "/", r
		if i := strings.Index(r, ":role/"); i >= 0 {
			rest := r[i+len(":role"):] // "/path/name"
			j := strings.LastIndex(rest, "/")
			path, name = rest[:j+1], rest[j+1:]
		}
		if _, ok := acct.roles[name]; ok {
			continue
		}
		acct.roles[name] = &iamRole{
			name: name, path: path, id: "AROA" + strings.ToUpper(e.randAlnum(17)),
			arn:   "arn:aws:iam::" + e.opts.AccountID + ":role" + path + name,
			trust: sageMakerTrust, created: now,
		}
	}
}
