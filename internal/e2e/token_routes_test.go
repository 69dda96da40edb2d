package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// The routes the dashboard page reads take a personal access token whose user's roles hold the
// route's permission, instead of an API key: refused (in the surface's own format) until the
// permission is granted, then served; a token never reaches a route that has no permission.
func TestTokenReachesGrantedRoutes(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	key := apptest.Key(e.Key)
	for _, u := range []string{"ops", "alice"} {
		if r := e.Do("PUT", "/api/users/"+u, `{"name":"`+u+`","roles":["support"]}`, key...); r.Status != 201 {
			t.Fatal(r.Status)
		}
	}
	r := e.Do("POST", "/api/users/alice/sessions", `{"client_id":"web","session_id":"S1"}`, key...)
	if r.Status != 201 {
		t.Fatal(r.Status)
	}
	tok, _, err := e.Deps.Store.CreateToken(ctx, e.Tenant, "ops", "dash", 0)
	if err != nil {
		t.Fatal(err)
	}
	as := []string{"X-User-Id", "ops", "X-Auth-Token", tok}
	routes := []struct {
		method, path string
		perm         pulse.Permission
		denied, ok   int
		deniedBody   string
	}{
		{"GET", "/settings/users/active-users", pulse.PermViewActiveUsers, 403, 200, `"error.code":"MD022"`},
		{"GET", "/api/sessions/active", pulse.PermViewActiveUsers, 403, 200, "lack the view-active-users permission"},
		{"GET", "/api/sessions?browser=Chrome", pulse.PermViewActiveUsers, 403, 200, "lack the view-active-users permission"},
		{"GET", "/api/users/alice/sessions?status=all", pulse.PermViewUserSessions, 403, 200, "lack the view-user-sessions permission"},
		{"GET", "/api/analytics/active-users?start=2026-03-01&end=2026-03-10", pulse.PermViewEngagement, 403, 200, "view-engagement-dashboard"},
		{"DELETE", "/api/users/alice/sessions/S1", pulse.PermRevokeSessions, 403, 204, "lack the revoke-sessions permission"},
		{"DELETE", "/api/users/alice/sessions", pulse.PermRevokeSessions, 403, 204, "lack the revoke-sessions permission"},
		{"POST", "/api/sessions/revoke?user_id=alice&dry_run=true", pulse.PermRevokeSessions, 403, 200, "lack the revoke-sessions permission"},
	}
	for _, rt := range routes {
		if r := e.Do(rt.method, rt.path, "", as...); r.Status != rt.denied || !strings.Contains(string(r.Body), rt.deniedBody) {
			t.Errorf("%s %s before the grant: %d %s, want %d with %s", rt.method, rt.path, r.Status, r.Body, rt.denied, rt.deniedBody)
		}
	}
	for _, rt := range routes {
		if err := e.Deps.Store.Grant(ctx, e.Tenant, "support", rt.perm); err != nil {
			t.Fatal(err)
		}
	}
	e.Clock.Add(2 * time.Minute) // containers hold a tenant's grants for a minute
	for _, rt := range routes {
		if r := e.Do(rt.method, rt.path, "", as...); r.Status != rt.ok {
			t.Errorf("%s %s after the grant: %d %s, want %d", rt.method, rt.path, r.Status, r.Body, rt.ok)
		}
	}
	// A revoke by token is audit-logged with the operator who made it.
	for _, msg := range []string{`"msg":"session revoked"`, `"msg":"user's sessions revoked"`} {
		named := false
		for _, line := range strings.Split(e.Logs.String(), "\n") {
			named = named || strings.Contains(line, msg) && strings.Contains(line, `"by_user":"ops"`)
		}
		if !named {
			t.Errorf("no audit line %s naming the operator ops", msg)
		}
	}
	// Routes without a permission take no token; a wrong token is 401 in the surface's words.
	if r := e.Do("GET", "/api/users/alice", "", as...); r.Status != 401 || !strings.Contains(string(r.Body), "API key") {
		t.Errorf("a token on a key-only route: %d %s, want 401", r.Status, r.Body)
	}
	if r := e.Do("GET", "/api/sessions/active", "", "X-User-Id", "ops", "X-Auth-Token", "wrong"); r.Status != 401 || !strings.Contains(string(r.Body), "access token") {
		t.Errorf("a wrong token: %d %s, want 401 naming the access token", r.Status, r.Body)
	}
}
