// Package auth is the authorizers of Pulse as middleware rather than API Gateway authorizers,
// so that each surface answers a failed check in its own wire format. It never logs or echoes
// a credential.
package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// Keys finds the valid API key for a secret.
type Keys interface {
	Authenticate(ctx context.Context, secret string) (*pulse.APIKey, error)
}

// KeyOptions says where a surface accepts API keys.
type KeyOptions struct {
	Bearer bool // also accept "Authorization: Bearer <key>"
}

// RequireKey lets a request through when it carries a valid API key with scope, and stores the
// key's principal in the request context. A missing, unknown or revoked key is EUNAUTHORIZED,
// a key without the scope EFORBIDDEN; fail writes either in the surface's format.
func RequireKey(keys Keys, scope pulse.Scope, o KeyOptions, fail httpx.ErrorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := keyFrom(r, o)
		if !ok {
			fail(w, r, pulse.Errorf(pulse.EUNAUTHORIZED, "Invalid or missing API key."))
			return
		}
		k, err := keys.Authenticate(r.Context(), secret)
		if err != nil {
			fail(w, r, err)
			return
		}
		if !k.Has(scope) {
			fail(w, r, pulse.Errorf(pulse.EFORBIDDEN, "The API key lacks the %s scope.", scope))
			return
		}
		p := &pulse.Principal{TenantID: k.TenantID, KeyID: k.ID, Scopes: k.Scopes}
		next.ServeHTTP(w, r.WithContext(pulse.WithPrincipal(r.Context(), p)))
	})
}

func keyFrom(r *http.Request, o KeyOptions) (string, bool) {
	if len(r.Header.Values("X-API-KEY")) > 0 {
		return httpx.Single(r, "X-API-KEY")
	}
	if o.Bearer {
		if v, ok := httpx.Single(r, "Authorization"); ok {
			if scheme, token, found := strings.Cut(v, " "); found && strings.EqualFold(scheme, "Bearer") {
				token = strings.TrimSpace(token)
				return token, token != ""
			}
		}
	}
	return "", false
}
