package sftpserver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// sftpServerOptions are the flags of sftp-server.
type sftpServerOptions struct {
	root string
}

// AddFlags registers sftp-server's flags.
func (o *sftpServerOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.root, "root", "", "directory served as the SFTP root; nothing outside it, and no symlink anywhere below it, is ever followed (required)")
}

// NewCommand is the far end of an sftp:// location: copy-home runs it on the SFTP
// host over SSH (`ssh host migrator sftp-server --root DIR`, or
// `migrator-copy-home sftp-server`), as rsync runs itself, and speaks SFTP with it
// on stdin/stdout. invocation is how it is run, as its examples show it. Hidden:
// people do not run it.
func NewCommand(g *cli.Globals, invocation string) *cobra.Command {
	opts := &sftpServerOptions{}
	cmd := &cobra.Command{
		Use:   "sftp-server --root DIR",
		Short: "Serve SFTP on stdin/stdout below DIR, never following a symlink (run by copy-home over SSH)",
		Long: `Serve SFTP v3 on stdin and stdout, rooted at DIR, for a copy-home running on another
machine: it runs this command on the SFTP host over SSH. Every name is resolved with
openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), so a directory swapped for a symlink while
a copy runs is refused, never followed. Logs go to stderr.`,
		Example: fmt.Sprintf("  %[1]s --root /mnt/efs   # what copy-home runs on the host, over SSH\n"+
			"  # install it there first: scp ./%[2]s root@host:/usr/local/bin/%[2]s", invocation, strings.Fields(invocation)[0]),
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSFTPServer(g, opts, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runSFTPServer(g *cli.Globals, opts *sftpServerOptions, in io.Reader, out io.Writer) error {
	if opts.root == "" {
		return cli.WithExit(cli.ExitUsage, errors.New("--root is required"))
	}
	l, err := efs.NewLocal(opts.root)
	if err != nil {
		return err
	}
	defer l.Close()
	g.Log.Debug("sftp-server serving", "root", l.Root(), "pid", os.Getpid())
	return efs.ServeSFTP(stdio{in, out}, l)
}

// stdio joins stdin and stdout into the stream pkg/sftp's server wants.
type stdio struct {
	io.Reader
	io.Writer
}

func (s stdio) Close() error {
	if c, ok := s.Writer.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
