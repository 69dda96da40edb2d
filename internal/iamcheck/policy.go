// Package iamcheck holds Pulse's functions to the IAM policies template.yaml gives them, by
// evidence: while the suite runs, every DynamoDB, DynamoDB Streams, EventBridge and SQS call is
// attributed to the function whose handler made it (the local API server and the task
// harnesses put the function's logical ID in the context) and turned into the IAM action and
// resource AWS would authorize. A call the function's policy does not grant fails as AWS fails
// it (AccessDeniedException) and fails the test that made it; the calls are written down, and
// `pulse iam` lists, over the whole suite, what each policy grants that no call used. DynamoDB
// Local ignores IAM: this is what stands between a missing action and a 5xx once deployed.
package iamcheck

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/pulse-sessions/pulse/internal/template"
	"gopkg.in/yaml.v3"
)

// The account and region every ARN is resolved in, here and in the recorded calls alike.
const (
	Region  = "local"
	Account = "000000000000"
)

// Grant is one statement of a function's inline policy, resolved: every action it allows on
// every resource. Notes hold the comment written beside an action or a resource, which is what
// keeps a grant that no test uses (it names the path that needs it).
type Grant struct {
	Statement int
	Actions   []string
	Resources []string
	Notes     map[string]string // action or resource → its comment
}

// Policies are the functions' grants by logical ID. A function without Policies has none.
type Policies map[string][]Grant

// Allows reports whether function may call action on resource: some statement of its policy
// names the action (case-insensitive, as IAM compares actions) and a resource that matches
// (IAM's * and ? wildcards).
func (p Policies) Allows(function, action, resource string) bool {
	for _, g := range p[function] {
		if g.allows(action, resource) {
			return true
		}
	}
	return false
}

func (g Grant) allows(action, resource string) bool {
	ok := false
	for _, a := range g.Actions {
		ok = ok || strings.EqualFold(a, action)
	}
	if !ok {
		return false
	}
	for _, r := range g.Resources {
		if wildcard(r, resource) {
			return true
		}
	}
	return false
}

// wildcard matches IAM's resource patterns: * any run of characters, ? one character.
func wildcard(pattern, s string) bool {
	re, ok := patterns.Load(pattern)
	if !ok {
		re, _ = patterns.LoadOrStore(pattern, regexp.MustCompile("^"+strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern))+"$"))
	}
	return re.(*regexp.Regexp).MatchString(s)
}

// patterns are the compiled resource patterns: the recorder checks every DynamoDB call of the
// suite against the same few dozen, and compiling one per check was a twentieth of a test's CPU.
var patterns sync.Map

// Load reads the template at file and resolves its functions' policies with names: the
// physical name of each resource by logical ID (the table's, the bus's); a resource not named
// is called by its logical ID.
func Load(file string, names map[string]string) (Policies, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("iamcheck: %w", err)
	}
	return Parse(raw, names)
}

// Parse is Load on template text.
func Parse(raw []byte, names map[string]string) (Policies, error) {
	tpl, err := template.Parse(raw)
	if err != nil {
		return nil, err
	}
	notes, err := comments(raw)
	if err != nil {
		return nil, err
	}
	r := resolver{tpl: tpl, names: names}
	out := Policies{}
	for _, fn := range tpl.Functions() {
		list, _ := tpl.Resources[fn].Properties["Policies"].([]any)
		n := 0
		for _, p := range list {
			doc, _ := p.(map[string]any)
			sts, _ := doc["Statement"].([]any)
			for _, s := range sts {
				st, _ := s.(map[string]any)
				if st["Effect"] != "Allow" {
					return nil, fmt.Errorf("iamcheck: %s: statement %d: only Allow statements are understood", fn, n)
				}
				g := Grant{Statement: n, Notes: map[string]string{}}
				for _, a := range listOf(st["Action"]) {
					s, ok := a.(string)
					if !ok {
						return nil, fmt.Errorf("iamcheck: %s: statement %d: action %v is not a string", fn, n, a)
					}
					g.Actions = append(g.Actions, s)
					if c := notes[noteKey{fn, n, "Action", s}]; c != "" {
						g.Notes[s] = c
					}
				}
				for i, v := range listOf(st["Resource"]) {
					arn, err := r.arn(v)
					if err != nil {
						return nil, fmt.Errorf("iamcheck: %s: statement %d: %w", fn, n, err)
					}
					g.Resources = append(g.Resources, arn)
					if c := notes[noteKey{fn, n, "Resource", fmt.Sprint(i)}]; c != "" {
						g.Notes[arn] = c
					}
				}
				out[fn] = append(out[fn], g)
				n++
			}
		}
	}
	return out, nil
}

