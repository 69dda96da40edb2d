package manage

import (
	"net/http"

	"github.com/pulse-sessions/pulse/shared/httpx"
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
func (a *API) CreateToken(w http.ResponseWriter, r *http.Request) error {
	tenant, id, err := ids(r, "user_id")
	if err != nil {
		return err
	}
	name, ttl, err := decodeToken(r)
	if err != nil {
		return err
	}
	secret, _, err := a.store.CreateToken(r.Context(), tenant, id[0], name, ttl)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusCreated, "application/json", tokenJSON{UserID: id[0], AuthToken: secret})
	return nil
}

// tokenInfoJSON is what Pulse shows of a personal access token once it is issued: never its
// secret, which is stored only as a hash.
type tokenInfoJSON struct {
	Name      string `json:"name"`
	UserID    string `json:"user_id"`
	CreatedAt int64  `json:"created_at"`
	ExpiresAt *int64 `json:"expires_at"` // null for a token that never expires
}

// GetToken serves GET /api/users/{user_id}/tokens/{token_id}: 200 with the token's name, user,
// creation and expiry (Unix seconds); 404 for a token that does not exist, has expired or was
// revoked. The token's ID is the name it was created with.
func (a *API) GetToken(w http.ResponseWriter, r *http.Request) error {
	tenant, id, err := ids(r, "user_id", "token_id")
	if err != nil {
		return err
	}
	tok, err := a.store.GetToken(r.Context(), tenant, id[0], id[1])
	if err != nil {
		return err
	}
	out := tokenInfoJSON{Name: tok.Name, UserID: tok.UserID, CreatedAt: tok.CreatedAt.Unix()}
	if !tok.ExpiresAt.IsZero() {
		exp := tok.ExpiresAt.Unix()
		out.ExpiresAt = &exp
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", out)
	return nil
}

// RevokeToken serves DELETE /api/users/{user_id}/tokens/{token_id}: 204. The token's ID is the
// name it was created with.
func (a *API) RevokeToken(w http.ResponseWriter, r *http.Request) error {
	tenant, id, err := ids(r, "user_id", "token_id")
	if err != nil {
		return err
	}
	if err := a.store.RevokeToken(r.Context(), tenant, id[0], id[1]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
