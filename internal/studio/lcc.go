package studio

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
)

// ErrLCCContentDiffers is returned by InstallLCC when a lifecycle configuration of
// that name exists with another script or app type. Configurations are account-wide
// and other domains may run the existing one, so it is neither replaced nor silently
// reused: install the new script under a new name (e.g. with a version suffix).
var ErrLCCContentDiffers = errors.New("a studio lifecycle configuration of that name exists with different content")

// lccSettingsMember maps an LCC app type to its member of UserSettings.
var lccSettingsMember = map[string]string{
	"JupyterServer": "JupyterServerAppSettings",
	"KernelGateway": "KernelGatewayAppSettings",
	"JupyterLab":    "JupyterLabAppSettings",
	"CodeEditor":    "CodeEditorAppSettings",
}

// InstallLCC makes the Studio lifecycle configuration name (script content, for apps
// of appType) available to every user of the domain and runs it by default:
//
//   - CreateStudioLifecycleConfig, unless it exists with the same app type and content
//     (then it is reused; different content is ErrLCCContentDiffers);
//   - adds its ARN to DefaultUserSettings.<AppType>AppSettings.LifecycleConfigArns and,
//     when the domain names no default configuration for that app type yet, makes it
//     DefaultResourceSpec.LifecycleConfigArn, so apps started without choosing one
//     run it (the backup and restore scripts rely on that). An existing default is
//     kept, with a warning: it is the administrator's choice.
//
// Every other setting and configuration ARN of the domain is kept: the settings are
// read as the service's JSON and only that one member is sent back. The domain is
// InService when it returns. Running it again changes nothing.
func (a *Applier) InstallLCC(ctx context.Context, domainID, name, appType string, content []byte) (string, error) {
	memberName, ok := lccSettingsMember[appType]
	if !ok {
		return "", fmt.Errorf("installing lifecycle configuration %s: app type %q takes no lifecycle configuration (want JupyterServer, KernelGateway, JupyterLab or CodeEditor)", name, appType)
	}
	log := a.log().With("domain", domainID, "lcc", name, "app_type", appType)
	arn, err := a.ensureLCC(ctx, name, appType, content)
	if err != nil {
		return "", fmt.Errorf("installing lifecycle configuration %s: %w", name, err)
	}
	if err := a.waitDomainInService(ctx, a.SageMaker, domainID); err != nil {
		return "", fmt.Errorf("installing lifecycle configuration %s: %w", name, err)
	}
	var body []byte
	if _, err := findDomainByID(ctx, a.SageMaker, domainID, &body); err != nil {
		return "", fmt.Errorf("installing lifecycle configuration %s: %w", name, err)
	}
	var d struct{ DefaultUserSettings json.RawMessage }
	if err := json.Unmarshal(body, &d); err != nil {
		return "", fmt.Errorf("installing lifecycle configuration %s: reading domain %s: %w", name, domainID, err)
	}
	settings, changed, err := attachLCC(d.DefaultUserSettings, memberName, arn)
	if err != nil {
		return "", fmt.Errorf("installing lifecycle configuration %s in domain %s: %w", name, domainID, err)
	}
	if settings.defaultKept != "" {
		log.Warn("the domain already runs another lifecycle configuration by default; the new one is attached but not the default", "default", settings.defaultKept)
	}
	if !changed {
		log.Debug("lifecycle configuration already attached")
		return arn, nil
	}
	update := map[string]json.RawMessage{memberName: settings.member}
	upd, err := json.Marshal(update)
	if err != nil {
		return "", err
	}
	// Only the one member goes out: UpdateDomain keeps the members it is not sent.
	if _, err := a.SageMaker.UpdateDomain(ctx, &sagemaker.UpdateDomainInput{DomainId: aws.String(domainID)},
		withMembers(map[string]json.RawMessage{"DefaultUserSettings": upd})); err != nil {
		return "", fmt.Errorf("attaching lifecycle configuration %s to domain %s: %w", name, domainID, err)
	}
	if err := a.waitDomainInService(ctx, a.SageMaker, domainID); err != nil {
		return "", fmt.Errorf("attaching lifecycle configuration %s to domain %s: %w", name, domainID, err)
	}
	log.Info("attached lifecycle configuration to the domain", "arn", arn)
	return arn, nil
}

