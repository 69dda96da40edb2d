package e2e_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pulse-sessions/pulse/internal/apptest"
)

// strip removes what differs between two answers by nature (the trace ID, the path), so that an
// answer about another tenant's thing can be compared with one about a thing that never existed.
func strip(t *testing.T, r *apptest.Response) string {
	t.Helper()
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		return string(r.Body)
	}
	delete(m, "traceId")
	delete(m, "instance")
	if d, ok := m["detail"].(string); ok {
		m["detail"] = strings.NewReplacer("bonly", "X", "nobody", "X", "B1", "X", "B2", "X", "NOPE", "X", "t1", "X", "tnope", "X").Replace(d)
	}
	b, _ := json.Marshal(m)
	return fmt.Sprintf("%d %s", r.Status, b)
}

// Tenant A's key and tokens cannot read, change, revoke or even confirm the existence of tenant
// B's users, sessions or tokens: every answer is the one for a thing that does not exist, and
// B's data is untouched.
func TestTenantIsolation(t *testing.T) {
	e := apptest.New(t)
	a, b := apptest.Key(e.Key), apptest.Key(e.OKey)
	// Tenant B: a user only B has, a user ID both tenants use, sessions and a token.
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/api/users/bonly", `{"name":"B only","roles":["admin"]}`},
		{"PUT", "/api/users/both", `{"name":"B's","roles":["admin"]}`},
		{"POST", "/api/users/bonly/sessions", `{"client_id":"web","session_id":"B1"}`},
		{"POST", "/api/users/both/sessions", `{"client_id":"web","session_id":"B2"}`},
	} {
		if r := e.Do(req.method, req.path, req.body, b...); r.Status >= 300 {
			t.Fatalf("tenant B %s %s: %d", req.method, req.path, r.Status)
		}
	}
	r := e.Do("POST", "/api/users/bonly/tokens", `{"name":"t1"}`, b...)
	var btok struct{ AuthToken string }
	r.JSON(t, &btok)
	// Tenant A: its own user "both" with its own session.
	e.Do("PUT", "/api/users/both", `{"name":"A's","roles":["admin"]}`, a...)
	e.Do("POST", "/api/users/both/sessions", `{"client_id":"web","session_id":"A1"}`, a...)
	r = e.Do("POST", "/api/users/both/tokens", `{"name":"t1"}`, a...)
	var atok struct{ AuthToken string }
	r.JSON(t, &atok)

	before := e.Items()
	for _, tc := range []struct {
		name, method, path, body, twin string // twin: the same request for something that never existed
	}{
		{"read B's user", "GET", "/api/users/bonly", "", "/api/users/nobody"},
		{"delete B's user", "DELETE", "/api/users/bonly", "", "/api/users/nobody"},
		{"list B's sessions", "GET", "/api/users/bonly/sessions", "", "/api/users/nobody/sessions"},
		{"read B's session", "GET", "/api/users/bonly/sessions/B1", "", "/api/users/nobody/sessions/NOPE"},
		{"read B's session under A's own user ID", "GET", "/api/users/both/sessions/B2", "", "/api/users/both/sessions/NOPE"},
		{"heartbeat B's session", "POST", "/api/users/bonly/sessions/B1/activity", "", "/api/users/nobody/sessions/NOPE/activity"},
		{"revoke B's session", "DELETE", "/api/users/bonly/sessions/B1", "", "/api/users/nobody/sessions/NOPE"},
		{"revoke B's session under A's own user ID", "DELETE", "/api/users/both/sessions/B2", "", "/api/users/both/sessions/NOPE"},
		{"revoke all of B's user's sessions", "DELETE", "/api/users/bonly/sessions", "", "/api/users/nobody/sessions"},
		{"issue a token to B's user", "POST", "/api/users/bonly/tokens", `{"name":"x"}`, "/api/users/nobody/tokens"},
		{"revoke B's token", "DELETE", "/api/users/bonly/tokens/t1", "", "/api/users/nobody/tokens/tnope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.For(t)
			got := e.Do(tc.method, tc.path, tc.body, a...)
			twin := e.Do(tc.method, tc.twin, tc.body, a...)
			if got.Status != 404 {
				t.Errorf("%d %s, want 404", got.Status, got.Body)
			}
			if g, w := strip(t, got), strip(t, twin); g != w {
				t.Errorf("the answer tells B's thing from a missing one:\n%s\n%s", g, w)
			}
		})
	}
	if after := e.Items(); after != before {
		t.Errorf("tenant A's attempts changed %d items", after-before)
	}
	// B's data is intact and B's token works; A's heartbeat on the shared user ID touched only A's.
	if r := e.Do("GET", "/api/users/bonly/sessions/B1", "", b...); r.Status != 200 || strings.Contains(string(r.Body), "ended_at") {
		t.Errorf("B's session after A's attempts: %d %s", r.Status, r.Body)
	}
	q := "?start=2026-03-01T00:00:00.000Z&end=2026-03-31T00:00:00.000Z"
	const path = "/api/v1/engagement-dashboard/users/active-users"
	r = e.Do("GET", path+q, "", "X-User-Id", "bonly", "X-Auth-Token", btok.AuthToken)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"bonly"`) || strings.Contains(string(r.Body), `"A1"`) {
		t.Errorf("B's engagement: %d %s", r.Status, r.Body)
	}
	// A's admin token sees A's days only; B's token presented as A's user (same user ID) fails.
	r = e.Do("GET", path+q, "", "X-User-Id", "both", "X-Auth-Token", atok.AuthToken)
	if r.Status != 200 || strings.Contains(string(r.Body), "bonly") {
		t.Errorf("A's engagement shows B's users: %s", r.Body)
	}
	if r := e.Do("GET", path+q, "", "X-User-Id", "both", "X-Auth-Token", btok.AuthToken); r.Status != 401 {
		t.Errorf("B's token with A's user ID: %d, want 401", r.Status)
	}
	// The admin list of A holds A's sessions only.
	r = e.Do("GET", "/settings/users/active-users", "", a...)
	if strings.Contains(string(r.Body), "bonly") || !strings.Contains(string(r.Body), `"both"`) {
		t.Errorf("A's active users: %s", r.Body)
	}
	// IDs carrying key delimiters reach nothing.
	for _, path := range []string{"/api/users/both%23S%23B2", "/api/users/T%23globex%23U%23bonly", "/api/users/both/sessions/B2%23x"} {
		if r := e.Do("GET", path, "", a...); r.Status != 400 {
			t.Errorf("GET %s: %d %s, want 400", path, r.Status, r.Body)
		}
	}
}
