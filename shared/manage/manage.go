// Package manage is the management surface (MonoCloud-style): users, their sessions and
// activity, with X-API-KEY auth and every error as application/problem+json. Each endpoint is a
// handler that returns its error; Routes pairs it with its route and scope, and Handler serves
// one route for the Lambda function of that route and for the local API server.
package manage

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pulse-sessions/pulse/shared/auth"
	"github.com/pulse-sessions/pulse/shared/geo"
	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
	"github.com/pulse-sessions/pulse/shared/wire"
)

// Routes are the management surface's endpoints: the one list that says which route each
// handler serves. A test holds it to template.yaml.
var Routes = []httpx.Route[*API]{
	{Key: "PUT /api/users/{user_id}", Scope: pulse.ScopeUsersWrite, Serve: (*API).PutUser},
	{Key: "GET /api/users/{user_id}", Scope: pulse.ScopeUsersRead, Serve: (*API).GetUser},
	{Key: "DELETE /api/users/{user_id}", Scope: pulse.ScopeUsersWrite, Serve: (*API).DeleteUser},
	{Key: "POST /api/users/{user_id}/sessions", Scope: pulse.ScopeSessionsWrite, Serve: (*API).CreateSession},
	{Key: "GET /api/users/{user_id}/sessions/{session_id}", Scope: pulse.ScopeSessionsRead, Serve: (*API).GetSession},
	{Key: "POST /api/users/{user_id}/sessions/{session_id}/activity", Scope: pulse.ScopeSessionsWrite, Serve: (*API).RecordActivity},
	{Key: "POST /api/activity", Scope: pulse.ScopeSessionsWrite, Serve: (*API).RecordActivities},
	{Key: "DELETE /api/users/{user_id}/sessions/{session_id}", Scope: pulse.ScopeSessionsWrite, Perm: pulse.PermRevokeSessions, Serve: (*API).RevokeSession},
	{Key: "DELETE /api/users/{user_id}/sessions", Scope: pulse.ScopeSessionsWrite, Perm: pulse.PermRevokeSessions, Serve: (*API).RevokeUserSessions},
	{Key: "GET /api/users/{user_id}/sessions", Scope: pulse.ScopeSessionsRead, Perm: pulse.PermViewUserSessions, Serve: (*API).ListSessions},
	{Key: "POST /api/users/{user_id}/tokens", Scope: pulse.ScopeTokensWrite, Serve: (*API).CreateToken},
	{Key: "GET /api/users/{user_id}/tokens/{token_id}", Scope: pulse.ScopeUsersRead, Serve: (*API).GetToken},
	{Key: "DELETE /api/users/{user_id}/tokens/{token_id}", Scope: pulse.ScopeTokensWrite, Serve: (*API).RevokeToken},
	{Key: "GET /api/sessions/active", Scope: pulse.ScopeActiveUsersRead, Perm: pulse.PermViewActiveUsers, Serve: (*API).ActiveSessions},
	{Key: "GET /api/sessions", Scope: pulse.ScopeActiveUsersRead, Perm: pulse.PermViewActiveUsers, Serve: (*API).SearchSessions},
	{Key: "POST /api/sessions/revoke", Scope: pulse.ScopeSessionsWrite, Perm: pulse.PermRevokeSessions, Serve: (*API).RevokeMatching},
	{Key: "GET /api/permissions", Scope: pulse.ScopeUsersRead, Perm: pulse.PermSignedIn, Serve: (*API).Permissions},
	{Key: "GET /api/analytics/active-users", Scope: pulse.ScopeActiveUsersRead, Perm: pulse.PermViewEngagement, Serve: (*API).ActiveUserCounts},
}

// API holds what the management endpoints need.
type API struct {
	store   *store.Store
	tenants *store.Tenants
	geo     *geo.Locator
	now     pulse.Clock
	log     *slog.Logger
	fail    httpx.ErrorWriter
}

// New returns the management API over its dependencies.
func New(s *store.Store, tenants *store.Tenants, g *geo.Locator, now pulse.Clock, log *slog.Logger) *API {
	return &API{store: s, tenants: tenants, geo: g, now: now, log: log, fail: ErrorWriter(log)}
}

