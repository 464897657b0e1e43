// Package svcmodel reads the SageMaker service model (botocore's service-2.json) and
// trims it to what request validation needs. The emulator embeds the trimmed copy and
// validates every request against it; cmd modelgen writes it; the emulator's tests
// check it against the model file installed on the machine.
package svcmodel

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Ref points at a shape, as botocore writes member references.
type Ref struct {
	Shape string `json:"shape"`
}

// Shape is a botocore shape with only the members validation uses. Min and Max are
// lengths for strings, lists and maps and values for numbers.
type Shape struct {
	Type     string         `json:"type"`
	Required []string       `json:"required,omitempty"`
	Members  map[string]Ref `json:"members,omitempty"`
	Member   *Ref           `json:"member,omitempty"`
	Key      *Ref           `json:"key,omitempty"`
	Value    *Ref           `json:"value,omitempty"`
	Min      *float64       `json:"min,omitempty"`
	Max      *float64       `json:"max,omitempty"`
	Pattern  string         `json:"pattern,omitempty"`
	Enum     []string       `json:"enum,omitempty"`
}

// Source says which model file a trimmed model was made from.
type Source struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"` // of the uncompressed JSON
	Shapes int    `json:"shapes"` // how many shapes the whole model has
}

// Model is the trimmed model: the input shape of each served operation and every
// shape reachable from them.
type Model struct {
	Source     Source            `json:"source"`
	Additions  []string          `json:"additions,omitempty"` // members added beyond the model file, and why
	Operations map[string]string `json:"operations"`          // operation -> input shape
	Shapes     map[string]*Shape `json:"shapes"`
}

// Operations are the SageMaker operations the emulator serves; the emulator's tests
// check this list against its router.
var Operations = []string{
	"AddTags", "CreateApp", "CreateAppImageConfig", "CreateDomain", "CreateImage", "CreateSpace", "CreateStudioLifecycleConfig",
	"CreateUserProfile", "DeleteApp", "DeleteDomain", "DeleteSpace",
	"DeleteStudioLifecycleConfig", "DeleteTags", "DeleteUserProfile", "DescribeApp",
	"DescribeAppImageConfig", "DescribeDomain", "DescribeImage", "DescribeSpace", "DescribeStudioLifecycleConfig",
	"DescribeUserProfile", "ListApps", "ListDomains", "ListSpaces",
	"ListStudioLifecycleConfigs", "ListTags", "ListUserProfiles", "UpdateDomain",
	"UpdateSpace", "UpdateUserProfile",
}

// Addition is a member that the pinned aws-sdk-go-v2 sagemaker module (v1.287.0)
// sends but that the installed model files predate.
type addition struct {
	shape, member, target string
	def                   Shape
	why                   string
}

var additions = []addition{
	{"CreateDomainRequest", "HomeEfsFileSystemCreation", "HomeEfsFileSystemCreation",
		Shape{Type: "string", Enum: []string{"Enabled", "Disabled"}},
		"CreateDomainRequest.HomeEfsFileSystemCreation: in aws-sdk-go-v2 service/sagemaker v1.287.0 (types.HomeEfsFileSystemCreation), newer than the model file"},
	{"UpdateDomainRequest", "HomeEfsFileSystemCreation", "HomeEfsFileSystemCreation",
		Shape{Type: "string", Enum: []string{"Enabled", "Disabled"}},
		"UpdateDomainRequest.HomeEfsFileSystemCreation: in aws-sdk-go-v2 service/sagemaker v1.287.0 (types.HomeEfsFileSystemCreation), newer than the model file"},
}

// modelGlobs are where Debian's awscli package and pip's botocore install the model.
var modelGlobs = []string{
	"/usr/lib/python3/dist-packages/awscli/botocore/data/sagemaker/*/service-2.json",
	"/usr/lib/python3/dist-packages/botocore/data/sagemaker/*/service-2.json*",
	"/root/.pyenv/versions/*/lib/python3*/site-packages/botocore/data/sagemaker/*/service-2.json*",
	"/usr/local/lib/python3*/dist-packages/botocore/data/sagemaker/*/service-2.json*",
	"/usr/local/lib/python3*/site-packages/botocore/data/sagemaker/*/service-2.json*",
}

