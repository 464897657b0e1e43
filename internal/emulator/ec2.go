package emulator

import (
	"encoding/xml"
	"net/netip"
	"net/url"
	"slices"
	"time"
)

// EC2: the VPCs, subnets and security groups a domain is created in. Only what a
// rehearsal world and the preflight need: create and describe (by ID or by the
// vpc-id filter). IDs are "vpc-", "subnet-", "sg-" plus 17 hex digits.

var (
	ec2VpcIDRE    = lazyRE(`^vpc-[0-9a-f]{8}([0-9a-f]{9})?$`)
	ec2SubnetIDRE = lazyRE(`^subnet-[0-9a-f]{8}([0-9a-f]{9})?$`)
	ec2GroupIDRE  = lazyRE(`^sg-[0-9a-f]{8}([0-9a-f]{9})?$`)
)

type ec2IPv6XML struct {
	AssociationID string `xml:"associationId"`
	CidrBlock     string `xml:"ipv6CidrBlock"`
	State         string `xml:"ipv6CidrBlockState>state"`
}

type ec2VpcXML struct {
	VpcID     string       `xml:"vpcId"`
	OwnerID   string       `xml:"ownerId"`
	State     string       `xml:"state"`
	CidrBlock string       `xml:"cidrBlock"`
	IPv6      []ec2IPv6XML `xml:"ipv6CidrBlockAssociationSet>item,omitempty"`
	Tenancy   string       `xml:"instanceTenancy"`
	IsDefault bool         `xml:"isDefault"`
}

type ec2SubnetXML struct {
	SubnetID         string       `xml:"subnetId"`
	SubnetArn        string       `xml:"subnetArn"`
	VpcID            string       `xml:"vpcId"`
	OwnerID          string       `xml:"ownerId"`
	State            string       `xml:"state"`
	CidrBlock        string       `xml:"cidrBlock,omitempty"`
	AvailabilityZone string       `xml:"availabilityZone"`
	IPv6             []ec2IPv6XML `xml:"ipv6CidrBlockAssociationSet>item,omitempty"`
}

type ec2GroupXML struct {
	OwnerID     string `xml:"ownerId"`
	GroupID     string `xml:"groupId"`
	GroupName   string `xml:"groupName"`
	Description string `xml:"groupDescription"`
	VpcID       string `xml:"vpcId"`
}

func (e *Emulator) vpcXML(v *vpc) ec2VpcXML {
	out := ec2VpcXML{VpcID: v.id, OwnerID: e.opts.AccountID, State: "available", CidrBlock: v.cidr, Tenancy: "default"}
	if v.ipv6Cidr != "" {
		out.IPv6 = []ec2IPv6XML{{AssociationID: "vpc-cidr-assoc-" + v.id[4:], CidrBlock: v.ipv6Cidr, State: "associated"}}
	}
	return out
}

func (e *Emulator) subnetXML(s *subnet) ec2SubnetXML {
	out := ec2SubnetXML{
		SubnetID: s.id, VpcID: s.vpcID, OwnerID: e.opts.AccountID, State: "available", CidrBlock: s.cidr, AvailabilityZone: s.az,
		SubnetArn: "arn:aws:ec2:" + e.opts.Region + ":" + e.opts.AccountID + ":subnet/" + s.id,
	}
	if s.ipv6Cidr != "" {
		out.IPv6 = []ec2IPv6XML{{AssociationID: "subnet-cidr-assoc-" + s.id[7:], CidrBlock: s.ipv6Cidr, State: "associated"}}
	}
	return out
}

func errEC2(code, msg string) *apiError { return &apiError{code: code, msg: msg} }

func (e *Emulator) ec2CreateVpc(_ time.Time, p url.Values) (any, *apiError) {
	cidr := p.Get("CidrBlock")
	if cidr == "" {
		return nil, errEC2("MissingParameter", "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.")
	}
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil || !pfx.Addr().Is4() || pfx.Bits() < 16 || pfx.Bits() > 28 {
		return nil, errEC2("InvalidVpc.Range", "The CIDR '"+cidr+"' is invalid.")
	}
	v := &vpc{id: "vpc-" + e.randHex(17), cidr: pfx.Masked().String()}
	if p.Get("AmazonProvidedIpv6CidrBlock") == "true" {
		v.ipv6Cidr = "2600:1f18:" + e.randHex(4) + ":" + e.randHex(2) + "00::/56"
	}
	e.account().vpcs[v.id] = v
	e.log.Info("created VPC", "vpc", v.id, "cidr", v.cidr)
	return struct {
		XMLName xml.Name  `xml:"x"`
		Vpc     ec2VpcXML `xml:"vpc"`
	}{Vpc: e.vpcXML(v)}, nil
}

