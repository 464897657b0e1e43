package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/studio-migrator/studio-migrator/internal/emulator/internal/svcmodel"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestEmbeddedModel regenerates the trimmed model from the model file it was made
// from (found on this machine by its digest) and requires the embedded copy to be
// byte-for-byte what the generator writes: the emulator's constraints are the
// model's, not a hand-edited copy.
func TestEmbeddedModel(t *testing.T) {
	m := loadModel()
	var src string
	for _, p := range svcmodel.InstalledModels() {
		raw, err := svcmodel.ReadFile(p)
		if err == nil && svcmodel.SHA256(raw) == m.Source.SHA256 {
			src = p
			break
		}
	}
	if src == "" {
		msg := "the SageMaker model file the emulator's copy was made from (" + m.Source.File + ", sha256 " + m.Source.SHA256 + ") is not installed; installed: " + strings.Join(svcmodel.InstalledModels(), ", ") + "; if a newer one is, run go generate ./internal/emulator"
		if testutil.Strict() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	want, err := svcmodel.Generate(src)
	if err != nil {
		t.Fatal(err)
	}
	wm, err := svcmodel.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	wm.Source.File = m.Source.File // where it was found may differ between machines
	got, _ := json.Marshal(m.Model)
	exp, _ := json.Marshal(wm)
	if !bytes.Equal(got, exp) {
		t.Fatalf("internal/emulator/sagemaker_model.json differs from what %s gives; run go generate ./internal/emulator", src)
	}
}

// TestModelCoversServedOperations: every SageMaker operation the emulator routes is
// validated against the model, and the model's additions agree with the pinned SDK.
func TestModelCoversServedOperations(t *testing.T) {
	m := loadModel()
	var routed []string
	for op := range sagemakerOps {
		routed = append(routed, op)
	}
	sort.Strings(routed)
	if strings.Join(routed, ",") != strings.Join(svcmodel.Operations, ",") {
		t.Fatalf("routed operations %v, model operations %v", routed, svcmodel.Operations)
	}
	var sdk []string
	for _, v := range types.HomeEfsFileSystemCreation("").Values() {
		sdk = append(sdk, string(v))
	}
	if got := m.Shapes["HomeEfsFileSystemCreation"].Enum; strings.Join(got, ",") != strings.Join(sdk, ",") {
		t.Fatalf("HomeEfsFileSystemCreation enum %v, SDK %v", got, sdk)
	}
}

// invalidCase is one request that breaks one constraint of one member.
type invalidCase struct {
	op, path, kind string // path as the service spells it; kind: required, length, pattern, enum, range
	body           map[string]any
}

// TestModelInvalidRequestsRefused generates, from the model, a request breaking each
// constraint of each member of every served operation (nested settings included) and
// requires a ValidationException that names that member and that constraint.
func TestModelInvalidRequestsRefused(t *testing.T) {
	m := loadModel()
	cases, unbreakable := generateInvalid(m)
	if len(cases) < 1000 {
		t.Fatalf("only %d invalid requests generated; the generator lost members", len(cases))
	}
	e := New(Options{})
	accepted := 0
	for _, c := range cases {
		body, _ := json.Marshal(c.body)
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "SageMaker."+c.op)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		var out struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		want := map[string]string{
			"required": "Member must not be null", "length": "Member must have length",
			"pattern": "Member must satisfy regular expression pattern", "enum": "Member must satisfy enum value set", "range": "Member must have value",
		}[c.kind]
		if out.Type != "ValidationException" || !strings.Contains(out.Message, "at '"+c.path+"' failed to satisfy constraint: "+want) {
			accepted++
			if accepted <= 20 {
				t.Errorf("%s with %s broken (%s): got %d %s %q; body %s", c.op, c.path, c.kind, rec.Code, out.Type, out.Message, body)
			}
		}
	}
	t.Logf("%d invalid requests generated from the model, %d accepted; %d members have no invalid value (pattern accepts anything)", len(cases), accepted, unbreakable)
	if accepted > 0 {
		t.Fatalf("%d of %d invalid requests were not refused with the right ValidationException", accepted, len(cases))
	}
}

