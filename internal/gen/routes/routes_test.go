package routes

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pulse-sessions/pulse/shared/httpx"
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

// A missing events/ file is generated as a payload 2.0 event that reaches its route, with the
// surface's credential placeholders.
func TestEventStub(t *testing.T) {
	for _, tc := range []struct{ key, pkg, header string }{
		{"POST /api/users/{user_id}/sessions/{session_id}/x", "manage", "x-api-key"},
		{"GET /api/v1/engagement-dashboard/users/x", "engage", "x-auth-token"},
	} {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(eventStub(tc.key, tc.pkg), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Version != "2.0" || ev.RouteKey != tc.key || ev.RequestContext.RouteKey != tc.key || ev.RequestContext.HTTP.SourceIP == "" ||
			ev.RequestContext.RequestID == "" || !strings.HasPrefix(ev.Headers[tc.header], "$PULSE_") {
			t.Errorf("%s: %+v", tc.key, ev)
		}
		r := httptest.NewRequest(ev.RequestContext.HTTP.Method, ev.RawPath, nil)
		if !httpx.Match(tc.key, r) {
			t.Errorf("%s: the stub's path %s does not reach the route", tc.key, ev.RawPath)
		}
		if strings.HasPrefix(tc.key, "POST") && (ev.Body != "{}" || ev.Headers["content-type"] != "application/json") {
			t.Errorf("%s: body %q, content type %q", tc.key, ev.Body, ev.Headers["content-type"])
		}
	}
}
