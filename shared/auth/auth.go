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

// RequireKey lets a request through to next when it carries a valid API key with scope, and
// stores the key's principal in the request context. A missing, unknown or revoked key is
// EUNAUTHORIZED, a key without the scope EFORBIDDEN; the surface writes either in its format.
func RequireKey(keys Keys, scope pulse.Scope, o KeyOptions, next httpx.HandlerFunc) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		const op = "authenticate API key"
		secret, ok := keyFrom(r, o)
		if !ok {
			return pulse.Unauthorized(op, pulse.EntityAPIKey)
		}
		k, err := keys.Authenticate(r.Context(), secret)
		if err != nil {
			return err
		}
		if !k.Has(scope) {
			return pulse.Forbidden(op, pulse.ReasonNeedScope, string(scope))
		}
		p := &pulse.Principal{TenantID: k.TenantID, KeyID: k.ID, Scopes: k.Scopes}
		return next(w, r.WithContext(pulse.WithPrincipal(r.Context(), p)))
	}
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
