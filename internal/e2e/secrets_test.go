package e2e_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// A full run — every kind of request, successful and refused — logs no API key or token, and a
// revoked key or token is refused at once.
func TestSecretsNeverLogged(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	key := apptest.Key(e.Key)
	secrets := []string{e.Key, e.OKey, apptest.OriginSecret}
	revokedKey, k, err := e.Deps.Store.CreateAPIKey(ctx, "acme", "to revoke", pulse.AllScopes)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, revokedKey)
	e.Do("PUT", "/api/users/boss", `{"roles":["admin"]}`, key...)
	r := e.Do("POST", "/api/users/boss/tokens", `{"name":"t"}`, key...)
	var tok struct{ AuthToken string }
	r.JSON(t, &tok)
	secrets = append(secrets, tok.AuthToken)
	r = e.Do("POST", "/api/users/boss/tokens", `{"name":"gone"}`, key...)
	var gone struct{ AuthToken string }
	r.JSON(t, &gone)
	secrets = append(secrets, gone.AuthToken)
	e.Do("DELETE", "/api/users/boss/tokens/gone", "", key...)

	const days = "/api/v1/engagement-dashboard/users/active-users?start=2026-03-01T00:00:00.000Z&end=2026-03-10T23:59:59.999Z"
	for _, req := range []struct {
		method, path, body string
		headers            []string
	}{
		{"POST", "/api/users/u1/sessions", `{"client_id":"web","session_id":"S1"}`, append(key, "CloudFront-Viewer-Country", "FR")}, // with the origin secret
		{"POST", "/api/users/u2/sessions", `{"client_id":"web"}`, append(key, "CloudFront-Viewer-Country", "FR", "X-Pulse-Origin-Secret", apptest.OriginSecret[:31])},
		{"POST", "/api/users/u1/sessions/S1/activity", `{"client_id":"mobile"}`, key},
		{"GET", "/api/users/u1/sessions", "", key},
		{"GET", "/api/users/u1/sessions/S1", "", key},
		{"GET", "/settings/users/active-users", "", []string{"Authorization", "Bearer " + e.Key}},
		{"GET", days, "", []string{"X-User-Id", "boss", "X-Auth-Token", tok.AuthToken}},
		{"GET", days, "", []string{"X-User-Id", "boss", "X-Auth-Token", gone.AuthToken}},
		{"GET", days, "", []string{"X-User-Id", "u1", "X-Auth-Token", tok.AuthToken}},
		{"GET", "/api/users/u1", "", apptest.Key(e.Key + "x")},
		{"GET", "/api/users/u1", "", apptest.Key(e.OKey)},
		{"GET", "/settings/users/active-users", "", apptest.Key(e.Key[:20])},
		{"POST", "/api/users/u1/sessions", `{"client_id":"` + e.Key + `"}`, key},
		{"PUT", "/api/users/u1", `{"name":"` + tok.AuthToken + `"}`, key},
		{"DELETE", "/api/users/u1/sessions/S1", "", key},
	} {
		e.Do(req.method, req.path, req.body, req.headers...)
	}
	if err := e.Deps.Store.RevokeAPIKey(ctx, "acme", k.ID); err != nil {
		t.Fatal(err)
	}
	if r := e.Do("GET", "/api/users/u1", "", apptest.Key(revokedKey)...); r.Status != 401 {
		t.Errorf("a revoked API key: %d, want 401 at once", r.Status)
	}
	if r := e.Do("GET", days, "", "X-User-Id", "boss", "X-Auth-Token", gone.AuthToken); r.Status != 401 {
		t.Errorf("a revoked token: %d, want 401 at once", r.Status)
	}

	logs := e.Logs.String()
	if strings.Count(logs, "\n") < 15 {
		t.Fatalf("only %d log lines captured: the test would prove nothing", strings.Count(logs, "\n"))
	}
	for _, s := range secrets {
		for _, part := range []string{s, strings.TrimPrefix(s, "pulse_")[:20]} {
			if strings.Contains(logs, part) {
				t.Errorf("the logs hold a credential (or its first 20 characters)")
			}
		}
	}
	if strings.Contains(logs, "pulse_") {
		t.Error("the logs hold something that looks like an API key")
	}
}
