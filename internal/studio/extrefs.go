package studio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Kinds of ExternalRef: settings members that name resources outside the domain,
// which must exist in the target account and region (and, for file systems, be
// reachable from the new VPC) before the domain can use them.
const (
	RefLifecycleConfig = "lifecycle-config" // Studio lifecycle configuration ARN
	RefImage           = "image"            // SageMaker image name (CustomImages)
	RefAppImageConfig  = "app-image-config" // app image config name (CustomImages)
	RefEFS             = "efs"              // EFS file system ID (CustomFileSystemConfigs, CustomFileSystems)
	RefFSxLustre       = "fsx-lustre"       // FSx for Lustre file system ID
	RefS3              = "s3"               // S3 URI of an S3 file system
	RefExecutionRole   = "execution-role"   // a role SageMaker assumes for apps and spaces
	RefIAMRole         = "iam-role"         // another role a setting names (Canvas, EMR, ...)
	RefUnifiedStudio   = "unified-studio"   // UnifiedStudioSettings (an Amazon DataZone domain / project)
	RefDualStack       = "dualstack"        // IpAddressType dualstack: the subnets need IPv6
)

// ExternalRef is one resource outside the domain that the new domain's settings name,
// with every place that names it ("domain DefaultUserSettings.JupyterLabAppSettings
// .LifecycleConfigArns", "user-profile/alice UserSettings.ExecutionRole").
type ExternalRef struct {
	Kind   string   `json:"kind"`
	ID     string   `json:"id"`
	UsedIn []string `json:"usedIn"`
}

// refCollector gathers ExternalRefs by kind and ID.
type refCollector struct {
	refs map[[2]string]*ExternalRef
}

func (c *refCollector) add(kind, id, usedIn string) {
	if id == "" {
		return
	}
	if c.refs == nil {
		c.refs = map[[2]string]*ExternalRef{}
	}
	k := [2]string{kind, id}
	r := c.refs[k]
	if r == nil {
		r = &ExternalRef{Kind: kind, ID: id}
		c.refs[k] = r
	}
	if !slices.Contains(r.UsedIn, usedIn) {
		r.UsedIn = append(r.UsedIn, usedIn)
	}
}

