package studio

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MaxManagedPolicySize is IAM's limit on a customer managed policy document, in
// characters; IAM does not count white space, so the compact JSON is measured.
const MaxManagedPolicySize = 6144

// ErrPolicyTooLarge is wrapped by IAMPolicy when the policy needs more than one
// document (IAMPolicies splits it).
var ErrPolicyTooLarge = errors.New("the IAM policy exceeds the managed policy size limit")

// NamedPolicy is one managed policy of the set IAMPolicies returns.
type NamedPolicy struct {
	Name     string          `json:"policyName"`
	Document *PolicyDocument `json:"policyDocument"`
	// Note says how the set was kept within IAM's limit (the same on every policy).
	Note string `json:"note,omitempty"`
}

// minRolePrefix is the shortest role-name prefix a wildcard may use: shorter ones
// ("a*") would pass far more roles than the snapshot names.
const minRolePrefix = 3

// IAMPolicies returns the worker's policy (see iamPolicy) as managed policies that
// each stay within MaxManagedPolicySize. With many per-user execution roles the
// iam:PassRole list is what grows, so, in this order:
//
//  1. the roles listed one by one, when that fits in one policy;
//  2. otherwise roles that share an IAM path other than "/" are passed as
//     role/PATH/*, and roles that share a name prefix of at least 3 characters as
//     role/PREFIX* (the wildcards may match roles the snapshot does not name: give
//     per-user roles a path or prefix of their own);
//  3. if that still does not fit, the PassRole resources are split over several
//     policies: the first holds every other statement, the others only PassRole.
//
// Note on each policy says which was done.
func IAMPolicies(s *Snapshot, o IAMPolicyOptions) ([]NamedPolicy, error) {
	doc, err := iamPolicy(s, o)
	if err != nil {
		return nil, err
	}
	const base = "studio-migrator"
	if policySize(doc) <= MaxManagedPolicySize {
		return []NamedPolicy{{Name: base, Document: doc}}, nil
	}
	pass := slices.IndexFunc(doc.Statement, func(st PolicyStatement) bool { return st.Sid == "PassExecutionRoles" })
	if pass < 0 {
		return nil, fmt.Errorf("iam policy: %d characters without any role list to shorten (limit %d)", policySize(doc), MaxManagedPolicySize)
	}
	roles := doc.Statement[pass].Resource
	compact, how := compressRoles(roles)
	doc.Statement[pass].Resource = compact
	note := fmt.Sprintf("%d execution roles: iam:PassRole %s", len(roles), how)
	if policySize(doc) <= MaxManagedPolicySize {
		return []NamedPolicy{{Name: base, Document: doc, Note: note}}, nil
	}

	// Split: the first policy keeps everything but PassRole, the rest carry chunks.
	passSt := doc.Statement[pass]
	first := &PolicyDocument{Version: doc.Version, Statement: slices.Delete(slices.Clone(doc.Statement), pass, pass+1)}
	if policySize(first) > MaxManagedPolicySize {
		return nil, fmt.Errorf("iam policy: %d characters even without iam:PassRole (limit %d)", policySize(first), MaxManagedPolicySize)
	}
	var chunks []*PolicyDocument
	cur := []string{}
	chunk := func(res []string) *PolicyDocument {
		st := passSt
		st.Resource = res
		return &PolicyDocument{Version: doc.Version, Statement: []PolicyStatement{st}}
	}
	for _, r := range compact {
		if len(cur) > 0 && policySize(chunk(append(slices.Clone(cur), r))) > MaxManagedPolicySize {
			chunks = append(chunks, chunk(cur))
			cur = []string{}
		}
		cur = append(cur, r)
	}
	chunks = append(chunks, chunk(cur))
	note = fmt.Sprintf("%s, split over %d policies (%s-passrole-1..%d) to stay within IAM's %d-character limit; attach all %d", note, len(chunks), base, len(chunks), MaxManagedPolicySize, len(chunks)+1)
	out := []NamedPolicy{{Name: base, Document: first, Note: note}}
	for i, c := range chunks {
		c.Statement[0].Sid = fmt.Sprintf("PassExecutionRoles%d", i+1)
		out = append(out, NamedPolicy{Name: fmt.Sprintf("%s-passrole-%d", base, i+1), Document: c, Note: note})
	}
	return out, nil
}

// policySize is the length of the compact JSON document: what IAM counts.
func policySize(p *PolicyDocument) int {
	b, err := json.Marshal(p)
	if err != nil {
		return 0
	}
	return len(b)
}

// compressRoles replaces role ARNs that share a path or a name prefix by one
// wildcard ARN each, and says what it did.
func compressRoles(arns []string) ([]string, string) {
	type group struct {
		prefix string // arn:PART:iam::ACCOUNT:role + PATH
		names  []string
	}
	groups := map[string]*group{}
	var out []string
	for _, a := range arns {
		i := strings.Index(a, ":role/")
		j := strings.LastIndex(a, "/")
		if i < 0 {
			out = append(out, a)
			continue
		}
		key := a[:j+1] // through the path
		if groups[key] == nil {
			groups[key] = &group{prefix: key}
		}
		groups[key].names = append(groups[key].names, a[j+1:])
	}
	var paths, prefixes []string
	for _, key := range sortedKeys(groups) {
		g := groups[key]
		slices.Sort(g.names)
		// Greedy clusters of sorted names sharing a prefix of minRolePrefix or more.
		var res, pre []string
		for i := 0; i < len(g.names); {
			p, j := g.names[i], i+1
			for ; j < len(g.names); j++ {
				q := commonPrefix(p, g.names[j])
				if len(q) < minRolePrefix {
					break
				}
				p = q
			}
			if j-i > 1 {
				res = append(res, key+p+"*")
				pre = append(pre, fmt.Sprintf("%s%s* (%d roles)", key[strings.Index(key, ":role/")+1:], p, j-i))
			} else {
				res = append(res, key+g.names[i])
			}
			i = j
		}
		if !strings.HasSuffix(key, ":role/") && len(res) > 1 {
			// No one prefix, but a path of their own: role/PATH/*.
			out = append(out, key+"*")
			paths = append(paths, fmt.Sprintf("%s* (%d roles)", key[strings.Index(key, ":role/")+1:], len(g.names)))
			continue
		}
		out = append(out, res...)
		prefixes = append(prefixes, pre...)
	}
	slices.Sort(out)
	var how []string
	if len(paths) > 0 {
		how = append(how, "scoped by role path "+strings.Join(paths, ", "))
	}
	if len(prefixes) > 0 {
		how = append(how, "scoped by role name prefix "+strings.Join(prefixes, ", "))
	}
	if len(how) == 0 {
		how = append(how, "listed one by one (they share no path or name prefix)")
	}
	return out, strings.Join(how, "; ")
}

func commonPrefix(a, b string) string {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return a[:i]
		}
	}
	return a[:n]
}

// MarshalPolicies writes the policy set: a single policy as its document alone (what
// `aws iam create-policy --policy-document` takes), several as a JSON array of
// {policyName, policyDocument, note}.
func MarshalPolicies(ps []NamedPolicy) ([]byte, error) {
	if len(ps) == 1 {
		return MarshalPolicy(ps[0].Document)
	}
	b, err := json.MarshalIndent(ps, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
