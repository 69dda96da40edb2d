package auth

import (
	"context"
	"net/http"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Tokens is what the token authorizer reads: the token, its user's roles, the tenant's grants.
type Tokens interface {
	AuthenticateToken(ctx context.Context, user, secret string) (*pulse.AccessToken, error)
	GetUser(ctx context.Context, tenant, id string) (*pulse.User, error)
}

var _ Tokens = (*store.Store)(nil)

// RequireToken lets a request through when x-user-id and x-auth-token name a valid personal
// access token of that very user (EUNAUTHORIZED otherwise: a token presented with another
// user's ID included), and the user's roles hold perm in the token's tenant (EFORBIDDEN
// otherwise). Checks run in that order, as in Rocket.Chat.
func RequireToken(tokens Tokens, tenants *store.Tenants, perm pulse.Permission, fail httpx.ErrorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		unauthorized := pulse.Errorf(pulse.EUNAUTHORIZED, "You must be logged in to do this.")
		userID, ok1 := httpx.Single(r, "X-User-Id")
		secret, ok2 := httpx.Single(r, "X-Auth-Token")
		if !ok1 || !ok2 || pulse.ValidID(userID) != nil {
			fail(w, r, unauthorized)
			return
		}
		tok, err := tokens.AuthenticateToken(r.Context(), userID, secret)
		if err != nil {
			fail(w, r, err)
			return
		}
		user, err := tokens.GetUser(r.Context(), tok.TenantID, tok.UserID)
		if pulse.ErrorCode(err) == pulse.ENOTFOUND {
			fail(w, r, unauthorized)
			return
		} else if err != nil {
			fail(w, r, err)
			return
		}
		tenant, _, err := tenants.Get(r.Context(), tok.TenantID)
		if err != nil {
			fail(w, r, err)
			return
		}
		if !tenant.Allows(user.Roles, perm) {
			fail(w, r, pulse.Errorf(pulse.EFORBIDDEN, "User does not have the permissions required for this action [error-unauthorized]"))
			return
		}
		p := &pulse.Principal{TenantID: tok.TenantID, UserID: tok.UserID}
		next.ServeHTTP(w, r.WithContext(pulse.WithPrincipal(r.Context(), p)))
	})
}
