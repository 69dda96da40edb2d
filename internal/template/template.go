// Package template reads Pulse's SAM template.yaml: its functions, HTTP API routes, settings and
// table definition. The local API server, the local table and the tests take these from the
// template itself, so that what runs here and what deploys cannot drift apart.
package template

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulse-sessions/pulse/internal/ddblocal"
	"gopkg.in/yaml.v3"
)

// Template is a parsed template.yaml in CloudFormation's JSON form: short-form tags such as
// !Ref X and !GetAtt A.B become {"Ref": "X"} and {"Fn::GetAtt": ["A", "B"]}.
type Template struct {
	Parameters map[string]any
	Conditions map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
	Outputs    map[string]any
}

// Resource is one entry of Resources.
type Resource struct {
	Type                string
	Properties          map[string]any
	Metadata            map[string]any
	DeletionPolicy      string
	UpdateReplacePolicy string
	Condition           string // the name of a condition of Conditions, "" when always created
}

// Route is one HTTP API route and the function that serves it.
type Route struct {
	Function string // logical ID
	Method   string
	Path     string // as API Gateway writes it: /api/users/{user_id}
}

// Key returns the route as API Gateway's routeKey and Go's ServeMux both write it.
func (r Route) Key() string { return r.Method + " " + r.Path }

// Load parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return Parse(data)
}

// Repo loads the repository's template.yaml, the repository being the folder with go.mod
// above the working directory, and returns it with that folder: what the tools and tests that
// run anywhere in the tree read.
func Repo() (*Template, string, error) {
	root, err := ddblocal.RepoRoot()
	if err != nil {
		return nil, "", err
	}
	t, err := Load(filepath.Join(root, "template.yaml"))
	return t, root, err
}

// Parse parses template text.
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if len(doc.Content) != 1 {
		return nil, fmt.Errorf("template: empty document")
	}
	v, err := convert(doc.Content[0])
	if err != nil {
		return nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template: top level is not a mapping")
	}
	t := &Template{Resources: map[string]Resource{}}
	t.Parameters, _ = root["Parameters"].(map[string]any)
	t.Globals, _ = root["Globals"].(map[string]any)
	t.Conditions, _ = root["Conditions"].(map[string]any)
	t.Outputs, _ = root["Outputs"].(map[string]any)
	res, _ := root["Resources"].(map[string]any)
	for id, r := range res {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("template: resource %s is not a mapping", id)
		}
		var rs Resource
		rs.Type, _ = m["Type"].(string)
		rs.Properties, _ = m["Properties"].(map[string]any)
		rs.Metadata, _ = m["Metadata"].(map[string]any)
		rs.DeletionPolicy, _ = m["DeletionPolicy"].(string)
		rs.UpdateReplacePolicy, _ = m["UpdateReplacePolicy"].(string)
		rs.Condition, _ = m["Condition"].(string)
		t.Resources[id] = rs
	}
	return t, nil
}

// convert turns a YAML node into maps, slices and scalars, rewriting CloudFormation tags.
func convert(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return convert(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := convert(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int":
			i, err := strconv.ParseInt(n.Value, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("template: line %d: %w", n.Line, err)
			}
			v = i
		case "!!bool":
			v = n.Value == "true"
		case "!!null":
			v = nil
		default:
			v = n.Value
		}
	default:
		return nil, fmt.Errorf("template: line %d: unexpected YAML node", n.Line)
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok { // !GetAtt A.B.C → ["A", "B.C"]
			parts := strings.SplitN(s, ".", 2)
			if len(parts) != 2 {
				return nil, fmt.Errorf("template: line %d: !GetAtt %q needs Resource.Attribute", n.Line, s)
			}
			return map[string]any{"Fn::GetAtt": []any{parts[0], parts[1]}}, nil
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	default:
		return map[string]any{"Fn::" + name: v}, nil
	}
}

// Functions returns the logical IDs of the AWS::Serverless::Function resources, sorted.
func (t *Template) Functions() []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == "AWS::Serverless::Function" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Routes returns every HttpApi event of every function, sorted by path then method.
func (t *Template) Routes() []Route {
	var routes []Route
	for _, id := range t.Functions() {
		events, _ := t.Resources[id].Properties["Events"].(map[string]any)
		for _, e := range events {
			ev, _ := e.(map[string]any)
			if ev["Type"] != "HttpApi" {
				continue
			}
			p, _ := ev["Properties"].(map[string]any)
			method, _ := p["Method"].(string)
			path, _ := p["Path"].(string)
			routes = append(routes, Route{Function: id, Method: strings.ToUpper(method), Path: path})
		}
	}
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].Path != routes[j].Path {
			return routes[i].Path < routes[j].Path
		}
		return routes[i].Method < routes[j].Method
	})
	return routes
}

// Environment returns a function's environment variables as deployed with default parameters:
// Globals first, then the function's own. refs resolves a Ref to a resource (the table name, in
// practice); a Ref to a parameter takes its default.
func (t *Template) Environment(function string, refs map[string]string) (map[string]string, error) {
	env := map[string]string{}
	add := func(props map[string]any) error {
		e, _ := props["Environment"].(map[string]any)
		vars, _ := e["Variables"].(map[string]any)
		for k, v := range vars {
			s, err := t.resolve(v, refs)
			if err != nil {
				return fmt.Errorf("template: %s: %s: %w", function, k, err)
			}
			env[k] = s
		}
		return nil
	}
	if g, ok := t.Globals["Function"].(map[string]any); ok {
		if err := add(g); err != nil {
			return nil, err
		}
	}
	r, ok := t.Resources[function]
	if !ok {
		return nil, fmt.Errorf("template: no resource %s", function)
	}
	if err := add(r.Properties); err != nil {
		return nil, err
	}
	return env, nil
}

func (t *Template) resolve(v any, refs map[string]string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case map[string]any:
		if name, ok := x["Ref"].(string); ok {
			if s, ok := refs[name]; ok {
				return s, nil
			}
			if p, ok := t.Parameters[name].(map[string]any); ok {
				return t.resolve(p["Default"], refs)
			}
			return "", fmt.Errorf("!Ref %s resolves to nothing here", name)
		}
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("cannot resolve %v locally", v)
}

// Setting returns a function's property as SAM resolves it: the function's own, or the
// Globals' when the function does not set it; two maps are merged, the function's keys winning.
func (t *Template) Setting(function, name string) any {
	var global any
	if g, ok := t.Globals["Function"].(map[string]any); ok {
		global = g[name]
	}
	v, ok := t.Resources[function].Properties[name]
	if !ok {
		return global
	}
	own, isMap := v.(map[string]any)
	inherited, bothMaps := global.(map[string]any)
	if !isMap || !bothMaps {
		return v
	}
	merged := map[string]any{}
	for k, x := range inherited {
		merged[k] = x
	}
	for k, x := range own {
		merged[k] = x
	}
	return merged
}

// Timeout returns a function's Timeout as SAM resolves it (its own, or the Globals'); zero when
// neither sets one.
func (t *Template) Timeout(function string) time.Duration {
	if v, ok := t.Setting(function, "Timeout").(int64); ok {
		return time.Duration(v) * time.Second
	}
	return 0
}