// list returns the references sorted by kind and ID, each UsedIn sorted.
func (c *refCollector) list() []ExternalRef {
	out := make([]ExternalRef, 0, len(c.refs))
	for _, r := range c.refs {
		slices.Sort(r.UsedIn)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b ExternalRef) int {
		if a.Kind != b.Kind {
			return strings.Compare(a.Kind, b.Kind)
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// settings walks one settings object (wire JSON) of owner ("domain",
// "user-profile/alice") named member ("DefaultUserSettings") and records every
// member that names something outside the domain.
func (c *refCollector) settings(owner, member string, raw json.RawMessage) {
	if isEmptyJSON(raw) {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return
	}
	c.walk(owner, member, "", v)
}

func (c *refCollector) walk(owner, path, key string, v any) {
	where := owner + " " + path
	switch x := v.(type) {
	case map[string]any:
		switch key {
		case "CustomImages":
			c.add(RefImage, str(x["ImageName"]), where)
			c.add(RefAppImageConfig, str(x["AppImageConfigName"]), where)
		case "EFSFileSystemConfig", "EFSFileSystem":
			c.add(RefEFS, str(x["FileSystemId"]), where)
		case "FSxLustreFileSystemConfig", "FSxLustreFileSystem":
			c.add(RefFSxLustre, str(x["FileSystemId"]), where)
		case "S3FileSystemConfig", "S3FileSystem":
			c.add(RefS3, str(x["S3Uri"]), where)
		case "UnifiedStudioSettings":
			if str(x["Status"]) != "DISABLED" {
				id := str(x["DomainId"])
				if p := str(x["ProjectId"]); p != "" {
					id += "/" + p
				}
				c.add(RefUnifiedStudio, id, where)
			}
		}
		for _, k := range sortedKeys(x) {
			c.walk(owner, path+"."+k, k, x[k])
		}
	case []any:
		for _, e := range x {
			// A list element keeps its list's key: CustomImages[i] is a CustomImage.
			c.walk(owner, path, key, e)
		}
	case string:
		switch {
		case key == "LifecycleConfigArns" || key == "LifecycleConfigArn":
			c.add(RefLifecycleConfig, x, where)
		case key == "ExecutionRole" || key == "DomainExecutionRoleArn":
			c.add(RefExecutionRole, x, where)
		case strings.HasSuffix(key, "RoleArn") && strings.Contains(x, ":iam::"):
			c.add(RefIAMRole, x, where)
		case key == "IpAddressType" && strings.EqualFold(x, "dualstack"):
			c.add(RefDualStack, "dualstack", where)
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// planExternalRefs lists what the plan's settings name outside the domain.
func planExternalRefs(p *Plan) []ExternalRef {
	var c refCollector
	d := p.Domain
	c.settings(resourceDomain, "DefaultUserSettings", d.DefaultUserSettings)
	c.settings(resourceDomain, "DefaultSpaceSettings", d.DefaultSpaceSettings)
	c.settings(resourceDomain, "DomainSettings", d.DomainSettings)
	for _, pr := range p.UserProfiles {
		c.settings(profileResource(pr.Name), "UserSettings", pr.UserSettings)
	}
	for _, sp := range p.Spaces {
		c.settings(spaceResource(sp.Name), "SpaceSettings", sp.SpaceSettings)
	}
	return c.list()
}

// snapshotLCCArns returns every lifecycle configuration ARN the snapshot's settings
// name, sorted.
func snapshotLCCArns(s *Snapshot) []string {
	var c refCollector
	d := s.Domain
	c.settings(resourceDomain, "DefaultUserSettings", d.DefaultUserSettings)
	c.settings(resourceDomain, "DefaultSpaceSettings", d.DefaultSpaceSettings)
	c.settings(resourceDomain, "DomainSettings", d.DomainSettings)
	for _, p := range s.UserProfiles {
		c.settings(profileResource(p.Name), "UserSettings", p.UserSettings)
	}
	for _, sp := range s.Spaces {
		c.settings(spaceResource(sp.Name), "SpaceSettings", sp.SpaceSettings)
	}
	var arns []string
	for _, r := range c.list() {
		if r.Kind == RefLifecycleConfig {
			arns = append(arns, r.ID)
		}
	}
	return arns
}

// replaceStringValues returns raw with every JSON string value found in m replaced by
// m's value, keys untouched, as canonical JSON.
func replaceStringValues(raw json.RawMessage, m map[string]string) (json.RawMessage, error) {
	if isEmptyJSON(raw) || len(m) == 0 {
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var rep func(any) any
	rep = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = rep(e)
			}
		case []any:
			for i, e := range x {
				x[i] = rep(e)
			}
		case string:
			if n, ok := m[x]; ok {
				return n
			}
		}
		return v
	}
	return json.Marshal(rep(v))
}

// externalRefProblems warns about references a rebuild cannot carry over by itself.
// Whether each exists in the target is Preflight's job; these are the facts a plan
// can state without calling AWS.
func (b *planBuilder) externalRefProblems() {
	newVPC := b.p.Domain.VpcID != b.s.Domain.VpcID
	for _, r := range b.p.ExternalReferences {
		where := r.UsedIn[0]
		if len(r.UsedIn) > 1 {
			where += fmt.Sprintf(" and %d more", len(r.UsedIn)-1)
		}
		switch r.Kind {
		case RefEFS, RefFSxLustre:
			if newVPC {
				b.warnf(resourceDomain, "file system %s (used in %s) must have mount targets in the subnets of the new VPC %s, or apps cannot mount it: create them (aws efs create-mount-target / FSx in that VPC) before applying", r.ID, where, b.p.Domain.VpcID)
			}
		case RefUnifiedStudio:
			b.warnf(resourceDomain, "UnifiedStudioSettings (used in %s) names Amazon DataZone domain/project %s: it must exist in the target account and region and allow the new domain; the preflight does not check it", where, r.ID)
		}
	}
	if len(b.p.LifecycleConfigs) == 0 {
		for _, r := range b.p.ExternalReferences {
			if r.Kind == RefLifecycleConfig && !strings.Contains(r.ID, ":aws:sagemaker:"+b.opts.Region+":") {
				b.warnf(resourceDomain, "lifecycle configuration %s is in another region than the new domain, and the snapshot holds no content to recreate it: take a new snapshot (it stores lifecycle configurations) or create it in %s", r.ID, b.opts.Region)
			}
		}
	}
}
