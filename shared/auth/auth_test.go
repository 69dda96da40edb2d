package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pulse-sessions/pulse/shared/pulse"
)

// keys stands in for the store's key lookup (the store's own, against DynamoDB Local, is
// tested in shared/store): these tests are about where a key is read from and what follows.
type keys map[string]*pulse.APIKey

func (k keys) Authenticate(_ context.Context, secret string) (*pulse.APIKey, error) {
	if key, ok := k[secret]; ok {
		return key, nil
	}
	return nil, pulse.Unauthorized("authenticate API key", pulse.EntityAPIKey)
}

// tokens records that the token path was taken and refuses every token.
type tokens struct{ asked *string }

func (t tokens) AuthenticateToken(_ context.Context, user, _ string) (*pulse.AccessToken, *pulse.User, error) {
	*t.asked = user
	return nil, nil, pulse.Unauthorized("authenticate token", pulse.EntityToken)
}

var stored = keys{
	"reader": {ID: "K1", TenantID: "acme", Scopes: []pulse.Scope{pulse.ScopeSessionsRead}},
	"writer": {ID: "K2", TenantID: "acme", Scopes: []pulse.Scope{pulse.ScopeSessionsWrite}},
}

// serve runs RequireKey (or RequireKeyOrToken, when tok is set) for headers and returns the
// error code and the principal the endpoint saw.
func serve(t *testing.T, o KeyOptions, tok Tokens, headers ...string) (string, *pulse.Principal) {
	t.Helper()
	var seen *pulse.Principal
	next := func(w http.ResponseWriter, r *http.Request) error {
		seen = pulse.PrincipalFrom(r.Context())
		return nil
	}
	h := RequireKey(stored, pulse.ScopeSessionsRead, o, next)
	if tok != nil {
		h = RequireKeyOrToken(stored, tok, nil, pulse.ScopeSessionsRead, pulse.PermViewUserSessions, o, next)
	}
	r := httptest.NewRequest("GET", "/", nil)
	for i := 0; i < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	if err := h(httptest.NewRecorder(), r); err != nil {
		return pulse.ErrorCode(err), seen
	}
	return "", seen
}

func TestRequireKey(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       KeyOptions
		headers []string
		want    string
	}{
		{"no key", KeyOptions{}, nil, pulse.EUNAUTHORIZED},
		{"unknown key", KeyOptions{}, []string{"X-API-KEY", "nope"}, pulse.EUNAUTHORIZED},
		{"key without the scope", KeyOptions{}, []string{"X-API-KEY", "writer"}, pulse.EFORBIDDEN},
		{"key sent twice", KeyOptions{}, []string{"X-API-KEY", "reader", "X-API-KEY", "reader"}, pulse.EUNAUTHORIZED},
		{"empty key", KeyOptions{}, []string{"X-API-KEY", ""}, pulse.EUNAUTHORIZED},
		{"bearer where the surface takes none", KeyOptions{}, []string{"Authorization", "Bearer reader"}, pulse.EUNAUTHORIZED},
		{"bearer", KeyOptions{Bearer: true}, []string{"Authorization", "bearer  reader "}, ""},
		{"basic is not bearer", KeyOptions{Bearer: true}, []string{"Authorization", "Basic reader"}, pulse.EUNAUTHORIZED},
		{"empty bearer", KeyOptions{Bearer: true}, []string{"Authorization", "Bearer  "}, pulse.EUNAUTHORIZED},
		// X-API-KEY, when present, is the credential: a valid bearer does not rescue a bad key.
		{"bad key beside a good bearer", KeyOptions{Bearer: true}, []string{"X-API-KEY", "nope", "Authorization", "Bearer reader"}, pulse.EUNAUTHORIZED},
		{"key", KeyOptions{}, []string{"X-API-KEY", "reader"}, ""},
	} {
		code, p := serve(t, tc.o, nil, tc.headers...)
		if code != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, code, tc.want)
		}
		if tc.want == "" && (p == nil || p.TenantID != "acme" || p.KeyID != "K1") {
			t.Errorf("%s: principal %+v, want acme's K1", tc.name, p)
		}
		if tc.want != "" && p != nil {
			t.Errorf("%s: the endpoint ran", tc.name)
		}
	}
}

// A request with token headers and no API key is checked as a token; with a key, as a key.
func TestRequireKeyOrTokenPicksTheCredential(t *testing.T) {
	var asked string
	code, _ := serve(t, KeyOptions{}, tokens{&asked}, "X-User-Id", "ops", "X-Auth-Token", "t")
	if code != pulse.EUNAUTHORIZED || asked != "ops" {
		t.Errorf("token headers: %q, token path asked for %q", code, asked)
	}
	asked = ""
	code, p := serve(t, KeyOptions{}, tokens{&asked}, "X-API-KEY", "reader", "X-User-Id", "ops", "X-Auth-Token", "t")
	if code != "" || p == nil || asked != "" {
		t.Errorf("key and token headers: %q, principal %+v, token path asked for %q", code, p, asked)
	}
	if code, _ := serve(t, KeyOptions{}, tokens{&asked}, "X-User-Id", "ops"); code != pulse.EUNAUTHORIZED || asked != "" {
		t.Errorf("a user ID without a token: %q (token path asked for %q), want the key path's 401", code, asked)
	}
}