func (e *Emulator) ec2DescribeVpcs(_ time.Time, p url.Values) (any, *apiError) {
	acct := e.account()
	ids := queryList(p, "VpcId")
	for _, id := range ids {
		if !ec2VpcIDRE().MatchString(id) {
			return nil, errEC2("InvalidVpcID.Malformed", "Invalid id: \""+id+"\"")
		}
		if acct.vpcs[id] == nil {
			return nil, errEC2("InvalidVpcID.NotFound", "The vpc ID '"+id+"' does not exist")
		}
	}
	filters := queryFilters(p)
	for name := range filters {
		if name != "vpc-id" {
			return nil, errEC2("InvalidParameterValue", "The filter '"+name+"' is invalid")
		}
	}
	var out []ec2VpcXML
	for _, id := range sortedKeys(acct.vpcs) {
		if (len(ids) > 0 && !slices.Contains(ids, id)) || (filters["vpc-id"] != nil && !slices.Contains(filters["vpc-id"], id)) {
			continue
		}
		out = append(out, e.vpcXML(acct.vpcs[id]))
	}
	return struct {
		XMLName xml.Name    `xml:"x"`
		Vpcs    []ec2VpcXML `xml:"vpcSet>item"`
	}{Vpcs: out}, nil
}

func (e *Emulator) ec2CreateSubnet(_ time.Time, p url.Values) (any, *apiError) {
	acct := e.account()
	vpcID := p.Get("VpcId")
	if vpcID == "" {
		return nil, errEC2("MissingParameter", "The request must contain the parameter vpcId")
	}
	v := acct.vpcs[vpcID]
	if v == nil {
		return nil, errEC2("InvalidVpcID.NotFound", "The vpc ID '"+vpcID+"' does not exist")
	}
	cidr := p.Get("CidrBlock")
	pfx, err := netip.ParsePrefix(cidr)
	vpcPfx, _ := netip.ParsePrefix(v.cidr)
	if err != nil || !vpcPfx.Contains(pfx.Addr()) || pfx.Bits() < vpcPfx.Bits() {
		return nil, errEC2("InvalidSubnet.Range", "The CIDR '"+cidr+"' is invalid.")
	}
	for _, s := range acct.subnets {
		if other, err := netip.ParsePrefix(s.cidr); err == nil && s.vpcID == vpcID && other.Overlaps(pfx) {
			return nil, errEC2("InvalidSubnet.Conflict", "The CIDR '"+cidr+"' conflicts with another subnet")
		}
	}
	s := &subnet{id: "subnet-" + e.randHex(17), vpcID: vpcID, cidr: pfx.Masked().String(), az: p.Get("AvailabilityZone"), ipv6Cidr: p.Get("Ipv6CidrBlock")}
	if s.az == "" {
		s.az = e.opts.Region + "a"
	}
	if s.ipv6Cidr != "" && v.ipv6Cidr == "" {
		return nil, errEC2("InvalidParameterValue", "The VPC '"+vpcID+"' has no IPv6 CIDR block; associate one before giving subnets IPv6")
	}
	acct.subnets[s.id] = s
	e.log.Info("created subnet", "subnet", s.id, "vpc", vpcID)
	return struct {
		XMLName xml.Name     `xml:"x"`
		Subnet  ec2SubnetXML `xml:"subnet"`
	}{Subnet: e.subnetXML(s)}, nil
}

