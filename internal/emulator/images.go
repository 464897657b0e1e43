package emulator

import (
	"encoding/json"
	"time"
)

// Custom images and app image configs that settings' CustomImages name: create and
// describe, enough for a rehearsal world and the preflight. Image versions are not
// modelled.

func init() {
	sagemakerOps["CreateImage"] = (*Emulator).createImage
	sagemakerOps["DescribeImage"] = (*Emulator).describeImage
	sagemakerOps["CreateAppImageConfig"] = (*Emulator).createAppImageConfig
	sagemakerOps["DescribeAppImageConfig"] = (*Emulator).describeAppImageConfig
}

type image struct {
	name, arn, roleArn, displayName, description string
	created                                      time.Time
}

type appImageConfig struct {
	name, arn string
	configs   map[string]json.RawMessage
	created   time.Time
}

type imageReq struct {
	ImageName          *string
	AppImageConfigName *string
	RoleArn            *string
	DisplayName        *string
	Description        *string
	Tags               []tagIn

	KernelGatewayImageConfig json.RawMessage
	JupyterLabAppImageConfig json.RawMessage
	CodeEditorAppImageConfig json.RawMessage
}

func (e *Emulator) createImage(now time.Time, body []byte) (any, *apiError) {
	var req imageReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.name("ImageName", req.ImageName)
	v.required("RoleArn", req.RoleArn != nil)
	v.pattern("RoleArn", req.RoleArn, roleRE(), roleRE().String())
	v.tags("Tags", req.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	if e.images == nil {
		e.images = map[string]*image{}
	}
	arn := e.arn("image/" + *req.ImageName)
	if _, ok := e.images[*req.ImageName]; ok {
		return nil, errInUse("Image %q already exists.", arn)
	}
	e.images[*req.ImageName] = &image{name: *req.ImageName, arn: arn, roleArn: *req.RoleArn, displayName: deref(req.DisplayName), description: deref(req.Description), created: now}
	e.tags[arn] = tagList(req.Tags)
	return map[string]any{"ImageArn": arn}, nil
}

func (e *Emulator) describeImage(_ time.Time, body []byte) (any, *apiError) {
	var req imageReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.name("ImageName", req.ImageName)
	if err := v.err(); err != nil {
		return nil, err
	}
	im, ok := e.images[*req.ImageName]
	if !ok {
		return nil, errNotFound("Image %q does not exist.", e.arn("image/"+*req.ImageName))
	}
	out := map[string]any{
		"ImageArn": im.arn, "ImageName": im.name, "ImageStatus": "CREATED", "RoleArn": im.roleArn,
		"CreationTime": ts(im.created), "LastModifiedTime": ts(im.created),
	}
	if im.displayName != "" {
		out["DisplayName"] = im.displayName
	}
	if im.description != "" {
		out["Description"] = im.description
	}
	return out, nil
}

func (e *Emulator) createAppImageConfig(now time.Time, body []byte) (any, *apiError) {
	var req imageReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.name("AppImageConfigName", req.AppImageConfigName)
	v.tags("Tags", req.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	if e.appImageConfigs == nil {
		e.appImageConfigs = map[string]*appImageConfig{}
	}
	arn := e.arn("app-image-config/" + *req.AppImageConfigName)
	if _, ok := e.appImageConfigs[*req.AppImageConfigName]; ok {
		return nil, errInUse("AppImageConfig %q already exists.", arn)
	}
	c := &appImageConfig{name: *req.AppImageConfigName, arn: arn, created: now, configs: map[string]json.RawMessage{}}
	for k, raw := range map[string]json.RawMessage{"KernelGatewayImageConfig": req.KernelGatewayImageConfig, "JupyterLabAppImageConfig": req.JupyterLabAppImageConfig, "CodeEditorAppImageConfig": req.CodeEditorAppImageConfig} {
		if len(raw) > 0 {
			c.configs[k] = raw
		}
	}
	e.appImageConfigs[c.name] = c
	e.tags[arn] = tagList(req.Tags)
	return map[string]any{"AppImageConfigArn": arn}, nil
}

func (e *Emulator) describeAppImageConfig(_ time.Time, body []byte) (any, *apiError) {
	var req imageReq
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	v := &validator{}
	v.name("AppImageConfigName", req.AppImageConfigName)
	if err := v.err(); err != nil {
		return nil, err
	}
	c, ok := e.appImageConfigs[*req.AppImageConfigName]
	if !ok {
		return nil, errNotFound("AppImageConfig %q does not exist.", e.arn("app-image-config/"+*req.AppImageConfigName))
	}
	out := map[string]any{"AppImageConfigArn": c.arn, "AppImageConfigName": c.name, "CreationTime": ts(c.created), "LastModifiedTime": ts(c.created)}
	for k, raw := range c.configs {
		out[k] = raw
	}
	return out, nil
}