// Errors returns the surface's error writer, for middleware that runs before an endpoint.
func (a *API) Errors() httpx.ErrorWriter { return a.fail }

// Handler returns the endpoint of route key behind its API-key check, its errors written as
// problem+json; false when the surface has no such route.
func (a *API) Handler(key string) (http.Handler, bool) {
	rt, ok := httpx.Find(Routes, key)
	if !ok {
		return nil, false
	}
	h := func(w http.ResponseWriter, r *http.Request) error { return rt.Serve(a, w, r) }
	return httpx.Handle(auth.RequireKeyOrToken(a.store, a.store, a.tenants, rt.Scope, rt.Perm, auth.KeyOptions{}, h), a.fail), true
}

// pathID returns the validated path parameter name.
func pathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if err := pulse.ValidID(id); err != nil {
		return "", badPathID(name, err)
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
func (a *API) PutUser(w http.ResponseWriter, r *http.Request) error {
	tenant, id, err := ids(r, "user_id")
	if err != nil {
		return err
	}
	u, err := decodeUser(r)
	if err != nil {
		return err
	}
	u.TenantID, u.ID = tenant, id[0]
	zone, err := a.tenants.Location(r.Context(), tenant)
	if err != nil {
		return err
	}
	saved, created, err := a.store.PutUser(r.Context(), u, zone)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/users/"+url.PathEscape(id[0]))
	}
	httpx.WriteJSON(w, status, "application/json", toUserJSON(saved))
	return nil
}

// GetUser serves GET /api/users/{user_id}.
func (a *API) GetUser(w http.ResponseWriter, r *http.Request) error {
	tenant, id, err := ids(r, "user_id")
	if err != nil {
		return err
	}
	u, err := a.store.GetUser(r.Context(), tenant, id[0])
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", toUserJSON(u))
	return nil
}

