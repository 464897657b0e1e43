package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// apiError is an error answer: HTTP 400 (unless status says otherwise) with the AWS
// JSON body {"__type": code, "message": msg}.
type apiError struct {
	status int
	code   string
	msg    string
	extra  map[string]any // more members of the error shape (Identity Store's ResourceId)
}

func (a *apiError) Error() string { return a.code + ": " + a.msg }

func errValidation(format string, args ...any) *apiError {
	return &apiError{code: "ValidationException", msg: fmt.Sprintf(format, args...)}
}

func errNotFound(format string, args ...any) *apiError {
	return &apiError{code: "ResourceNotFound", msg: fmt.Sprintf(format, args...)}
}

func errInUse(format string, args ...any) *apiError {
	return &apiError{code: "ResourceInUse", msg: fmt.Sprintf(format, args...)}
}

func errLimit(format string, args ...any) *apiError {
	return &apiError{code: "ResourceLimitExceeded", msg: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, a *apiError) {
	status := a.status
	if status == 0 {
		status = http.StatusBadRequest
	}
	body := map[string]any{"__type": a.code}
	if a.msg != "" {
		body["message"] = a.msg
	}
	for k, v := range a.extra {
		body[k] = v
	}
	w.Header().Set("X-Amzn-ErrorType", a.code)
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if v == nil {
		v = struct{}{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Only a programming error in a response type gets here.
		status = http.StatusInternalServerError
		b = []byte(`{"__type":"InternalFailure","message":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decode reads a request body; a body that does not fit the operation's shape is a
// SerializationException, as AWS answers.
func decode(body []byte, v any) *apiError {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return &apiError{code: "SerializationException", msg: "Cannot deserialize request: " + err.Error()}
	}
	return nil
}

// epochTime marshals as epoch seconds with milliseconds, a JSON number: the timestamp
// format of the JSON 1.1 protocol.
type epochTime time.Time

func (t epochTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

func (t *epochTime) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s is not epoch seconds: %w", b, err)
	}
	*t = epochTime(time.UnixMilli(int64(f * 1000)))
	return nil
}

func ts(t time.Time) *epochTime {
	if t.IsZero() {
		return nil
	}
	et := epochTime(t)
	return &et
}

// ---- validation in the words of AWS's validation errors ----

type validator struct{ errs []string }

// member turns "DefaultUserSettings.ExecutionRole" into the service's
// "defaultUserSettings.executionRole".
func member(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToLower(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, ".")
}

func (v *validator) add(path, value, constraint string) {
	val := "null"
	if value != "\x00" {
		val = "'" + value + "'"
	}
	v.errs = append(v.errs, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", val, member(path), constraint))
}

func (v *validator) required(path string, present bool) {
	if !present {
		v.add(path, "\x00", "Member must not be null")
	}
}

func (v *validator) pattern(path string, s *string, re *regexp.Regexp, text string) {
	if s != nil && !re.MatchString(*s) {
		v.add(path, *s, "Member must satisfy regular expression pattern: "+text)
	}
}

func (v *validator) length(path string, s *string, minLen, maxLen int) {
	if s == nil {
		return
	}
	n := len([]rune(*s))
	if n > maxLen {
		v.add(path, *s, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
	}
	if n < minLen {
		v.add(path, *s, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
	}
}

func (v *validator) enum(path, s string, allowed ...string) {
	if s == "" {
		return
	}
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	v.add(path, s, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

func (v *validator) intRange(path string, n *int32, minV, maxV int32) {
	if n == nil {
		return
	}
	if *n < minV {
		v.add(path, strconv.Itoa(int(*n)), fmt.Sprintf("Member must have value greater than or equal to %d", minV))
	}
	if *n > maxV {
		v.add(path, strconv.Itoa(int(*n)), fmt.Sprintf("Member must have value less than or equal to %d", maxV))
	}
}

func (v *validator) err() *apiError {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return errValidation("1 validation error detected: %s", v.errs[0])
	default:
		return errValidation("%d validation errors detected: %s", len(v.errs), strings.Join(v.errs, "; "))
	}
}

// anchored compiles a service pattern for a whole-value match, the way the service
// applies it (its patterns are written without the closing anchor).
func anchored(p string) *regexp.Regexp {
	return regexp.MustCompile(`^(?:` + strings.TrimPrefix(p, "^") + `)$`)
}

// lazyRE compiles p on first use. Every migrator command links this package (the
// demo and the emulator command use it), so a regexp compiled at package init is
// paid by every run, copy-home and --help included; counted repeats such as
// {1,61} make programs that take milliseconds to build.
func lazyRE(p string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(p) })
}

// lazyAnchored is anchored, compiled on first use (see lazyRE).
func lazyAnchored(p string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return anchored(p) })
}

const namePattern = `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`

var (
	nameRE    = lazyAnchored(namePattern)
	roleRE    = lazyAnchored(`^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	vpcRE     = lazyAnchored(`[-0-9a-zA-Z]+`)
	tagRE     = lazyAnchored(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)
	domainIDE = lazyAnchored(`d-(-*[a-z0-9]){1,61}`)
)

func (v *validator) name(path string, s *string) {
	v.required(path, s != nil)
	v.pattern(path, s, nameRE(), namePattern)
	v.length(path, s, 0, 63)
}

// ---- pagination ----

// pageToken marks the last item of the previous page by its sort key and sequence
// number, so items created or deleted between pages neither repeat nor shift the rest.
type pageToken struct {
	Op  string `json:"o"`
	Key string `json:"k"`
	Seq uint64 `json:"s"`
}

type pageItem[T any] struct {
	key string
	seq uint64
	v   T
}

func timeKey(t time.Time) string { return fmt.Sprintf("%020d", t.UnixNano()) }

// paginate sorts items by (key, seq), in reverse when desc, and returns the page after
// token with at most maxResults items (def when nil) and the next token.
func paginate[T any](op string, items []pageItem[T], desc bool, token *string, maxResults *int32, def int) ([]T, *string, *apiError) {
	less := func(a, b pageItem[T]) bool {
		if a.key != b.key {
			return a.key < b.key
		}
		return a.seq < b.seq
	}
	sort.Slice(items, func(i, j int) bool {
		if desc {
			return less(items[j], items[i])
		}
		return less(items[i], items[j])
	})
	start := 0
	if token != nil && *token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(*token)
		var pt pageToken
		if err == nil {
			err = json.Unmarshal(raw, &pt)
		}
		if err != nil || pt.Op != op {
			return nil, nil, errValidation("Invalid pagination token %q", *token)
		}
		after := pageItem[T]{key: pt.Key, seq: pt.Seq}
		start = sort.Search(len(items), func(i int) bool {
			if desc {
				return less(items[i], after)
			}
			return less(after, items[i])
		})
	}
	n := def
	if maxResults != nil {
		n = int(*maxResults)
	}
	end := min(start+n, len(items))
	page := make([]T, 0, end-start)
	for _, it := range items[start:end] {
		page = append(page, it.v)
	}
	if end >= len(items) {
		return page, nil, nil
	}
	last := items[end-1]
	b, _ := json.Marshal(pageToken{Op: op, Key: last.key, Seq: last.seq})
	next := base64.RawURLEncoding.EncodeToString(b)
	return page, &next, nil
}

func containsFold(s string, sub *string) bool {
	return sub == nil || strings.Contains(strings.ToLower(s), strings.ToLower(*sub))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr[T any](v T) *T { return &v }

// nonEmpty returns nil for "" so that omitempty pointer fields drop it.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// withNextToken adds NextToken to a List answer only when there is a next page: the
// service leaves absent members out rather than sending null.
func withNextToken(out map[string]any, next *string) map[string]any {
	if next != nil {
		out["NextToken"] = *next
	}
	return out
}
