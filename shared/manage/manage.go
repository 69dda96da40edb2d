// Package manage is the management surface (MonoCloud-style): users, their sessions and
// activity, with X-API-KEY auth and every error as application/problem+json. Each endpoint is an
// http.Handler that one Lambda function serves and the local API server serves too.
package manage

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/pulse-sessions/pulse/shared/auth"
	"github.com/pulse-sessions/pulse/shared/geo"
	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
	"github.com/pulse-sessions/pulse/shared/useragent"
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
		var body struct {
			Name  *string  `json:"name"`
			Type  *string  `json:"type"`
			Roles []string `json:"roles"`
		}
		if err := httpx.DecodeJSON(r, &body, false); err != nil {
			a.fail(w, r, err)
			return
		}
		fields := map[string][]string{}
		name, typ := deref(body.Name), deref(body.Type)
		checkText(fields, "name", name, 256)
		checkText(fields, "type", typ, 64)
		if len(body.Roles) > 50 {
			fields["roles"] = append(fields["roles"], "must hold at most 50 roles.")
		}
		for _, role := range body.Roles {
			if err := pulse.ValidID(role); err != nil {
				fields["roles"] = append(fields["roles"], fmt.Sprintf("role %q %s.", role, err))
			}
		}
		if len(fields) > 0 {
			a.fail(w, r, pulse.FieldErrors(fields))
			return
		}
		u, created, err := a.store.PutUser(r.Context(), pulse.User{TenantID: tenant, ID: id[0], Name: name, Type: typ, Roles: body.Roles})
		if err != nil {
			a.fail(w, r, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
			w.Header().Set("Location", "/api/users/"+url.PathEscape(id[0]))
		}
		httpx.WriteJSON(w, status, "application/json", toUserJSON(u))
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
		var body struct {
			ClientID  *string `json:"client_id"`
			IPAddress *string `json:"ip_address"`
			UserAgent *string `json:"user_agent"`
			SessionID *string `json:"session_id"`
		}
		if err := httpx.DecodeJSON(r, &body, false); err != nil {
			a.fail(w, r, err)
			return
		}
		fields := map[string][]string{}
		if body.ClientID == nil {
			fields["client_id"] = []string{"is required."}
		} else if err := pulse.ValidID(*body.ClientID); err != nil {
			fields["client_id"] = []string{err.Error() + "."}
		}
		if body.SessionID != nil {
			if err := pulse.ValidID(*body.SessionID); err != nil {
				fields["session_id"] = []string{err.Error() + "."}
			}
		}
		ip, device, loc := a.client(r, body.IPAddress, body.UserAgent, fields)
		if len(fields) > 0 {
			a.fail(w, r, pulse.FieldErrors(fields))
			return
		}
		zone, err := a.tenants.Location(r.Context(), tenant)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		s, _, err := a.store.CreateSession(r.Context(), store.NewSession{
			TenantID: tenant, UserID: id[0], SessionID: deref(body.SessionID), ClientID: *body.ClientID,
			IP: ip, Device: *device, Location: *loc, Zone: zone,
		})
		if err != nil {
			a.fail(w, r, err)
			return
		}
		w.Header().Set("Location", "/api/users/"+url.PathEscape(id[0])+"/sessions/"+url.PathEscape(s.ID))
		httpx.WriteJSON(w, http.StatusCreated, "application/json", toSessionJSON(s, a.now()))
	})
}

// client works out the session's client from the body, falling back to the request itself:
// its IP address, parsed User-Agent and location. Problems go into fields.
func (a *API) client(r *http.Request, ipField, uaField *string, fields map[string][]string) (string, *pulse.Device, *pulse.Location) {
	source := httpx.SourceIP(r)
	ip := source
	if ipField != nil {
		parsed, err := netip.ParseAddr(*ipField)
		if err != nil || parsed.Zone() != "" {
			fields["ip_address"] = []string{"must be an IPv4 or IPv6 address."}
			return "", nil, nil
		}
		ip = parsed.Unmap()
	}
	ua := r.Header.Get("User-Agent")
	if uaField != nil {
		ua = *uaField
		if len(ua) > useragent.MaxLength {
			fields["user_agent"] = []string{fmt.Sprintf("must be at most %d bytes.", useragent.MaxLength)}
			return "", nil, nil
		}
	}
	device := useragent.Parse(ua)
	loc := a.geo.Locate(ip, r.Header, ip == source)
	text := ""
	if ip.IsValid() {
		text = ip.String()
	}
	return text, &device, &loc
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
		var body struct {
			ClientID  *string `json:"client_id"`
			IPAddress *string `json:"ip_address"`
			UserAgent *string `json:"user_agent"`
		}
		if err := httpx.DecodeJSON(r, &body, true); err != nil {
			a.fail(w, r, err)
			return
		}
		fields := map[string][]string{}
		if body.ClientID != nil {
			if err := pulse.ValidID(*body.ClientID); err != nil {
				fields["client_id"] = []string{err.Error() + "."}
			}
		}
		act := store.Activity{TenantID: tenant, UserID: id[0], SessionID: id[1], ClientID: deref(body.ClientID)}
		// Only what the body names changes: a heartbeat from a backend must not overwrite the
		// user's address and browser with the backend's own.
		if body.IPAddress != nil || body.UserAgent != nil {
			ip, device, loc := a.client(r, body.IPAddress, body.UserAgent, fields)
			if body.IPAddress != nil {
				act.IP, act.Location = ip, loc
			}
			if body.UserAgent != nil {
				act.Device = device
			}
		}
		if len(fields) > 0 {
			a.fail(w, r, pulse.FieldErrors(fields))
			return
		}
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

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkText refuses text over max bytes or with control characters: it is stored and shown.
func checkText(fields map[string][]string, name, v string, max int) {
	if len(v) > max {
		fields[name] = append(fields[name], fmt.Sprintf("must be at most %d bytes.", max))
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		fields[name] = append(fields[name], "must not contain control characters.")
	}
}