// generateInvalid walks each operation's input shape and makes one request per broken
// constraint. Members are reached through their parents (lists with one item), so a
// nested setting is tested in place.
func generateInvalid(m *compiledModel) (cases []invalidCase, unbreakable int) {
	ops := make([]string, 0, len(m.Operations))
	for op := range m.Operations {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		var walk func(shape string, path []string, wrap func(any) map[string]any, stack map[string]bool)
		walk = func(shape string, path []string, wrap func(any) map[string]any, stack map[string]bool) {
			s := m.Shapes[shape]
			if stack[shape] || len(path) > 14 {
				return
			}
			stack[shape] = true
			defer delete(stack, shape)
			spath := member(strings.Join(path, "."))
			add := func(kind string, v any) {
				cases = append(cases, invalidCase{op: op, path: spath, kind: kind, body: wrap(v)})
			}
			switch s.Type {
			case "structure":
				for _, r := range s.Required {
					cases = append(cases, invalidCase{op: op, path: member(strings.Join(append(append([]string{}, path...), r), ".")), kind: "required", body: wrap(map[string]any{})})
				}
				names := make([]string, 0, len(s.Members))
				for n := range s.Members {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					n := n
					walk(s.Members[n].Shape, append(append([]string{}, path...), n), func(v any) map[string]any { return wrap(map[string]any{n: v}) }, stack)
				}
			case "list":
				item := sample(m, s.Member.Shape)
				if s.Max != nil && *s.Max < 1000 {
					add("length", repeat(item, int(*s.Max)+1))
				}
				if s.Min != nil && *s.Min > 0 {
					add("length", repeat(item, int(*s.Min)-1))
				}
				walk(s.Member.Shape, append(append([]string{}, path...), "1", "member"), func(v any) map[string]any { return wrap([]any{v}) }, stack)
			case "map":
				if s.Max != nil && *s.Max < 1000 {
					mm := map[string]any{}
					for i := 0; i <= int(*s.Max); i++ {
						mm["k"+strconv.Itoa(i)] = sample(m, s.Value.Shape)
					}
					add("length", mm)
				}
			case "string":
				switch {
				case len(s.Enum) > 0:
					add("enum", "bogus-value")
				case s.Pattern != "":
					if v, ok := breakPattern(m, shape, s); ok {
						add("pattern", v)
					} else {
						unbreakable++
					}
				}
				if s.Max != nil && *s.Max < 100000 {
					add("length", strings.Repeat("a", int(*s.Max)+1))
				}
				if s.Min != nil && *s.Min > 0 {
					add("length", strings.Repeat("a", int(*s.Min)-1))
				}
			case "integer", "long":
				if s.Min != nil {
					add("range", json.Number(num(*s.Min-1)))
				}
				if s.Max != nil {
					add("range", json.Number(num(*s.Max+1)))
				}
			}
		}
		walk(m.Operations[op], nil, func(v any) map[string]any {
			if mv, ok := v.(map[string]any); ok {
				return mv
			}
			return map[string]any{}
		}, map[string]bool{})
	}
	return cases, unbreakable
}

// breakPattern finds a value of the right length that the pattern refuses.
func breakPattern(m *compiledModel, shape string, s *svcmodel.Shape) (string, bool) {
	minLen, maxLen := 0, 1<<20
	if s.Min != nil {
		minLen = int(*s.Min)
	}
	if s.Max != nil {
		maxLen = int(*s.Max)
	}
	for _, c := range []string{"!", "#bad value!", " ", "\n", "a", "A", "0", "-", "ml.bogus", "arn:aws:bogus", "d-", "Bad_Name!", "\x00", "   "} {
		for len([]rune(c)) < minLen {
			c += "!"
		}
		if n := len([]rune(c)); n <= maxLen && !m.patterns[shape](c) {
			return c, true
		}
	}
	return "", false
}

func repeat(v any, n int) []any {
	out := make([]any, max(n, 0))
	for i := range out {
		out[i] = v
	}
	return out
}

// sample is a value of the right JSON type for shape (validity is not needed: the
// test looks for the broken member's own error among the reported ones).
func sample(m *compiledModel, shape string) any {
	switch m.Shapes[shape].Type {
	case "structure", "map":
		return map[string]any{}
	case "list":
		return []any{}
	case "integer", "long", "float", "double":
		return json.Number("1")
	case "boolean":
		return true
	default:
		return "x"
	}
}

var _ = os.Getenv
