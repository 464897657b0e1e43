package studio

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadUserMapping reads the user-mapping file that switching a domain from IAM to
// IAM Identity Center needs: which Identity Center user (SingleSignOnUserValue) each
// user profile belongs to. The format is CSV with two columns, one profile per line:
//
//	# comment lines and blank lines are ignored
//	profile,ssoUserName
//	alice,alice@example.com
//	bob,bob.smith
//
// The header line is optional. Fields are trimmed. A line with another number of
// columns, an empty field, or a profile given twice is an error naming the file and
// the line. name is the file name used in those errors. A UTF-8 byte order mark at
// the start (spreadsheet programs write one when saving "CSV UTF-8") is skipped.
func ReadUserMapping(r io.Reader, name string) (map[string]string, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(len(utf8BOM)); err == nil && string(b) == utf8BOM {
		_, _ = br.Discard(len(utf8BOM))
	}
	cr := csv.NewReader(br)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // checked below, with a message that says what is expected
	cr.TrimLeadingSpace = true
	out := map[string]string{}
	lineOf := map[string]int{}
	first := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("user mapping %s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != 2 {
			return nil, fmt.Errorf("user mapping %s line %d: want 2 columns (profile,ssoUserName), got %d", name, line, len(rec))
		}
		profile, user := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if first && strings.EqualFold(profile, "profile") && strings.EqualFold(user, "ssoUserName") {
			first = false
			continue
		}
		first = false
		switch {
		case profile == "":
			return nil, fmt.Errorf("user mapping %s line %d: the profile name is empty", name, line)
		case user == "":
			return nil, fmt.Errorf("user mapping %s line %d: no Identity Center user name for profile %q", name, line, profile)
		}
		if prev, ok := lineOf[profile]; ok {
			return nil, fmt.Errorf("user mapping %s line %d: profile %q is already mapped on line %d", name, line, profile, prev)
		}
		lineOf[profile] = line
		out[profile] = user
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("user mapping %s: no profile,ssoUserName lines", name)
	}
	return out, nil
}

const utf8BOM = "\uFEFF"

// ReadUserMappingFile is ReadUserMapping on a file.
func ReadUserMappingFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading user mapping: %w", err)
	}
	defer f.Close()
	return ReadUserMapping(f, path)
}