func (e *Emulator) ec2DescribeSubnets(_ time.Time, p url.Values) (any, *apiError) {
	acct := e.account()
	ids := queryList(p, "SubnetId")
	for _, id := range ids {
		if !ec2SubnetIDRE().MatchString(id) {
			return nil, errEC2("InvalidSubnetID.Malformed", "Invalid id: \""+id+"\"")
		}
		if acct.subnets[id] == nil {
			return nil, errEC2("InvalidSubnetID.NotFound", "The subnet ID '"+id+"' does not exist")
		}
	}
	filters := queryFilters(p)
	for name := range filters {
		if name != "vpc-id" && name != "subnet-id" {
			return nil, errEC2("InvalidParameterValue", "The filter '"+name+"' is invalid")
		}
	}
	var out []ec2SubnetXML
	for _, id := range sortedKeys(acct.subnets) {
		s := acct.subnets[id]
		if (len(ids) > 0 && !slices.Contains(ids, id)) ||
			(filters["vpc-id"] != nil && !slices.Contains(filters["vpc-id"], s.vpcID)) ||
			(filters["subnet-id"] != nil && !slices.Contains(filters["subnet-id"], id)) {
			continue
		}
		out = append(out, e.subnetXML(s))
	}
	return struct {
		XMLName xml.Name       `xml:"x"`
		Subnets []ec2SubnetXML `xml:"subnetSet>item"`
	}{Subnets: out}, nil
}

func (e *Emulator) ec2CreateSecurityGroup(_ time.Time, p url.Values) (any, *apiError) {
	acct := e.account()
	name, desc, vpcID := p.Get("GroupName"), p.Get("GroupDescription"), p.Get("VpcId")
	switch {
	case name == "":
		return nil, errEC2("MissingParameter", "The request must contain the parameter groupName")
	case desc == "":
		return nil, errEC2("MissingParameter", "The request must contain the parameter groupDescription")
	case vpcID == "":
		// The account has no default VPC here.
		return nil, errEC2("VPCIdNotSpecified", "No default VPC for this user")
	case acct.vpcs[vpcID] == nil:
		return nil, errEC2("InvalidVpcID.NotFound", "The vpc ID '"+vpcID+"' does not exist")
	}
	for _, g := range acct.groups {
		if g.vpcID == vpcID && g.name == name {
			return nil, errEC2("InvalidGroup.Duplicate", "The security group '"+name+"' already exists for VPC '"+vpcID+"'")
		}
	}
	g := &securityGroup{id: "sg-" + e.randHex(17), name: name, description: desc, vpcID: vpcID}
	acct.groups[g.id] = g
	e.log.Info("created security group", "group", g.id, "vpc", vpcID)
	return struct {
		XMLName xml.Name `xml:"x"`
		Return  bool     `xml:"return"`
		GroupID string   `xml:"groupId"`
	}{Return: true, GroupID: g.id}, nil
}

func (e *Emulator) ec2DescribeSecurityGroups(_ time.Time, p url.Values) (any, *apiError) {
	acct := e.account()
	ids := queryList(p, "GroupId")
	for _, id := range ids {
		if !ec2GroupIDRE().MatchString(id) {
			return nil, errEC2("InvalidGroupId.Malformed", "Invalid id: \""+id+"\" (expecting \"sg-...\")")
		}
		if acct.groups[id] == nil {
			return nil, errEC2("InvalidGroup.NotFound", "The security group '"+id+"' does not exist")
		}
	}
	filters := queryFilters(p)
	for name := range filters {
		if name != "vpc-id" && name != "group-id" {
			return nil, errEC2("InvalidParameterValue", "The filter '"+name+"' is invalid")
		}
	}
	var out []ec2GroupXML
	for _, id := range sortedKeys(acct.groups) {
		g := acct.groups[id]
		if (len(ids) > 0 && !slices.Contains(ids, id)) ||
			(filters["vpc-id"] != nil && !slices.Contains(filters["vpc-id"], g.vpcID)) ||
			(filters["group-id"] != nil && !slices.Contains(filters["group-id"], id)) {
			continue
		}
		out = append(out, ec2GroupXML{OwnerID: e.opts.AccountID, GroupID: g.id, GroupName: g.name, Description: g.description, VpcID: g.vpcID})
	}
	return struct {
		XMLName xml.Name      `xml:"x"`
		Groups  []ec2GroupXML `xml:"securityGroupInfo>item"`
	}{Groups: out}, nil
}
