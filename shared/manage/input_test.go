package manage_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pulse-sessions/pulse/internal/apptest"
)

// "." and ".." are refused as IDs everywhere, in paths and in bodies, and a dot segment in a
// path reaches the route as a parameter (as in API Gateway) instead of being redirected to
// another route.
func TestDotSegmentIDsRefused(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	e.Do("PUT", "/api/users/victim", `{"name":"V"}`, key...)
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/api/users/%2E%2E", `{"name":"x"}`},
		{"PUT", "/api/users/.", `{"name":"x"}`},
		{"GET", "/api/users/..", ""},
		{"DELETE", "/api/users/victim/sessions/..", ""},
		{"DELETE", "/api/users/victim/sessions/.", ""},
		{"GET", "/api/users/victim/sessions/%2E%2E", ""},
	} {
		req, _ := http.NewRequest(c.method, e.URL+c.path, strings.NewReader(c.body))
		req.URL.RawPath = c.path // sent as is: no client-side cleaning
		req.URL.Opaque = c.path
		req.Header.Set("X-API-KEY", e.Key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		apptest.CheckWire(t, req, resp, body)
		if resp.StatusCode != 400 {
			t.Errorf("%s %s: %d (Location %q), want 400", c.method, c.path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	r := e.Do("POST", "/api/users/victim/sessions", `{"client_id":"web","session_id":".."}`, key...)
	if r.Status != 422 || !strings.Contains(string(r.Body), "session_id") {
		t.Errorf("session_id \"..\": %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", "/api/users/victim", "", key...); r.Status != 200 {
		t.Errorf("the user after the attempts: %d", r.Status)
	}
}

// A role with ':' is refused: "role:permission" must read one way only.
func TestRoleWithColonRefused(t *testing.T) {
	e := apptest.New(t)
	r := e.Do("PUT", "/api/users/alice", `{"name":"A","roles":["ana:lyst"]}`, apptest.Key(e.Key)...)
	if r.Status != 422 || !strings.Contains(string(r.Body), "roles") {
		t.Errorf("role ana:lyst: %d %s", r.Status, r.Body)
	}
	if err := e.Deps.Store.Grant(t.Context(), e.Tenant, "ana:lyst", "view-engagement-dashboard"); err == nil {
		t.Error("a grant to ana:lyst was accepted")
	}
}

// A query string that cannot be parsed is a 400, not a request with defaults.
func TestUnparseableQueryRefused(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	e.Do("PUT", "/api/users/alice", `{"name":"A"}`, key...)
	for _, q := range []string{"?size=5;x", "?page=%ZZ", "?status=bogus;"} {
		if r := e.Do("GET", "/api/users/alice/sessions"+q, "", key...); r.Status != 400 {
			t.Errorf("list%s: %d %s", q, r.Status, r.Body)
		}
	}
	if r := e.Do("GET", "/settings/users/active-users?limit=0;x", "", key...); r.Status != 400 || !strings.Contains(string(r.Body), "MD031") {
		t.Errorf("admin ?limit=0;x: %d %s", r.Status, r.Body)
	}
}
