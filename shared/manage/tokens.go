package manage

import (
	"net/http"
	"time"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// Bounds of a token's expires_in, in seconds.
const (
	minTokenTTL = 60
	maxTokenTTL = 366 * 24 * 3600
)

// tokenJSON is Rocket.Chat's answer to creating a personal access token.
type tokenJSON struct {
	UserID    string `json:"userId"`
	AuthToken string `json:"authToken"`
}

// CreateToken serves POST /api/users/{user_id}/tokens {"name","expires_in"?}: 201 with the
// user's new personal access token, shown this once and stored only as a hash. The name
// identifies the token (unique per user, as in Rocket.Chat); expires_in is in seconds, none
// by default.
func (a *API) CreateToken() http.Handler {
	return a.guard(pulse.ScopeTokensWrite, func(w http.ResponseWriter, r *http.Request) {
		tenant, id, err := ids(r, "user_id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		var body struct {
			Name      *string `json:"name"`
			ExpiresIn *int64  `json:"expires_in"`
		}
		if err := httpx.DecodeJSON(r, &body, false); err != nil {
			a.fail(w, r, err)
			return
		}
		fields := map[string][]string{}
		if body.Name == nil {
			fields["name"] = []string{"is required."}
		} else if err := pulse.ValidID(*body.Name); err != nil {
			fields["name"] = []string{err.Error() + "."}
		}
		var ttl time.Duration
		if body.ExpiresIn != nil {
			if *body.ExpiresIn < minTokenTTL || *body.ExpiresIn > maxTokenTTL {
				fields["expires_in"] = []string{"must be between 60 and 31622400 seconds."}
			}
			ttl = time.Duration(*body.ExpiresIn) * time.Second
		}
		if len(fields) > 0 {
			a.fail(w, r, pulse.FieldErrors(fields))
			return
		}
		secret, _, err := a.store.CreateToken(r.Context(), tenant, id[0], *body.Name, ttl)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSON(w, http.StatusCreated, "application/json", tokenJSON{UserID: id[0], AuthToken: secret})
	})
}

// RevokeToken serves DELETE /api/users/{user_id}/tokens/{token_id}: 204. The token's ID is the
// name it was created with.
func (a *API) RevokeToken() http.Handler {
	return a.guard(pulse.ScopeTokensWrite, func(w http.ResponseWriter, r *http.Request) {
		tenant, id, err := ids(r, "user_id", "token_id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if err := a.store.RevokeToken(r.Context(), tenant, id[0], id[1]); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
