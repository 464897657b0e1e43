package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/studio-migrator/studio-migrator/internal/emulator/internal/svcmodel"
)

// validateInput checks a SageMaker request body against the embedded service model
// (required members, lengths, ranges, patterns, enums, list and map sizes, nested
// structures included) and answers what the service answers: a ValidationException
// listing every violation, or a SerializationException for a body whose JSON types do
// not fit the shapes. Members the model does not know are ignored, as the service
// ignores them. The handlers then check the rules the model cannot express.
func validateInput(op string, body []byte) *apiError {
	m := loadModel()
	input, ok := m.Operations[op]
	if !ok {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return &apiError{code: "SerializationException", msg: "Cannot deserialize request: " + err.Error()}
	}
	w := &modelWalker{m: m}
	w.check(input, "", v)
	if w.serr != "" {
		return &apiError{code: "SerializationException", msg: w.serr}
	}
	return w.v.err()
}

type modelWalker struct {
	m    *compiledModel
	v    validator
	serr string
}

// join builds the service's member path: "defaultUserSettings.customPosixUserConfig.uid",
// list items as "subnetIds.1.member" (1-based, as the service counts).
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (w *modelWalker) check(shapeName, path string, val any) {
	if w.serr != "" {
		return
	}
	s := w.m.Shapes[shapeName]
	if s == nil || val == nil {
		return
	}
	where := path
	if where == "" {
		where = "request"
	}
	wrongType := func() {
		w.serr = fmt.Sprintf("Cannot deserialize request: %s must be a %s", member(where), s.Type)
	}
	switch s.Type {
	case "structure":
		obj, ok := val.(map[string]any)
		if !ok {
			wrongType()
			return
		}
		for _, r := range s.Required {
			if x, ok := obj[r]; !ok || x == nil {
				w.v.required(join(path, r), false)
			}
		}
		names := make([]string, 0, len(s.Members))
		for name := range s.Members {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if x, ok := obj[name]; ok {
				w.check(s.Members[name].Shape, join(path, name), x)
			}
		}
	case "list":
		arr, ok := val.([]any)
		if !ok {
			wrongType()
			return
		}
		w.size(s, path, len(arr), func() string { return listText(arr) })
		for i, x := range arr {
			w.check(s.Member.Shape, join(path, strconv.Itoa(i+1)+".member"), x)
		}
	case "map":
		obj, ok := val.(map[string]any)
		if !ok {
			wrongType()
			return
		}
		w.size(s, path, len(obj), func() string { return fmt.Sprint(obj) })
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.check(s.Key.Shape, join(path, k+".key"), k)
			w.check(s.Value.Shape, join(path, k+".value"), obj[k])
		}
	case "string":
		str, ok := val.(string)
		if !ok {
			wrongType()
			return
		}
		w.size(s, path, utf8.RuneCountInString(str), func() string { return str })
		if match := w.m.patterns[shapeName]; match != nil && !match(str) {
			w.v.add(path, str, "Member must satisfy regular expression pattern: "+s.Pattern)
		}
		if len(s.Enum) > 0 && !contains(s.Enum, str) {
			w.v.add(path, str, "Member must satisfy enum value set: ["+strings.Join(s.Enum, ", ")+"]")
		}
	case "integer", "long", "float", "double":
		n, ok := val.(json.Number)
		if !ok {
			wrongType()
			return
		}
		f, err := n.Float64()
		if err != nil || ((s.Type == "integer" || s.Type == "long") && strings.ContainsAny(n.String(), ".eE")) {
			wrongType()
			return
		}
		if s.Min != nil && f < *s.Min {
			w.v.add(path, n.String(), "Member must have value greater than or equal to "+num(*s.Min))
		}
		if s.Max != nil && f > *s.Max {
			w.v.add(path, n.String(), "Member must have value less than or equal to "+num(*s.Max))
		}
	case "boolean":
		if _, ok := val.(bool); !ok {
			wrongType()
		}
	case "timestamp":
		switch val.(type) {
		case json.Number, string:
		default:
			wrongType()
		}
	}
}

// size checks a string's length or a list's or map's number of entries.
func (w *modelWalker) size(s *svcmodel.Shape, path string, n int, text func() string) {
	if s.Min != nil && float64(n) < *s.Min {
		w.v.add(path, text(), "Member must have length greater than or equal to "+num(*s.Min))
	}
	if s.Max != nil && float64(n) > *s.Max {
		w.v.add(path, text(), "Member must have length less than or equal to "+num(*s.Max))
	}
}

func listText(arr []any) string {
	parts := make([]string, len(arr))
	for i, x := range arr {
		parts[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
