package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulse-sessions/pulse/internal/lambdarun"
	"github.com/pulse-sessions/pulse/internal/template"
	"gopkg.in/yaml.v3"
)

func load(t *testing.T) *template.Template {
	t.Helper()
	tpl, _, err := template.Repo()
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// The routes in template.yaml and the routes the surfaces serve agree one to one.
func TestRoutesMatchTemplate(t *testing.T) {
	tpl := load(t)
	inTemplate := map[string]string{}
	for _, rt := range tpl.Routes() {
		if prev, dup := inTemplate[rt.Key()]; dup {
			t.Errorf("route %s is served by both %s and %s", rt.Key(), prev, rt.Function)
		}
		inTemplate[rt.Key()] = rt.Function
	}
	inCode := map[string]bool{}
	for _, rt := range Routes() {
		if inCode[rt.Key] {
			t.Errorf("route %s is listed by two surfaces", rt.Key)
		}
		inCode[rt.Key] = true
	}
	for key, fn := range inTemplate {
		if !inCode[key] {
			t.Errorf("template: %s → %s; no surface serves it", key, fn)
		}
	}
	for key := range inCode {
		if inTemplate[key] == "" {
			t.Errorf("code serves %s; template.yaml has no function for it", key)
		}
	}
}

// Every function of the template has its folder, its build target, and a main.go that wires the
// one package it serves (its routes' surface, or its task) and starts the routes of that very
// function.
func TestFunctionsAreWired(t *testing.T) {
	tpl := load(t)
	folders, err := lambdarun.Targets("../..")
	if err != nil {
		t.Fatal(err)
	}
	routeOf := map[string]string{} // the function's route keys, sorted, as main.go lists them
	for _, rt := range tpl.Routes() {
		keys := append(strings.Split(routeOf[rt.Function], "\x00"), rt.Key())
		if routeOf[rt.Function] == "" {
			keys = keys[1:]
		}
		sort.Strings(keys)
		routeOf[rt.Function] = strings.Join(keys, "\x00")
	}
	var fns []string
	for _, id := range tpl.Functions() {
		fns = append(fns, id)
		folder, ok := folders[id]
		if !ok {
			t.Errorf("%s: no build-%s target in functions/functions.mk", id, id)
			continue
		}
		src, err := os.ReadFile(filepath.Join("../../functions", folder, "main.go"))
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		pkg := TaskPackage(id)
		for _, rt := range Routes() {
			if routeOf[id] != "" && rt.Key == strings.Split(routeOf[id], "\x00")[0] {
				pkg = rt.Package
			}
		}
		imports := regexp.MustCompile(`"github.com/pulse-sessions/pulse/shared/(\w+)"`).FindAllStringSubmatch(string(src), -1)
		var wired []string
		for _, m := range imports {
			if m[1] != "boot" && m[1] != "lambdahttp" {
				wired = append(wired, m[1])
			}
		}
		if len(wired) != 1 || wired[0] != pkg || !strings.Contains(string(src), "("+pkg+".Open") {
			t.Errorf("%s: functions/%s/main.go wires %v, want %s.Open alone", id, folder, wired, pkg)
		}
		starts := regexp.MustCompile(`(?:boot|lambdahttp)\.Serve\(\w+\.Open, ("[^)]+")\)`).FindStringSubmatch(string(src))
		var keys []string
		if starts != nil {
			for _, q := range strings.Split(starts[1], ", ") {
				a, _ := strconv.Unquote(q)
				keys = append(keys, a)
			}
		}
		if got := strings.Join(keys, "\x00"); got != routeOf[id] {
			t.Errorf("%s: functions/%s/main.go serves %q, want %q", id, folder, keys, strings.Split(routeOf[id], "\x00"))
		}
	}
	if len(folders) != len(fns) {
		sort.Strings(fns)
		t.Errorf("functions/functions.mk has %d build targets, template %d functions (%v)", len(folders), len(fns), fns)
	}
}

// The functions' binaries link only what a function runs: not the local server, the template
// parser or the SDK's config package (with its SSO, STS and sign-in clients), whose package
// initialisers would add to every cold start.
func TestFunctionsLinkOnlyWhatLambdaNeeds(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "../../functions/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	banned := []string{"gopkg.in/yaml.v3", "github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/service/sts",
		"github.com/aws/aws-sdk-go-v2/service/sso", "github.com/pulse-sessions/pulse/internal/template",
		"github.com/pulse-sessions/pulse/internal/localapi", "github.com/pulse-sessions/pulse/internal/lambdarun", "net/rpc"}
	for _, pkg := range strings.Fields(string(out)) {
		if slices.Contains(banned, pkg) {
			t.Errorf("a function links %s", pkg)
		}
	}
}

// shared/ is the runtime and only the runtime: every package under it is linked by some
// function, and no function links a package of internal/ (local tooling) or cmd/.
func TestSharedIsTheRuntime(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "../../functions/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	linked := strings.Fields(string(out))
	const module = "github.com/pulse-sessions/pulse/"
	for _, pkg := range linked {
		if strings.HasPrefix(pkg, module+"internal/") || strings.HasPrefix(pkg, module+"cmd/") {
			t.Errorf("a function links the tooling package %s", pkg)
		}
	}
	all, err := exec.Command("go", "list", module+"shared/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, all)
	}
	for _, pkg := range strings.Fields(string(all)) {
		if !slices.Contains(linked, pkg) {
			t.Errorf("%s is under shared/ but no function links it: tooling belongs in internal/", pkg)
		}
	}
}

// Every route of the template is described in openapi.yaml (path and method), and openapi.yaml
// describes no route the template lacks: the step of adding an endpoint that nothing else
// would catch until a response failed validation.
func TestRoutesAreInOpenAPI(t *testing.T) {
	raw, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	described := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if slices.Contains([]string{"get", "put", "post", "delete", "patch"}, method) {
				described[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	for _, rt := range load(t).Routes() {
		if !described[rt.Key()] {
			t.Errorf("openapi.yaml does not describe %s (served by %s): add its path and method", rt.Key(), rt.Function)
		}
		delete(described, rt.Key())
	}
	for key := range described {
		t.Errorf("openapi.yaml describes %s, which no function of template.yaml serves", key)
	}
}
