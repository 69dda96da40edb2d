package routes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The committed files generated from template.yaml are what the generator makes of it now:
// editing a route in template.yaml or a surface without `go generate ./...` fails here.
func TestGeneratedFilesAreFresh(t *testing.T) {
	files, err := Generate("../../..")
	if err != nil {
		t.Fatal(err)
	}
	stale, err := Stale("../../..", files)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Errorf("stale generated files (run go generate ./...): %s", strings.Join(stale, ", "))
	}
}

// The check itself can fail: a main.go changed by hand, or a function folder the template
// no longer has, is reported.
func TestStaleFindsDrift(t *testing.T) {
	root := t.TempDir()
	files, err := Generate("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "functions", "gone-away"), 0o755); err != nil {
		t.Fatal(err)
	}
	var all []string
	for p := range files {
		all = append(all, p)
	}
	if err := Write(root, files, all); err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join("functions", "get-user", "main.go")
	if err := os.WriteFile(filepath.Join(root, edited), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stale, err := Stale(root, files)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(stale, ", ")
	if !strings.Contains(got, edited) || !strings.Contains(got, "gone-away") || len(stale) != 2 {
		t.Errorf("stale = %s, want %s and functions/gone-away", got, edited)
	}
}

func TestFolder(t *testing.T) {
	for id, want := range map[string]string{
		"ListUserSessionsFunction":       "list-user-sessions",
		"GetUserFunction":                "get-user",
		"CleanupExpiredSessionsFunction": "cleanup-expired-sessions",
	} {
		if got := Folder(id); got != want {
			t.Errorf("Folder(%s) = %s, want %s", id, got, want)
		}
	}
}
