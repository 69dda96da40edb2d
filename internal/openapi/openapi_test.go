package openapi_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddblocal"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// A TypeScript client generated from openapi.yaml compiles under tsc's strict checks and calls
// the local API: a login, a page of the user's sessions with its X-Pagination, and a typed
// problem for an unknown user (client.test.mts).
func TestGeneratedTypeScriptClient(t *testing.T) {
	root, err := ddblocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := func(name string) string {
		p := filepath.Join(root, "node_modules", ".bin", name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is not installed: run make tools (npm ci)", name)
		}
		return p
	}
	dir := t.TempDir()
	for _, f := range []string{"client.test.mts", "tsconfig.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The client's imports (openapi-fetch, Node's types) resolve from the project's node_modules.
	if err := os.Symlink(filepath.Join(root, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	run := func(env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(nil, bin("openapi-typescript"), filepath.Join(root, "openapi.yaml"), "--output", filepath.Join(dir, "pulse.d.mts"))
	run(nil, bin("tsc"), "-p", dir)

	e := apptest.New(t)
	out := run([]string{"PULSE_URL=" + e.URL, "PULSE_KEY=" + e.Key}, "node", "--test", filepath.Join(dir, "out", "client.test.mjs"))
	if !strings.Contains(out, "# pass 3") || !strings.Contains(out, "# fail 0") {
		t.Errorf("node --test: want 3 passed, 0 failed:\n%s", out)
	}
}