// DeleteUser serves DELETE /api/users/{user_id}: 204 once the user, their sessions, activity
// and tokens are gone.
func (a *API) DeleteUser(w http.ResponseWriter, r *http.Request) error {
	tenant, id, err := ids(r, "user_id")
	if err != nil {
		return err
	}
	if err := a.store.DeleteUser(r.Context(), tenant, id[0]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// CreateSession serves POST /api/users/{user_id}/sessions: 201 with the session. The IP
// address and User-Agent default to the request's own; a caller-chosen session_id makes the
// call idempotent.
func (a *API) CreateSession(w http.ResponseWriter, r *http.Request) error {
	tenant, id, err := ids(r, "user_id")
	if err != nil {
		return err
	}
	req, err := a.decodeNewSession(r)
	if err != nil {
		return err
	}
	zone, err := a.tenants.Location(r.Context(), tenant)
	if err != nil {
		return err
	}
	req.TenantID, req.UserID, req.Zone = tenant, id[0], zone
	s, _, err := a.store.CreateSession(r.Context(), req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/users/"+url.PathEscape(id[0])+"/sessions/"+url.PathEscape(s.ID))
	httpx.WriteJSON(w, http.StatusCreated, "application/json", wire.NewSession(s, a.now()))
	return nil
}

// GetSession serves GET /api/users/{user_id}/sessions/{session_id}.
func (a *API) GetSession(w http.ResponseWriter, r *http.Request) error {
	tenant, id, err := ids(r, "user_id", "session_id")
	if err != nil {
		return err
	}
	s, err := a.store.GetSession(r.Context(), tenant, id[0], id[1])
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", wire.NewSession(s, a.now()))
	return nil
}

// RecordActivity serves POST /api/users/{user_id}/sessions/{session_id}/activity: 204. The body
// is optional; what it carries replaces what the session had.
func (a *API) RecordActivity(w http.ResponseWriter, r *http.Request) error {
	tenant, id, err := ids(r, "user_id", "session_id")
	if err != nil {
		return err
	}
	act, err := a.decodeActivity(r)
	if err != nil {
		return err
	}
	act.TenantID, act.UserID, act.SessionID = tenant, id[0], id[1]
	if act.Zone, err = a.tenants.Location(r.Context(), tenant); err != nil {
		return err
	}
	if err := a.store.RecordActivity(r.Context(), act); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RecordActivities serves POST /api/activity: 200 with one result per entry, in order, each
// what POST …/activity would have answered for it (see entryResult). One key check and one
// read of the sessions serve the whole batch; a body that is not a batch is refused whole.
func (a *API) RecordActivities(w http.ResponseWriter, r *http.Request) error {
	tenant := pulse.PrincipalFrom(r.Context()).TenantID
	now := a.now()
	acts, errs, err := a.decodeActivities(r, now, now.Add(-a.store.Policy().IdleTimeout))
	if err != nil {
		return err
	}
	zone, err := a.tenants.Location(r.Context(), tenant)
	if err != nil {
		return err
	}
	var valid []store.Activity
	var index []int // valid[j] is entry index[j]
	for i := range acts {
		if errs[i] == nil {
			acts[i].TenantID, acts[i].Zone = tenant, zone
			valid, index = append(valid, acts[i]), append(index, i)
		}
	}
	for j, err := range a.store.RecordActivities(r.Context(), valid) {
		errs[index[j]] = err
	}
	results := make([]entryResult, len(errs))
	tally := map[string]int{}
	for i, err := range errs {
		results[i] = a.entryResult(r, err)
		tally[strconv.Itoa(results[i].Status)]++
		if results[i].RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(results[i].RetryAfter))
		}
	}
	if tally["204"] < len(results) {
		a.log.InfoContext(r.Context(), "batch entries refused", "request_id", httpx.RequestID(r.Context()), "entries", len(results), "statuses", tally)
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", struct {
		Results []entryResult `json:"results"`
	}{results})
	return nil
}

// Permissions serves GET /api/permissions: what the caller may use. For a personal access token
// (the dashboard's), its user and the permissions their roles hold in the tenant, so that a page
// shows only what it may use; for an API key, its scopes.
func (a *API) Permissions(w http.ResponseWriter, r *http.Request) error {
	p := pulse.PrincipalFrom(r.Context())
	body := struct {
		UserID      string             `json:"user_id,omitempty"`
		Permissions []pulse.Permission `json:"permissions"`
		Scopes      []pulse.Scope      `json:"scopes,omitempty"`
	}{UserID: p.UserID, Permissions: p.Permissions, Scopes: p.Scopes}
	if body.Permissions == nil {
		body.Permissions = []pulse.Permission{}
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", body)
	return nil
}

// RevokeSession serves DELETE /api/users/{user_id}/sessions/{session_id}: 204, also when the
// session had already ended.
func (a *API) RevokeSession(w http.ResponseWriter, r *http.Request) error {
	tenant, id, err := ids(r, "user_id", "session_id")
	if err != nil {
		return err
	}
	if err := a.store.RevokeSession(r.Context(), tenant, id[0], id[1]); err != nil {
		return err
	}
	a.audit(r, "session revoked", "user_id", id[0], "session_id", id[1])
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RevokeUserSessions serves DELETE /api/users/{user_id}/sessions: 204 once every live session
// of the user is revoked.
func (a *API) RevokeUserSessions(w http.ResponseWriter, r *http.Request) error {
	tenant, id, err := ids(r, "user_id")
	if err != nil {
		return err
	}
	n, err := a.store.RevokeUserSessions(r.Context(), tenant, id[0])
	if err != nil {
		return err
	}
	a.audit(r, "user's sessions revoked", "user_id", id[0], "revoked", n)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// audit logs who changed what, at info: a revoke from the dashboard names the operator (the
// token's user), one from a backend names its API key. The log is the audit trail (CloudWatch
// keeps it for the log group's retention); the session's "Session Ended" event says why it ended.
func (a *API) audit(r *http.Request, msg string, attrs ...any) {
	by := []any{}
	if p := pulse.PrincipalFrom(r.Context()); p != nil {
		by = append(by, "tenant", p.TenantID)
		if p.UserID != "" {
			by = append(by, "by_user", p.UserID)
		} else {
			by = append(by, "by_key", p.KeyID)
		}
	}
	a.log.InfoContext(r.Context(), msg, append(append(by, "request_id", httpx.RequestID(r.Context())), attrs...)...)
}
