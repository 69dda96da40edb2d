package app

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulse-sessions/pulse/internal/lambdarun"
	"github.com/pulse-sessions/pulse/internal/template"
)

const (
	module      = "github.com/pulse-sessions/pulse/"
	eventBridge = "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	dynamoDB    = "github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// servedBy are the packages under shared/ that a function serves: one surface or one task.
var servedBy = []string{"manage", "admin", "engage", "dashboard", "cleanup", "publish"}

// linkSets returns, by folder under functions/, the packages each function's binary links, as
// go list reports them with the build's tags; overlay (a go list -overlay file) stands in for
// files of the tree.
func linkSets(t *testing.T, overlay string) map[string][]string {
	t.Helper()
	args := []string{"list", "-tags", "lambda.norpc", "-f", `{{.ImportPath}} {{join .Deps " "}}`}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	out, err := exec.Command("go", append(args, "../../functions/...")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	sets := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		sets[strings.TrimPrefix(f[0], module+"functions/")] = f[1:]
	}
	return sets
}

// linkProblems checks one function's link set: it links the one package it serves (pkg) and no
// other surface or task — so no HTTP function links the dashboard's assets, another surface's
// texts or the publisher — and only the publisher links the EventBridge SDK.
func linkProblems(function, pkg string, deps []string) []string {
	var out []string
	for _, p := range servedBy {
		if linked := slices.Contains(deps, module+"shared/"+p); linked != (p == pkg) {
			if linked {
				out = append(out, function+" links shared/"+p+", which it does not serve")
			} else {
				out = append(out, function+" does not link shared/"+p+", which it serves")
			}
		}
	}
	if pkg != "publish" && slices.Contains(deps, eventBridge) {
		out = append(out, function+" links the EventBridge SDK: only the publisher puts events")
	}
	if OpensWithLog(pkg) && slices.Contains(deps, dynamoDB) {
		out = append(out, function+" links the DynamoDB SDK: it reads no table")
	}
	return out
}

// packageOf returns the package under shared/ that a function serves, from the surfaces' routes
// and the tasks (the generator's source for its main.go).
func packageOf(t *testing.T) map[string]string {
	t.Helper()
	tpl := load(t)
	out := map[string]string{}
	byKey := map[string]string{}
	for _, r := range Routes() {
		byKey[r.Key] = r.Package
	}
	for _, rt := range tpl.Routes() {
		out[rt.Function] = byKey[rt.Key()]
	}
	for _, id := range Tasks() {
		out[id] = TaskPackage(id)
	}
	return out
}

// Each function links what it serves and nothing of the others: its surface (or task), never a
// second surface, the dashboard or EventBridge (but the publisher). Measured with go list on the
// built tree, as `sam build` compiles it.
func TestEachFunctionLinksWhatItServes(t *testing.T) {
	folders, err := lambdarun.Targets("../..")
	if err != nil {
		t.Fatal(err)
	}
	sets := linkSets(t, "")
	for id, pkg := range packageOf(t) {
		deps, ok := sets[folders[id]]
		if !ok {
			t.Errorf("%s: go list did not report functions/%s", id, folders[id])
			continue
		}
		for _, p := range linkProblems(id, pkg, deps) {
			t.Error(p)
		}
	}
	if !slices.Contains(sets[folders["PublishEventsFunction"]], eventBridge) {
		t.Error("the publisher does not link the EventBridge SDK: the check would hold whatever it links")
	}
}

// The check fails when a main links more: get-user's main.go, overlaid with one that also
// imports the dashboard and the EventBridge SDK, is reported for both; the dashboard's, overlaid
// with one that imports the store, for the DynamoDB SDK.
func TestLinkCheckCatchesAMainThatLinksMore(t *testing.T) {
	for _, c := range []struct {
		function, folder, pkg string
		imports               []string
		want                  []string
	}{
		{"GetUserFunction", "get-user", "manage",
			[]string{eventBridge, module + "shared/dashboard"},
			[]string{"GetUserFunction links shared/dashboard, which it does not serve",
				"GetUserFunction links the EventBridge SDK: only the publisher puts events"}},
		{"DashboardFunction", "dashboard", "dashboard",
			[]string{module + "shared/store"},
			[]string{"DashboardFunction links the DynamoDB SDK: it reads no table"}},
	} {
		main, err := filepath.Abs("../../functions/" + c.folder + "/main.go")
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(main)
		if err != nil {
			t.Fatal(err)
		}
		blank := "import (\n"
		for _, imp := range c.imports {
			blank += "\t_ \"" + imp + "\"\n"
		}
		fat := strings.Replace(string(src), "import (\n", blank, 1)
		dir := t.TempDir()
		replaced := filepath.Join(dir, "main.go")
		if err := os.WriteFile(replaced, []byte(fat), 0o644); err != nil {
			t.Fatal(err)
		}
		overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{main: replaced}})
		overlayFile := filepath.Join(dir, "overlay.json")
		if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
			t.Fatal(err)
		}
		got := linkProblems(c.function, c.pkg, linkSets(t, overlayFile)[c.folder])
		if !slices.Equal(got, c.want) {
			t.Errorf("%s's main importing %q: %q, want %q", c.function, c.imports, got, c.want)
		}
	}
}

// Wire text is written only by the surfaces: no package that every surface shares builds an
// error with a message (pulse.Errorf, or an Error literal with Message), so that each surface
// words the vocabulary in its own errors file and two surfaces never send one sentence.
func TestWireTextOnlyInSurfaces(t *testing.T) {
	surfaces := []string{"manage", "admin", "engage", "dashboard"}
	_, root, err := template.Repo()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "shared", "*", "*.go"))
	if err != nil || len(files) < 20 {
		t.Fatalf("%d files under shared/ (%v): the check would look at nothing", len(files), err)
	}
	fset := token.NewFileSet()
	for _, path := range files {
		pkg := filepath.Base(filepath.Dir(path))
		if slices.Contains(surfaces, pkg) || strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Errorf" && fmt.Sprint(sel.X) == "pulse" {
					t.Errorf("%s: pulse.Errorf outside a surface: return a code and a reason, and word it in the surfaces' errors files", fset.Position(n.Pos()))
				}
			case *ast.KeyValueExpr:
				if id, ok := n.Key.(*ast.Ident); ok && id.Name == "Message" && pkg != "pulse" {
					t.Errorf("%s: an error message outside a surface", fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
}