func (a *Applier) ensureLCC(ctx context.Context, name, appType string, content []byte) (string, error) {
	encoded := base64.StdEncoding.EncodeToString(content)
	cur, err := a.SageMaker.DescribeStudioLifecycleConfig(ctx, &sagemaker.DescribeStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String(name)})
	switch {
	case isNotFound(err):
	case err != nil:
		return "", fmt.Errorf("describing studio lifecycle configuration %s: %w", name, err)
	default:
		existing, decErr := base64.StdEncoding.DecodeString(aws.ToString(cur.StudioLifecycleConfigContent))
		if decErr != nil || !bytes.Equal(existing, content) || string(cur.StudioLifecycleConfigAppType) != appType {
			return "", fmt.Errorf("%s (app type %s): %w", aws.ToString(cur.StudioLifecycleConfigArn), cur.StudioLifecycleConfigAppType, ErrLCCContentDiffers)
		}
		return aws.ToString(cur.StudioLifecycleConfigArn), nil
	}
	in := &sagemaker.CreateStudioLifecycleConfigInput{
		StudioLifecycleConfigName:    aws.String(name),
		StudioLifecycleConfigAppType: smtypes.StudioLifecycleConfigAppType(appType),
		StudioLifecycleConfigContent: aws.String(encoded),
	}
	if a.JobID != "" {
		in.Tags = a.jobTags(nil)
	}
	var arn string
	err = a.create(ctx, func(ctx context.Context, observe func(*sagemaker.Options)) error {
		out, err := a.SageMaker.CreateStudioLifecycleConfig(ctx, in, observe)
		if err != nil {
			return err
		}
		arn = aws.ToString(out.StudioLifecycleConfigArn)
		return nil
	})
	if errorCode(err) == "ResourceInUse" {
		// Created concurrently (or by a retried attempt): check it is the same script.
		return a.ensureLCC(ctx, name, appType, content)
	}
	if err != nil {
		return "", fmt.Errorf("creating studio lifecycle configuration %s: %w", name, err)
	}
	return arn, nil
}

type attached struct {
	member      json.RawMessage // the whole <AppType>AppSettings member to send
	defaultKept string          // another default LCC the domain already had
}

// attachLCC adds arn to <member>.LifecycleConfigArns and, if unset, to
// <member>.DefaultResourceSpec.LifecycleConfigArn, keeping every other key as it was.
func attachLCC(userSettings json.RawMessage, member, arn string) (attached, bool, error) {
	us := map[string]json.RawMessage{}
	if !isEmptyJSON(userSettings) {
		if err := json.Unmarshal(userSettings, &us); err != nil {
			return attached{}, false, fmt.Errorf("DefaultUserSettings is not a JSON object: %w", err)
		}
	}
	app := map[string]json.RawMessage{}
	if raw := us[member]; !isEmptyJSON(raw) {
		if err := json.Unmarshal(raw, &app); err != nil {
			return attached{}, false, fmt.Errorf("DefaultUserSettings.%s is not a JSON object: %w", member, err)
		}
	}
	changed := false
	var arns []string
	if raw := app["LifecycleConfigArns"]; len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if err := json.Unmarshal(raw, &arns); err != nil {
			return attached{}, false, fmt.Errorf("DefaultUserSettings.%s.LifecycleConfigArns: %w", member, err)
		}
	}
	if !slices.Contains(arns, arn) {
		arns = append(arns, arn)
		b, _ := json.Marshal(arns)
		app["LifecycleConfigArns"] = b
		changed = true
	}
	spec := map[string]json.RawMessage{}
	if raw := app["DefaultResourceSpec"]; !isEmptyJSON(raw) {
		if err := json.Unmarshal(raw, &spec); err != nil {
			return attached{}, false, fmt.Errorf("DefaultUserSettings.%s.DefaultResourceSpec: %w", member, err)
		}
	}
	var res attached
	var cur string
	if raw := spec["LifecycleConfigArn"]; len(raw) > 0 {
		_ = json.Unmarshal(raw, &cur)
	}
	switch cur {
	case arn:
	case "":
		b, _ := json.Marshal(arn)
		spec["LifecycleConfigArn"] = b
		sb, _ := json.Marshal(spec)
		app["DefaultResourceSpec"] = sb
		changed = true
	default:
		res.defaultKept = cur
	}
	out, err := json.Marshal(app)
	if err != nil {
		return attached{}, false, err
	}
	res.member = out
	return res, changed, nil
}

