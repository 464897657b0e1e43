package studio

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteText writes the plan for people: a summary, the problems (errors first, so
// what blocks Apply is read first), then the actions grouped by kind.
func (p *Plan) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	d := p.Domain
	fmt.Fprintf(bw, "Plan: rebuild domain %s (%s, %s, %s) as %q (%s)\n",
		p.Source.DomainName, p.Source.DomainID, p.Source.AuthMode, p.Source.Region, d.Name, d.AuthMode)
	fmt.Fprintf(bw, "  VPC %s, subnets %s", d.VpcID, strings.Join(d.SubnetIDs, ", "))
	if d.AppNetworkAccessType != "" {
		fmt.Fprintf(bw, ", network %s", d.AppNetworkAccessType)
	}
	if d.KmsKeyID != "" {
		fmt.Fprintf(bw, ", KMS key %s", d.KmsKeyID)
	}
	fmt.Fprintln(bw)
	copies := 0
	for _, a := range p.Actions {
		if a.Kind == ActionCopyHome {
			copies++
		}
	}
	fmt.Fprintf(bw, "  %s, %s, %s to copy\n",
		plural(len(p.UserProfiles), "user profile"), plural(len(p.Spaces), "space"), plural(copies, "home directory"))

	nerr := len(p.Errors())
	fmt.Fprintf(bw, "\nProblems: %s, %s\n", plural(nerr, "error"), plural(len(p.Problems)-nerr, "warning"))
	if len(p.Problems) == 0 {
		fmt.Fprintln(bw, "  none")
	}
	for _, sev := range []Severity{SeverityError, SeverityWarning} {
		for _, pr := range p.Problems {
			if pr.Severity == sev {
				fmt.Fprintf(bw, "  %-7s %s: %s\n", strings.ToUpper(string(sev)), pr.Resource, pr.Message)
			}
		}
	}

	if len(p.ExternalReferences) > 0 {
		fmt.Fprintln(bw, "\nOutside the domain (must exist in the target; plan --live checks them):")
		for _, r := range p.ExternalReferences {
			used := r.UsedIn
			more := ""
			if len(used) > 3 {
				more = fmt.Sprintf(" and %d more", len(used)-3)
				used = used[:3]
			}
			fmt.Fprintf(bw, "  %-16s %s (used in %s%s)\n", r.Kind, r.ID, strings.Join(used, ", "), more)
		}
	}

	fmt.Fprintln(bw, "\nActions:")
	for _, kind := range actionKinds(p.Actions) {
		var group []Action
		for _, a := range p.Actions {
			if a.Kind == kind {
				group = append(group, a)
			}
		}
		fmt.Fprintf(bw, "  %s (%d)\n", kind, len(group))
		for _, a := range group {
			target := a.Target
			if a.Storage != "" {
				target += " [" + strings.ToUpper(a.Storage) + "]"
			}
			if a.Detail != "" {
				fmt.Fprintf(bw, "    %s: %s\n", target, a.Detail)
			} else {
				fmt.Fprintf(bw, "    %s\n", target)
			}
		}
	}
	if nerr > 0 {
		them := "them"
		if nerr == 1 {
			them = "it"
		}
		fmt.Fprintf(bw, "\nThis plan has %s: fix %s before applying the plan.\n", plural(nerr, "error"), them)
	}
	return bw.Flush()
}

// actionKinds returns the kinds in the order they first appear, which is the order
// Apply runs them in.
func actionKinds(actions []Action) []string {
	var kinds []string
	seen := map[string]bool{}
	for _, a := range actions {
		if !seen[a.Kind] {
			seen[a.Kind] = true
			kinds = append(kinds, a.Kind)
		}
	}
	return kinds
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
