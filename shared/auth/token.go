package auth

import (
	"context"
	"net/http"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Tokens is what the token authorizer reads: the token with its user (whose roles count).
type Tokens interface {
	AuthenticateToken(ctx context.Context, user, secret string) (*pulse.AccessToken, *pulse.User, error)
}

var _ Tokens = (*store.Store)(nil)

// RequireKeyOrToken serves a route that takes an API key with scope and, when perm is set, a
// personal access token whose user's roles hold perm (the dashboard page holds no API key). A
// request with token headers and no API key is checked as a token; any other as a key.
func RequireKeyOrToken(keys Keys, tokens Tokens, tenants *store.Tenants, scope pulse.Scope, perm pulse.Permission, o KeyOptions, next httpx.HandlerFunc) httpx.HandlerFunc {
	byKey := RequireKey(keys, scope, o, next)
	if perm == "" {
		return byKey
	}
	byToken := RequireToken(tokens, tenants, perm, next)
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, keyed := keyFrom(r, o); !keyed && len(r.Header.Values("X-API-KEY")) == 0 && len(r.Header.Values("X-Auth-Token")) > 0 {
			return byToken(w, r)
		}
		return byKey(w, r)
	}
}

// RequireToken lets a request through to next when x-user-id and x-auth-token name a valid
// personal access token of that very user (EUNAUTHORIZED otherwise: a token presented with
// another user's ID included), and the user's roles hold perm in the token's tenant
// (EFORBIDDEN otherwise). Checks run in that order, as in Rocket.Chat.
func RequireToken(tokens Tokens, tenants *store.Tenants, perm pulse.Permission, next httpx.HandlerFunc) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		const op = "authenticate token"
		unauthorized := pulse.Unauthorized(op, pulse.EntityToken)
		userID, ok1 := httpx.Single(r, "X-User-Id")
		secret, ok2 := httpx.Single(r, "X-Auth-Token")
		if !ok1 || !ok2 || pulse.ValidID(userID) != nil {
			return unauthorized
		}
		tok, user, err := tokens.AuthenticateToken(r.Context(), userID, secret)
		if err != nil {
			return err
		}
		tenant, _, err := tenants.Get(r.Context(), tok.TenantID)
		if err != nil {
			return err
		}
		if perm != pulse.PermSignedIn && !tenant.Allows(user.Roles, perm) {
			return pulse.Forbidden(op, pulse.ReasonNeedPerm, string(perm))
		}
		p := &pulse.Principal{TenantID: tok.TenantID, UserID: tok.UserID}
		for _, q := range pulse.AllPermissions {
			if tenant.Allows(user.Roles, q) {
				p.Permissions = append(p.Permissions, q)
			}
		}
		return next(w, r.WithContext(pulse.WithPrincipal(r.Context(), p)))
	}
}