func listOf(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// resolver turns a policy's Resource entries (!GetAtt, !Sub, literals) into ARNs.
type resolver struct {
	tpl   *template.Template
	names map[string]string
}

func (r resolver) name(id string) string {
	if n, ok := r.names[id]; ok {
		return n
	}
	return id
}

// attribute resolves X.Attr of a resource of the template.
func (r resolver) attribute(id, attr string) (string, error) {
	res, ok := r.tpl.Resources[id]
	if !ok {
		return "", fmt.Errorf("no resource %s", id)
	}
	switch {
	case res.Type == "AWS::DynamoDB::Table" && attr == "Arn":
		return TableARN(r.name(id)), nil
	case res.Type == "AWS::DynamoDB::Table" && attr == "StreamArn":
		return StreamARN(r.name(id)), nil
	case res.Type == "AWS::Events::EventBus" && attr == "Arn":
		return BusARN(r.name(id)), nil
	case res.Type == "AWS::SQS::Queue" && attr == "Arn":
		return QueueARN(r.name(id)), nil
	}
	return "", fmt.Errorf("cannot resolve %s.%s (%s)", id, attr, res.Type)
}

var subVar = regexp.MustCompile(`\$\{([^}]+)\}`)

func (r resolver) arn(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		if att, ok := x["Fn::GetAtt"].([]any); ok && len(att) == 2 {
			return r.attribute(fmt.Sprint(att[0]), fmt.Sprint(att[1]))
		}
		if s, ok := x["Fn::Sub"].(string); ok {
			var err error
			out := subVar.ReplaceAllStringFunc(s, func(m string) string {
				ref := m[2 : len(m)-1]
				switch ref {
				case "AWS::Region":
					return Region
				case "AWS::AccountId":
					return Account
				case "AWS::Partition":
					return "aws"
				}
				id, attr, ok := strings.Cut(ref, ".")
				if !ok {
					err = fmt.Errorf("cannot resolve ${%s} in a resource", ref)
					return m
				}
				a, e := r.attribute(id, attr)
				if e != nil {
					err = e
				}
				return a
			})
			return out, err
		}
	}
	return "", fmt.Errorf("cannot resolve resource %v", v)
}

// TableARN is the ARN of table name.
func TableARN(name string) string {
	return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", Region, Account, name)
}

// IndexARN is the ARN of an index of table name.
func IndexARN(table, index string) string { return TableARN(table) + "/index/" + index }

// StreamARN is the ARN of table name's stream. A stream's label (its creation time) differs
// from table to table; every stream of a table is given the one label "local" here.
func StreamARN(table string) string { return TableARN(table) + "/stream/local" }

// BusARN is the ARN of the event bus name.
func BusARN(name string) string {
	return fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", Region, Account, name)
}

// QueueARN is the ARN of the SQS queue name.
func QueueARN(name string) string { return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", Region, Account, name) }

// noteKey names an Action or Resource entry of a function's policy statement: the action
// itself, or the resource's position in its list.
type noteKey struct {
	function  string
	statement int
	field     string
	entry     string
}

// comments reads the comments written beside (or just above) each Action and Resource entry of
// the functions' policies, which the template's parser drops.
func comments(raw []byte) (map[noteKey]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("iamcheck: %w", err)
	}
	out := map[noteKey]string{}
	if len(doc.Content) == 0 {
		return out, nil
	}
	resources := child(doc.Content[0], "Resources")
	for i := 0; resources != nil && i+1 < len(resources.Content); i += 2 {
		fn := resources.Content[i].Value
		policies := child(child(resources.Content[i+1], "Properties"), "Policies")
		n := 0
		for _, p := range seq(policies) {
			for _, st := range seq(child(p, "Statement")) {
				for _, field := range []string{"Action", "Resource"} {
					for j, e := range seq(child(st, field)) {
						c := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(e.LineComment+" "+e.HeadComment), "# "))
						if c == "" {
							continue
						}
						entry := e.Value
						if field == "Resource" {
							entry = fmt.Sprint(j)
						}
						out[noteKey{fn, n, field, entry}] = c
					}
				}
				n++
			}
		}
	}
	return out, nil
}

// child returns the value of key in a mapping node, nil when absent.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// seq returns the entries of a sequence node; a single node is a sequence of one.
func seq(n *yaml.Node) []*yaml.Node {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.SequenceNode:
		return n.Content
	}
	return []*yaml.Node{n}
}

// Unused returns, for each function, the grants (action on resource) no call in calls used,
// sorted, each with its note ("" when the template gives none).
func (p Policies) Unused(calls []Call) []Unused {
	used := map[Call]bool{}
	for _, c := range calls {
		used[Call{Function: c.Function, Action: strings.ToLower(c.Action), Resource: c.Resource}] = true
	}
	var out []Unused
	for fn, grants := range p {
		for _, g := range grants {
			for _, a := range g.Actions {
				for _, r := range g.Resources {
					hit := false
					for c := range used {
						hit = hit || (c.Function == fn && c.Action == strings.ToLower(a) && wildcard(r, c.Resource))
					}
					if !hit {
						note := g.Notes[a]
						if note == "" {
							note = g.Notes[r]
						}
						out = append(out, Unused{Function: fn, Action: a, Resource: r, Note: note})
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Unused is a grant no call used.
type Unused struct {
	Function, Action, Resource, Note string
}

func (u Unused) String() string {
	return fmt.Sprintf("%s: %s on %s", u.Function, u.Action, Short(u.Resource))
}

// Short is an ARN without its partition, service, region and account: table/PulseTable/index/Live.
func Short(arn string) string {
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 {
		return parts[5]
	}
	return arn
}
