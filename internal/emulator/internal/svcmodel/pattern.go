package svcmodel

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Matcher tells whether a whole value satisfies a model pattern.
type Matcher func(string) bool

// notBlank is the model's `(?!\s*$).+` (NonEmptyString64 and friends): a lookahead
// that Go's regexp cannot express. The service matches Java patterns against the
// whole value, and Java's `.` stops at line terminators.
func notBlank(s string) bool {
	if strings.TrimFunc(s, unicode.IsSpace) == "" {
		return false
	}
	return !strings.ContainsAny(s, "\n\r\u0085\u2028\u2029")
}

// lookaheads are the model's patterns that use Java features Go's regexp lacks,
// written out by hand. A new one makes CompilePattern fail, so the generator stops
// until someone writes its matcher here.
var lookaheads = map[string]Matcher{
	`(?!\s*$).+`:  notBlank,
	`^(?!\s*$).+`: notBlank,
	// QProfileArn (AmazonQSettings): no length limit, and Go caps repeat counts at
	// 1000, so the last group's {1,1023} is checked on the captured tail.
	`arn:[-.a-z0-9]{1,63}:codewhisperer:([-.a-z0-9]{0,63}:){2}([a-zA-Z0-9-_:/]){1,1023}`: qProfileArn,
}

// qProfileArnRE is compiled on first use: its counted repeats take a millisecond to
// compile, which package init would charge to every migrator command.
var qProfileArnRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^arn:[-.a-z0-9]{1,63}:codewhisperer:(?:[-.a-z0-9]{0,63}:){2}([a-zA-Z0-9-_:/]+)$`)
})

func qProfileArn(s string) bool {
	m := qProfileArnRE().FindStringSubmatch(s)
	return m != nil && len(m[1]) <= 1023
}

// bigRepeat finds counted repeats whose upper bound Go's regexp refuses (over 1000).
var bigRepeat = regexp.MustCompile(`\{(\d+),(\d+)\}`)

// CompilePattern compiles a model pattern for a whole-value match, the way the
// service applies it (the model writes most patterns without anchors). maxLen is the
// shape's length limit (0 = none): Go caps repeat counts at 1000, and a repeat
// {n,m} with m + len(literal prefix) >= maxLen is rewritten {n,}, which accepts the same values because
// every repetition in these patterns takes at least one character and the length is
// always checked beside the pattern.
func CompilePattern(p string, maxLen int) (Matcher, error) {
	if m, ok := lookaheads[p]; ok {
		return m, nil
	}
	// A value with more than m repetitions has more than m characters beside the
	// pattern's literal prefix; when that is already past maxLen, dropping the bound
	// changes nothing.
	prefix := ""
	if re, err := regexp.Compile(bigRepeat.ReplaceAllString(strings.TrimPrefix(p, "^"), "{$1,}")); err == nil {
		prefix, _ = re.LiteralPrefix()
	}
	var rerr error
	expr := bigRepeat.ReplaceAllStringFunc(p, func(rep string) string {
		sub := bigRepeat.FindStringSubmatch(rep)
		hi, _ := strconv.Atoi(sub[2])
		if hi <= 1000 {
			return rep
		}
		if maxLen == 0 || hi+len(prefix) < maxLen {
			rerr = fmt.Errorf("pattern %q repeats up to %d times, more than Go's regexp allows, and the length limit %d does not bound it", p, hi, maxLen)
			return rep
		}
		return "{" + sub[1] + ",}"
	})
	if rerr != nil {
		return nil, rerr
	}
	re, err := regexp.Compile(`^(?:` + strings.TrimPrefix(expr, "^") + `)$`)
	if err != nil {
		return nil, fmt.Errorf("pattern %q does not compile in Go; add a matcher for it to svcmodel.lookaheads: %w", p, err)
	}
	return re.MatchString, nil
}

// MaxLen is a shape's length limit for CompilePattern (0 = none).
func (s *Shape) MaxLen() int {
	if s.Max == nil {
		return 0
	}
	return int(*s.Max)
}
