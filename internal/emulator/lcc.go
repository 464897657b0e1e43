package emulator

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

var lccAppTypes = []string{"JupyterServer", "KernelGateway", "CodeEditor", "JupyterLab"}

type lccReq struct {
	StudioLifecycleConfigName    *string
	StudioLifecycleConfigContent *string
	StudioLifecycleConfigAppType string
	Tags                         []tagIn
}

func (e *Emulator) createStudioLCC(now time.Time, body []byte) (any, *apiError) {
	var req lccReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.name("StudioLifecycleConfigName", req.StudioLifecycleConfigName)
	v.required("StudioLifecycleConfigContent", req.StudioLifecycleConfigContent != nil)
	v.length("StudioLifecycleConfigContent", req.StudioLifecycleConfigContent, 1, 16384)
	v.required("StudioLifecycleConfigAppType", req.StudioLifecycleConfigAppType != "")
	v.enum("StudioLifecycleConfigAppType", req.StudioLifecycleConfigAppType, lccAppTypes...)
	v.tags("Tags", req.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	// The content is the script, base64-encoded.
	if _, err := base64.StdEncoding.DecodeString(*req.StudioLifecycleConfigContent); err != nil {
		return nil, errValidation("StudioLifecycleConfigContent must be base64 encoded: %v", err)
	}
	name := *req.StudioLifecycleConfigName
	arn := e.arn("studio-lifecycle-config/" + name)
	if _, ok := e.lccs[name]; ok {
		return nil, errInUse("Studio Lifecycle Config %q already exists.", arn)
	}
	e.lccs[name] = &studioLCC{
		name: name, arn: arn, appType: req.StudioLifecycleConfigAppType,
		content: *req.StudioLifecycleConfigContent, created: now, modified: now, seq: e.nextSeq(),
	}
	e.tags[arn] = tagList(req.Tags)
	return map[string]any{"StudioLifecycleConfigArn": arn}, nil
}

func (e *Emulator) findLCC(req *lccReq) (*studioLCC, *apiError) {
	v := &validator{}
	v.required("StudioLifecycleConfigName", req.StudioLifecycleConfigName != nil)
	if err := v.err(); err != nil {
		return nil, err
	}
	l, ok := e.lccs[*req.StudioLifecycleConfigName]
	if !ok {
		return nil, errNotFound("Studio Lifecycle Config %q does not exist.", e.arn("studio-lifecycle-config/"+*req.StudioLifecycleConfigName))
	}
	return l, nil
}

func (e *Emulator) describeStudioLCC(_ time.Time, body []byte) (any, *apiError) {
	var req lccReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l, aerr := e.findLCC(&req)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{
		"StudioLifecycleConfigArn":     l.arn,
		"StudioLifecycleConfigName":    l.name,
		"StudioLifecycleConfigAppType": l.appType,
		"StudioLifecycleConfigContent": l.content,
		"CreationTime":                 ts(l.created),
		"LastModifiedTime":             ts(l.modified),
	}, nil
}

type listLCCReq struct {
	NextToken          *string
	MaxResults         *int32
	NameContains       *string
	AppTypeEquals      string
	CreationTimeBefore *epochTime
	CreationTimeAfter  *epochTime
	ModifiedTimeBefore *epochTime
	ModifiedTimeAfter  *epochTime
	SortBy             string
	SortOrder          string
}

type lccDetails struct {
	StudioLifecycleConfigArn     string     `json:"StudioLifecycleConfigArn"`
	StudioLifecycleConfigName    string     `json:"StudioLifecycleConfigName"`
	StudioLifecycleConfigAppType string     `json:"StudioLifecycleConfigAppType"`
	CreationTime                 *epochTime `json:"CreationTime,omitempty"`
	LastModifiedTime             *epochTime `json:"LastModifiedTime,omitempty"`
}

func (e *Emulator) listStudioLCCs(_ time.Time, body []byte) (any, *apiError) {
	var req listLCCReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.intRange("MaxResults", req.MaxResults, 1, maxPageSize)
	v.enum("AppTypeEquals", req.AppTypeEquals, lccAppTypes...)
	v.enum("SortBy", req.SortBy, "CreationTime", "LastModifiedTime", "Name")
	v.enum("SortOrder", req.SortOrder, "Ascending", "Descending")
	if err := v.err(); err != nil {
		return nil, err
	}
	outside := func(t time.Time, before, after *epochTime) bool {
		return (before != nil && !t.Before(time.Time(*before))) || (after != nil && !t.After(time.Time(*after)))
	}
	var items []pageItem[lccDetails]
	for _, l := range e.lccs {
		if !containsFold(l.name, req.NameContains) || (req.AppTypeEquals != "" && l.appType != req.AppTypeEquals) ||
			outside(l.created, req.CreationTimeBefore, req.CreationTimeAfter) ||
			outside(l.modified, req.ModifiedTimeBefore, req.ModifiedTimeAfter) {
			continue
		}
		key := timeKey(l.created)
		switch req.SortBy {
		case "Name":
			key = l.name
		case "LastModifiedTime":
			key = timeKey(l.modified)
		}
		items = append(items, pageItem[lccDetails]{key: key, seq: l.seq, v: lccDetails{
			StudioLifecycleConfigArn: l.arn, StudioLifecycleConfigName: l.name,
			StudioLifecycleConfigAppType: l.appType, CreationTime: ts(l.created), LastModifiedTime: ts(l.modified),
		}})
	}
	// This List sorts newest first unless told otherwise.
	page, next, aerr := paginate("ListStudioLifecycleConfigs", items, req.SortOrder != "Ascending", req.NextToken, req.MaxResults, defaultPageSize)
	if aerr != nil {
		return nil, aerr
	}
	return withNextToken(map[string]any{"StudioLifecycleConfigs": page}, next), nil
}

func (e *Emulator) deleteStudioLCC(_ time.Time, body []byte) (any, *apiError) {
	var req lccReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	l, aerr := e.findLCC(&req)
	if aerr != nil {
		return nil, aerr
	}
	// A configuration still named in a domain's, profile's or space's settings is in use.
	arn := []byte(l.arn)
	for _, d := range e.domains {
		uses := bytes.Contains(d.defaultUserSettings, arn) || bytes.Contains(d.defaultSpaceSettings, arn)
		for _, p := range d.profiles {
			uses = uses || bytes.Contains(p.settings, arn)
		}
		for _, s := range d.spaces {
			uses = uses || bytes.Contains(s.settings, arn)
		}
		if uses {
			return nil, errInUse("Studio Lifecycle Config %q is in use by domain %s.", l.arn, d.id)
		}
	}
	delete(e.lccs, l.name)
	delete(e.tags, l.arn)
	return struct{}{}, nil
}

// ---- tags ----

type tagIn struct {
	Key   *string
	Value *string
}

func (v *validator) tags(path string, tags []tagIn) {
	if len(tags) > 50 {
		v.add(path, "["+strings.Repeat("Tag, ", 3)+"...]", "Member must have length less than or equal to 50")
	}
	seen := map[string]bool{}
	for i, t := range tags {
		p := path + "." + strconv.Itoa(i+1) + ".member"
		v.required(p+".Key", t.Key != nil)
		v.required(p+".Value", t.Value != nil)
		v.length(p+".Key", t.Key, 1, 128)
		v.pattern(p+".Key", t.Key, tagRE(), tagRE().String())
		v.length(p+".Value", t.Value, 0, 256)
		v.pattern(p+".Value", t.Value, tagRE(), tagRE().String())
		if t.Key == nil {
			continue
		}
		if strings.HasPrefix(strings.ToLower(*t.Key), "aws:") {
			v.errs = append(v.errs, "Tag keys beginning with 'aws:' are reserved for system use: '"+*t.Key+"'")
		}
		if seen[*t.Key] {
			v.errs = append(v.errs, "Duplicate tag key '"+*t.Key+"'")
		}
		seen[*t.Key] = true
	}
}

func tagList(in []tagIn) []tag {
	out := make([]tag, 0, len(in))
	for _, t := range in {
		out = append(out, tag{Key: deref(t.Key), Value: deref(t.Value)})
	}
	return out
}

type tagsReq struct {
	ResourceArn *string
	Tags        []tagIn
	TagKeys     []string
	NextToken   *string
	MaxResults  *int32
}

func (e *Emulator) findTags(arn *string) ([]tag, *apiError) {
	v := &validator{}
	v.required("ResourceArn", arn != nil)
	v.length("ResourceArn", arn, 0, 256)
	v.pattern("ResourceArn", arn, anchored(`arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:.+`), `arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:.+`)
	if err := v.err(); err != nil {
		return nil, err
	}
	tags, ok := e.tags[*arn]
	if !ok {
		return nil, errNotFound("Resource %q does not exist.", *arn)
	}
	return tags, nil
}

func (e *Emulator) addTags(_ time.Time, body []byte) (any, *apiError) {
	var req tagsReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.required("Tags", req.Tags != nil)
	v.tags("Tags", req.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	tags, aerr := e.findTags(req.ResourceArn)
	if aerr != nil {
		return nil, aerr
	}
	merged := append([]tag(nil), tags...)
	for _, t := range tagList(req.Tags) {
		replaced := false
		for i := range merged {
			if merged[i].Key == t.Key {
				merged[i].Value, replaced = t.Value, true
			}
		}
		if !replaced {
			merged = append(merged, t)
		}
	}
	if len(merged) > 50 {
		return nil, errValidation("Resource %s would have %d tags; the limit is 50 tags per resource.", *req.ResourceArn, len(merged))
	}
	e.tags[*req.ResourceArn] = merged
	return map[string]any{"Tags": tagList(req.Tags)}, nil
}

func (e *Emulator) listTags(_ time.Time, body []byte) (any, *apiError) {
	var req tagsReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.intRange("MaxResults", req.MaxResults, 50, 1<<30)
	if err := v.err(); err != nil {
		return nil, err
	}
	tags, aerr := e.findTags(req.ResourceArn)
	if aerr != nil {
		return nil, aerr
	}
	items := make([]pageItem[tag], 0, len(tags))
	for i, t := range tags {
		items = append(items, pageItem[tag]{seq: uint64(i), v: t})
	}
	page, next, aerr := paginate("ListTags", items, false, req.NextToken, req.MaxResults, 50)
	if aerr != nil {
		return nil, aerr
	}
	return withNextToken(map[string]any{"Tags": page}, next), nil
}

func (e *Emulator) deleteTags(_ time.Time, body []byte) (any, *apiError) {
	var req tagsReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.required("TagKeys", req.TagKeys != nil)
	if len(req.TagKeys) > 50 {
		v.add("TagKeys", "[...]", "Member must have length less than or equal to 50")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	tags, aerr := e.findTags(req.ResourceArn)
	if aerr != nil {
		return nil, aerr
	}
	drop := map[string]bool{}
	for _, k := range req.TagKeys {
		drop[k] = true
	}
	kept := make([]tag, 0, len(tags))
	for _, t := range tags {
		if !drop[t.Key] {
			kept = append(kept, t)
		}
	}
	e.tags[*req.ResourceArn] = kept
	return struct{}{}, nil
}
