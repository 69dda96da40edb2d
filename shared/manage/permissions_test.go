package manage_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// GET /api/permissions tells a token's user what their roles allow (any valid token may ask),
// and an API key its scopes; a wrong token is 401.
func TestPermissions(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := e.Deps.Store.Grant(ctx, e.Tenant, "support", pulse.PermViewActiveUsers); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct{ id, roles string }{{"boss", `["admin"]`}, {"helper", `["support"]`}, {"visitor", `[]`}} {
		if r := e.Do("PUT", "/api/users/"+u.id, `{"roles":`+u.roles+`}`, apptest.Key(e.Key)...); r.Status != 201 {
			t.Fatal(r.Status)
		}
	}
	for _, tc := range []struct {
		user string
		want map[string]any
	}{
		{"boss", map[string]any{"user_id": "boss", "permissions": []any{"view-engagement-dashboard", "view-active-users", "view-user-sessions", "revoke-sessions"}}},
		{"helper", map[string]any{"user_id": "helper", "permissions": []any{"view-active-users"}}},
		{"visitor", map[string]any{"user_id": "visitor", "permissions": []any{}}},
	} {
		tok, _, err := e.Deps.Store.CreateToken(ctx, e.Tenant, tc.user, "dashboard", 0)
		if err != nil {
			t.Fatal(err)
		}
		r := e.Do("GET", "/api/permissions", "", "X-User-Id", tc.user, "X-Auth-Token", tok)
		var got map[string]any
		r.JSON(t, &got)
		if r.Status != 200 || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %d %v, want %v", tc.user, r.Status, got, tc.want)
		}
	}
	key := e.NewTenant(e.Tenant, pulse.ScopeUsersRead)
	r := e.Do("GET", "/api/permissions", "", apptest.Key(key)...)
	if r.Status != 200 || string(r.Body) != `{"permissions":[],"scopes":["users:read"]}`+"\n" {
		t.Errorf("a key: %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", "/api/permissions", "", "X-User-Id", "boss", "X-Auth-Token", "wrong"); r.Status != 401 {
		t.Errorf("a wrong token: %d %s", r.Status, r.Body)
	}
}