// RestartApp deletes an app and creates it again with the same type, name, resource
// spec (instance type, image, lifecycle configuration) and tags, waiting for each
// change: running apps pick up new lifecycle configurations, and trusted identity
// propagation, only when they start. Resumable: an app found Deleted or Failed (a
// crash between delete and create) is just created again. An app never seen is an
// error wrapping ErrNotFound.
func (a *Applier) RestartApp(ctx context.Context, domainID string, owner AppOwner, appType, appName string) error {
	if err := owner.valid(); err != nil {
		return fmt.Errorf("restarting app %s/%s: %w", appType, appName, err)
	}
	res := appLabel(domainID, owner, appType, appName)
	log := a.log().With("domain", domainID, "owner", owner.String(), "app", appName, "app_type", appType)
	var body []byte
	cur, err := findAppByName(ctx, a.SageMaker, domainID, owner, appType, appName, &body)
	if err != nil {
		return fmt.Errorf("restarting %s: %w", res, err)
	}
	resourceSpec := json.RawMessage(rawMember(body, "ResourceSpec"))
	tags, err := a.appTags(ctx, aws.ToString(cur.AppArn))
	if err != nil {
		return fmt.Errorf("restarting %s: %w", res, err)
	}
	switch cur.Status {
	case smtypes.AppStatusPending:
		if err := a.waitAppInService(ctx, a.SageMaker, domainID, owner, appType, appName); err != nil {
			return fmt.Errorf("restarting %s: %w", res, err)
		}
		fallthrough
	case smtypes.AppStatusInService:
		in := &sagemaker.DeleteAppInput{DomainId: aws.String(domainID), AppType: smtypes.AppType(appType), AppName: aws.String(appName)}
		if owner.UserProfileName != "" {
			in.UserProfileName = aws.String(owner.UserProfileName)
		} else {
			in.SpaceName = aws.String(owner.SpaceName)
		}
		if _, err := a.SageMaker.DeleteApp(ctx, in); err != nil && !isNotFound(err) {
			return fmt.Errorf("restarting %s: deleting it: %w", res, err)
		}
		log.Info("deleting app to restart it")
		fallthrough
	case smtypes.AppStatusDeleting:
		if err := a.waitAppDeleted(ctx, a.SageMaker, domainID, owner, appType, appName); err != nil {
			return fmt.Errorf("restarting %s: %w", res, err)
		}
	}
	in := &sagemaker.CreateAppInput{
		DomainId: aws.String(domainID), AppType: smtypes.AppType(appType), AppName: aws.String(appName), Tags: tags,
	}
	if owner.UserProfileName != "" {
		in.UserProfileName = aws.String(owner.UserProfileName)
	} else {
		in.SpaceName = aws.String(owner.SpaceName)
	}
	err = a.create(ctx, func(ctx context.Context, observe func(*sagemaker.Options)) error {
		_, err := a.SageMaker.CreateApp(ctx, in, withMembers(map[string]json.RawMessage{"ResourceSpec": resourceSpec}), observe)
		return err
	})
	if errorCode(err) == "ResourceInUse" {
		// An SDK retry of a create whose first attempt succeeded (or the user started
		// it meanwhile): either way a new app, started after the change. Whether it
		// exists is asked of Describe, never read from the message.
		if cur, ferr := findAppByName(ctx, a.SageMaker, domainID, owner, appType, appName, nil); ferr == nil &&
			(cur.Status == smtypes.AppStatusPending || cur.Status == smtypes.AppStatusInService) {
			log.Info("app appeared while creating it")
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("restarting %s: creating it: %w", res, err)
	}
	if err := a.waitAppInService(ctx, a.SageMaker, domainID, owner, appType, appName); err != nil {
		return fmt.Errorf("restarting %s: %w", res, err)
	}
	log.Info("restarted app")
	return nil
}

// appTags returns an app's tags for its re-creation, plus the job tag.
func (a *Applier) appTags(ctx context.Context, arn string) ([]smtypes.Tag, error) {
	var tags []Tag
	pg := sagemaker.NewListTagsPaginator(a.SageMaker, &sagemaker.ListTagsInput{ResourceArn: aws.String(arn)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if isNotFound(err) {
			break // a Deleted app's tags may be gone
		}
		if err != nil {
			return nil, fmt.Errorf("listing the tags of %s: %w", arn, err)
		}
		for _, t := range page.Tags {
			tags = append(tags, Tag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
		}
	}
	if a.JobID == "" {
		out := make([]smtypes.Tag, 0, len(tags))
		for _, t := range tags {
			out = append(out, smtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
		}
		return out, nil
	}
	return a.jobTags(tags), nil
}

// rawMember returns one top-level member of a JSON object, or nil.
func rawMember(body []byte, key string) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	return m[key]
}
