package studio

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
)

// Where a home directory lives.
//
// In current Studio, JupyterLab and Code Editor spaces keep their home on an EBS
// volume of their own (SpaceSettings.SpaceStorageSettings.EbsStorageSettings), which
// only a running app mounts and which is deleted with the space. User profiles and
// Studio Classic spaces (JupyterServer, KernelGateway, no app type) keep theirs on the
// domain's EFS, /<HomeEfsFileSystemUid>.
const (
	StorageEFS = "efs"
	StorageEBS = "ebs"
)

// HomeStorageOfAppType is StorageEBS for the app types whose spaces live on EBS.
func HomeStorageOfAppType(appType string) string {
	switch appType {
	case "JupyterLab", "CodeEditor":
		return StorageEBS
	}
	return StorageEFS
}

// HomeStorage says where a space's home lives: StorageEBS or StorageEFS.
func HomeStorage(s Space) string { return HomeStorageOfAppType(s.AppType) }

// BackupChecker tells whether a space's EBS home has a completed backup (the S3
// backup the lifecycle configuration writes), so deleting the space, which deletes
// its volume, loses nothing. Implementations read the backup store; Cleanup asks it
// before it deletes anything.
type BackupChecker interface {
	// HasCompletedBackup reports whether the home of space in domainID has a
	// completed backup; an error means it could not be told.
	HasCompletedBackup(ctx context.Context, domainID, space string) (bool, error)
}

// ErrEBSHomeNotBackedUp is returned by Cleanup when a space's EBS home has no
// completed backup and CleanupOptions.Force is off.
var ErrEBSHomeNotBackedUp = errors.New("EBS home without a completed backup")

// checkEBSBackups refuses a cleanup that would delete an EBS home nobody has backed
// up: it lists the domain's JupyterLab and Code Editor spaces and asks o.Backups
// about each (none known when o.Backups is nil).
func (a *Applier) checkEBSBackups(ctx context.Context, domainID string, o CleanupOptions) error {
	var ebs []string
	pg := sagemaker.NewListSpacesPaginator(a.SageMaker, &sagemaker.ListSpacesInput{DomainIdEquals: aws.String(domainID), MaxResults: aws.Int32(100)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing spaces: %w", err)
		}
		for _, s := range page.Spaces {
			if s.SpaceSettingsSummary != nil && HomeStorageOfAppType(string(s.SpaceSettingsSummary.AppType)) == StorageEBS {
				ebs = append(ebs, aws.ToString(s.SpaceName))
			}
		}
	}
	var missing []string
	for _, name := range ebs {
		ok := false
		if o.Backups != nil {
			var err error
			if ok, err = o.Backups.HasCompletedBackup(ctx, domainID, name); err != nil {
				return fmt.Errorf("checking the backup of space %s: %w", name, err)
			}
		}
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	if o.Force {
		a.log().Warn("deleting spaces whose EBS home has no completed backup (forced)", "domain", domainID, "spaces", missing)
		return nil
	}
	return fmt.Errorf("%w: deleting spaces %s would delete their EBS volumes, and no completed backup of them is known; back them up to S3 first (the backup lifecycle configuration), or force the cleanup to lose them", ErrEBSHomeNotBackedUp, strings.Join(missing, ", "))
}