// InstalledModels returns the SageMaker model files on this machine, the newest (the
// one with the most shapes) first.
func InstalledModels() []string {
	type cand struct {
		path   string
		shapes int
	}
	var cs []cand
	for _, g := range modelGlobs {
		ms, _ := filepath.Glob(g)
		for _, p := range ms {
			raw, err := ReadFile(p)
			if err != nil {
				continue
			}
			var m struct{ Shapes map[string]json.RawMessage }
			if json.Unmarshal(raw, &m) == nil && len(m.Shapes) > 0 {
				cs = append(cs, cand{p, len(m.Shapes)})
			}
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].shapes > cs[j].shapes })
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.path
	}
	return out
}

// ReadFile reads a model file, gunzipping a .gz one.
func ReadFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the service model %s: %w", path, err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("opening the compressed service model %s: %w", path, err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("decompressing the service model %s: %w", path, err)
		}
	}
	return raw, nil
}

// SHA256 is the hex digest of an (uncompressed) model file.
func SHA256(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

type fullModel struct {
	Operations map[string]struct {
		Input *Ref `json:"input"`
	} `json:"operations"`
	Shapes map[string]*Shape `json:"shapes"`
}

// Trim builds the trimmed model of the served operations from a whole model file.
func Trim(raw []byte, file string) (*Model, error) {
	var full fullModel
	if err := json.Unmarshal(raw, &full); err != nil {
		return nil, fmt.Errorf("reading the service model %s: %w", file, err)
	}
	m := &Model{
		Source:     Source{File: file, SHA256: SHA256(raw), Shapes: len(full.Shapes)},
		Operations: map[string]string{},
		Shapes:     map[string]*Shape{},
	}
	var walk func(name string) error
	walk = func(name string) error {
		if _, ok := m.Shapes[name]; ok {
			return nil
		}
		s, ok := full.Shapes[name]
		if !ok {
			return fmt.Errorf("shape %s is referenced but not defined in %s", name, file)
		}
		m.Shapes[name] = s
		if s.Pattern != "" {
			if _, err := CompilePattern(s.Pattern, s.MaxLen()); err != nil {
				return fmt.Errorf("shape %s: %w", name, err)
			}
		}
		refs := []*Ref{s.Member, s.Key, s.Value}
		for _, r := range s.Members {
			refs = append(refs, &r)
		}
		for _, r := range refs {
			if r != nil {
				if err := walk(r.Shape); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, op := range Operations {
		o, ok := full.Operations[op]
		if !ok || o.Input == nil {
			return nil, fmt.Errorf("operation %s has no input shape in %s", op, file)
		}
		m.Operations[op] = o.Input.Shape
		if err := walk(o.Input.Shape); err != nil {
			return nil, err
		}
	}
	for _, a := range additions {
		s := m.Shapes[a.shape]
		if _, ok := s.Members[a.member]; ok {
			continue // the model file has it now
		}
		cp := *s
		cp.Members = map[string]Ref{}
		for k, v := range s.Members {
			cp.Members[k] = v
		}
		cp.Members[a.member] = Ref{Shape: a.target}
		m.Shapes[a.shape] = &cp
		if _, ok := m.Shapes[a.target]; !ok {
			def := a.def
			m.Shapes[a.target] = &def
		}
		m.Additions = append(m.Additions, a.why)
	}
	return m, nil
}

// Generate trims the model file at path and returns the JSON the emulator embeds.
func Generate(path string) ([]byte, error) {
	raw, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Trim(raw, path)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, fmt.Errorf("writing the trimmed model: %w", err)
	}
	return append(b, '\n'), nil
}

// Parse reads a trimmed model.
func Parse(b []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("reading the trimmed SageMaker model: %w", err)
	}
	return &m, nil
}
