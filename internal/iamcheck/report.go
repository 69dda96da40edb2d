package iamcheck

import (
	"fmt"
	"io"
)

// Report writes, for the calls a whole suite recorded, what each function called and what its
// policy grants that nothing called, and returns an error when a call was not granted or an
// unused grant carries no comment naming the path that needs it. A grant no test reaches is
// either dead weight (remove it) or a path the suite does not drive (drive it, or say which
// path needs it beside the grant).
func Report(w io.Writer, p Policies, calls []Call) error {
	byFn := map[string][]Call{}
	var denied []string
	for _, c := range calls {
		byFn[c.Function] = append(byFn[c.Function], c)
		if !p.Allows(c.Function, c.Action, c.Resource) {
			denied = append(denied, c.String())
		}
	}
	fmt.Fprintf(w, "IAM: %d distinct calls by %d functions\n", len(calls), len(byFn))
	var bare []string
	for _, u := range p.Unused(calls) {
		if u.Note == "" {
			bare = append(bare, u.String())
			fmt.Fprintf(w, "  unused, no comment: %s\n", u)
			continue
		}
		fmt.Fprintf(w, "  unused by the suite, kept: %s (%s)\n", u, u.Note)
	}
	for _, d := range denied {
		fmt.Fprintf(w, "  NOT GRANTED: %s\n", d)
	}
	if len(denied) > 0 || len(bare) > 0 {
		return fmt.Errorf("iam: %d calls template.yaml does not grant, %d grants no call used and no comment explains (listed above)", len(denied), len(bare))
	}
	return nil
}
