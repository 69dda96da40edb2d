// Package manage is the management surface (MonoCloud-style): users, their sessions and
// activity, with X-API-KEY auth and every error as application/problem+json. Each endpoint is an
// http.Handler that one Lambda function serves and the local API server serves too.
package manage

import (
	"log/slog"
	"net/http"
	"net/url"

	"github.com/pulse-sessions/pulse/shared/auth"
	"github.com/pulse-sessions/pulse/shared/geo"
	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// API holds what the management endpoints need.
type API struct {
	store   *store.Store
	tenants *store.Tenants
	geo     *geo.Locator
	now     pulse.Clock
	fail    httpx.ErrorWriter
}

// New returns the management API over its dependencies.
func New(s *store.Store, tenants *store.Tenants, g *geo.Locator, now pulse.Clock, log *slog.Logger) *API {
	return &API{store: s, tenants: tenants, geo: g, now: now, fail: ErrorWriter(log)}
}

// Errors returns the surface's error writer, for middleware that runs before an endpoint.
func (a *API) Errors() httpx.ErrorWriter { return a.fail }

func (a *API) guard(scope pulse.Scope, h http.HandlerFunc) http.Handler {
	return auth.RequireKey(a.store, scope, auth.KeyOptions{}, a.fail, h)
}

// pathID returns the validated path parameter name.
func pathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if err := pulse.ValidID(id); err != nil {
		return "", pulse.Errorf(pulse.EINVALID, "%s %s.", name, err)
	}
	return id, nil
}

// ids returns the tenant of the request's key and the validated path IDs, in order.
func ids(r *http.Request, names ...string) (string, []string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		id, err := pathID(r, n)
		if err != nil {
			return "", nil, err
		}
		out[i] = id
	}
	return pulse.PrincipalFrom(r.Context()).TenantID, out, nil
}

// PutUser serves PUT /api/users/{user_id}: 201 with the user when created, 200 when updated.
func (a *API) PutUser() http.Handler {
	return a.guard(pulse.ScopeUsersWrite, func(w http.ResponseWriter, r *http.Request) {
		tenant, id, err := ids(r, "user_id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		u, err := decodeUser(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		u.TenantID, u.ID = tenant, id[0]
		saved, created, err := a.store.PutUser(r.Context(), u)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
			w.Header().Set("Location", "/api/users/"+url.PathEscape(id[0]))
		}
		httpx.WriteJSON(w, status, "application/json", toUserJSON(saved))
	})
}

// GetUser serves GET /api/users/{user_id}.
func (a *API) GetUser() http.Handler {
	return a.guard(pulse.ScopeUsersRead, func(w http.ResponseWriter, r *http.Request) {
		tenant, id, err := ids(r, "user_id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		u, err := a.store.GetUser(r.Context(), tenant, id[0])
		if err != nil {
			a.fail(w, r, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, "application/json", toUserJSON(u))
	})
}

// DeleteUser serves DELETE /api/users/{user_id}: 204 once the user, their sessions, activity
// and tokens are gone.
func (a *API) DeleteUser() http.Handler {
	return a.guard(pulse.ScopeUsersWrite, func(w http.ResponseWriter, r *http.Request) {
		tenant, id, err := ids(r, "user_id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if err := a.store.DeleteUser(r.Context(), tenant, id[0]); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// CreateSession serves POST /api/users/{user_id}/sessions: 201 with the session. The IP
// address and User-Agent default to the request's own; a caller-chosen session_id makes the
// call idempotent.
func (a *API) CreateSession() http.Handler {
	return a.guard(pulse.ScopeSessionsWrite, func(w http.ResponseWriter, r *http.Request) {
		tenant, id, err := ids(r, "user_id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		req, err := a.decodeNewSession(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		zone, err := a.tenants.Location(r.Context(), tenant)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		req.TenantID, req.UserID, req.Zone = tenant, id[0], zone
		s, _, err := a.store.CreateSession(r.Context(), req)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		w.Header().Set("Location", "/api/users/"+url.PathEscape(id[0])+"/sessions/"+url.PathEscape(s.ID))
		httpx.WriteJSON(w, http.StatusCreated, "application/json", toSessionJSON(s, a.now()))
	})
}

// GetSession serves GET /api/users/{user_id}/sessions/{session_id}.
func (a *API) GetSession() http.Handler {
	return a.guard(pulse.ScopeSessionsRead, func(w http.ResponseWriter, r *http.Request) {
		tenant, id, err := ids(r, "user_id", "session_id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		s, err := a.store.GetSession(r.Context(), tenant, id[0], id[1])
		if err != nil {
			a.fail(w, r, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, "application/json", toSessionJSON(s, a.now()))
	})
}

// RecordActivity serves POST /api/users/{user_id}/sessions/{session_id}/activity: 204. The body
// is optional; what it carries replaces what the session had.
func (a *API) RecordActivity() http.Handler {
	return a.guard(pulse.ScopeSessionsWrite, func(w http.ResponseWriter, r *http.Request) {
		tenant, id, err := ids(r, "user_id", "session_id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		act, err := a.decodeActivity(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		act.TenantID, act.UserID, act.SessionID = tenant, id[0], id[1]
		zone, err := a.tenants.Location(r.Context(), tenant)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		act.Zone = zone
		if err := a.store.RecordActivity(r.Context(), act); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// RevokeSession serves DELETE /api/users/{user_id}/sessions/{session_id}: 204, also when the
// session had already ended.
func (a *API) RevokeSession() http.Handler {
	return a.guard(pulse.ScopeSessionsWrite, func(w http.ResponseWriter, r *http.Request) {
		tenant, id, err := ids(r, "user_id", "session_id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if err := a.store.RevokeSession(r.Context(), tenant, id[0], id[1]); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// RevokeUserSessions serves DELETE /api/users/{user_id}/sessions: 204 once every live session
// of the user is revoked.
func (a *API) RevokeUserSessions() http.Handler {
	return a.guard(pulse.ScopeSessionsWrite, func(w http.ResponseWriter, r *http.Request) {
		tenant, id, err := ids(r, "user_id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if _, err := a.store.RevokeUserSessions(r.Context(), tenant, id[0]); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
