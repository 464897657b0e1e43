package cli

// The output conventions every command follows (README "Conventions"):
//   - --output/-o is always a format (text, json, table), never a file;
//   - a file to write is --out-file/-f (or a flag named for what it holds, like
//     --report), and "-" means standard output;
//   - results go to stdout, logs (slog) and progress to stderr;
//   - JSON is indented, UTF-8, with "<", ">" and "&" left as they are.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// Output formats.
const (
	FormatText  = "text"
	FormatJSON  = "json"
	FormatTable = "table"
)

// AddOutputFlag registers --output/-o, the output format, with the formats the
// command can print (the first is the default).
func AddOutputFlag(fs *pflag.FlagSet, p *string, formats ...string) {
	fs.StringVarP(p, "output", "o", formats[0], "output format: "+strings.Join(formats, " or "))
}

// CheckFormat is the usage error for an --output value the command cannot print. A
// value that looks like a file name (what -o meant in earlier versions of some
// commands) says where files go now.
func CheckFormat(value string, formats ...string) error {
	if slices.Contains(formats, value) {
		return nil
	}
	hint := ""
	if strings.ContainsAny(value, "./") || value == "-" {
		hint = fmt.Sprintf("; --output is the format: to write to a file use --out-file %s", value)
	}
	return UsageErrorf("--output %q: want %s%s", value, strings.Join(formats, " or "), hint)
}

// WriteJSON writes v as indented JSON without HTML escaping ("->" stays "->").
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// MarshalJSON is WriteJSON into a byte slice.
func MarshalJSON(v any) ([]byte, error) {
	var b strings.Builder
	if err := WriteJSON(&b, v); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// WriteOutput writes data to path: "-" or "" is stdout. A regular file (or a new
// one) is replaced atomically (temporary file beside it, renamed into place), so an
// interrupted run leaves the previous content; a symlink is written through (the
// file it points to is replaced, the link stays). Anything else (/dev/null, a FIFO,
// a terminal, bash's >(cmd)) is written in place: renaming over it would replace a
// device or a pipe with a regular file.
func WriteOutput(stdout io.Writer, path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := stdout.Write(data)
		return err
	}
	fi, err := os.Stat(path) // follows symlinks
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if lfi, lerr := os.Lstat(path); lerr == nil && lfi.Mode()&fs.ModeSymlink != 0 {
			// A dangling link: create the file it names, through it.
			return writeInPlace(path, data)
		}
		return WriteFileAtomic(path, data, 0o644)
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory", path)
	case fi.Mode().IsRegular():
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return err
		}
		return WriteFileAtomic(real, data, fi.Mode().Perm())
	default:
		return writeInPlace(path, data)
	}
}

func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it and renames
// it into place, so path never holds a partly written document.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
