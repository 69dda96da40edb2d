package e2e_test

import (
	"strings"
	"testing"

	"github.com/pulse-sessions/pulse/internal/apptest"
)

// Strict input, the same on every route: a query string that does not parse is a 400 whether
// or not the route reads a parameter (before: 200 on routes that read none, 422 on
// /api/analytics/active-users); a body that is not one JSON object (null, an array), not UTF-8,
// or that names a key twice is a 400; a body without a JSON Content-Type is a 415. Each answer
// is in the surface's own format (checked against openapi.yaml by Do), and none writes anything.
func TestStrictInputEverywhere(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	if r := e.Do("PUT", "/api/users/boss", `{"name":"Boss","roles":["admin"]}`, key...); r.Status != 201 {
		t.Fatalf("PUT boss: %d %s", r.Status, r.Body)
	}
	r := e.Do("POST", "/api/users/boss/tokens", `{"name":"t"}`, key...)
	var tok struct{ AuthToken string }
	r.JSON(t, &tok)
	if err := e.Deps.Store.Grant(t.Context(), e.Tenant, "admin", "view-engagement-dashboard"); err != nil {
		t.Fatal(err)
	}
	rc := []string{"X-User-Id", "boss", "X-Auth-Token", tok.AuthToken}
	before := e.Items()

	routes := []struct {
		method, path string
		headers      []string
	}{
		{"GET", "/api/users/boss", key},
		{"GET", "/api/users/boss/sessions", key},
		{"DELETE", "/api/users/boss/sessions", key},
		{"GET", "/api/analytics/active-users?start=2026-03-01&end=2026-03-10", key},
		{"GET", "/api/sessions/active", key},
		{"GET", "/settings/users/active-users", key},
		{"GET", "/api/v1/engagement-dashboard/users/active-users?start=2026-03-01T00:00:00.000Z&end=2026-03-10T00:00:00.000Z", rc},
		{"GET", "/api/v1/engagement-dashboard/users/chat-busier/hourly-data?start=2026-03-10T00:00:00.000Z", rc},
		{"GET", "/dashboard", nil},
	}
	for _, rt := range routes {
		for _, bad := range []string{"x=%ZZ", "x=1;y=2", "start=%ZZ"} {
			sep := "?"
			if strings.Contains(rt.path, "?") {
				sep = "&"
			}
			if r := e.Do(rt.method, rt.path+sep+bad, "", rt.headers...); r.Status != 400 {
				t.Errorf("%s %s%s%s: %d %s, want 400", rt.method, rt.path, sep, bad, r.Status, r.Body)
			}
		}
	}

	// Rocket.Chat's order holds: authentication before parameters, a malformed query included,
	// and the refusal in its words.
	engage := "/api/v1/engagement-dashboard/users/chat-busier/hourly-data?start=2026-03-10T00:00:00.000Z&x=%ZZ"
	if r := e.Do("GET", engage, ""); r.Status != 401 {
		t.Errorf("engagement, no token, malformed query: %d %s, want 401 first", r.Status, r.Body)
	}
	if r := e.Do("GET", engage, "", rc...); r.Status != 400 || !strings.Contains(string(r.Body), "Match error: Failed Match.Where validation in field x") {
		t.Errorf("engagement, malformed query: %d %s, want Rocket.Chat's Match error", r.Status, r.Body)
	}

	bodies := []struct {
		name, body, contentType string
		want                    int
	}{
		{"null", `null`, "application/json", 400},
		{"an array", `[{"name":"x"}]`, "application/json", 400},
		{"a string", `"x"`, "application/json", 400},
		{"invalid UTF-8", "{\"name\":\"\xff\xfe\"}", "application/json", 400},
		{"a key twice", `{"name":"a","name":"b"}`, "application/json", 400},
		{"a key twice, nested", `{"client_id":"web","x":{"a":1,"a":2}}`, "application/json", 400},
		{"no Content-Type", `{"name":"x","client_id":"web"}`, "", 415},
		{"text/plain", `{"name":"x","client_id":"web"}`, "text/plain", 415},
	}
	for _, target := range []string{"PUT /api/users/newbie", "POST /api/users/newbie/sessions", "POST /api/users/boss/tokens"} {
		method, path, _ := strings.Cut(target, " ")
		for _, b := range bodies {
			if r := e.Do(method, path, b.body, append(append([]string{}, key...), "Content-Type", "", "Content-Type", b.contentType)...); r.Status != b.want {
				t.Errorf("%s with %s: %d %s, want %d", target, b.name, r.Status, r.Body, b.want)
			}
		}
	}
	if after := e.Items(); after != before {
		t.Errorf("the refused requests wrote %d items", after-before)
	}
}
