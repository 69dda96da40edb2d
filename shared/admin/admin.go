// Package admin is the admin surface (an IT-ops console's API): who is active right now, on
// what browser and OS, from where. It reproduces the IT-ops console's active-users API, envelope and
// error bodies included.
package admin

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/pulse-sessions/pulse/shared/auth"
	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Paging of the active-user list. The original returns every active session; Pulse does too up
// to MaxLimit, which keeps the answer well under Lambda's 6 MB response limit even with
// 1 KB User-Agents (about 1.4 KB per element, 2.9 MB at 2,000). X-Total-Count tells how many are
// active in all, and limit/offset page through them.
const (
	DefaultLimit = 1000
	MaxLimit     = 2000
)

// Routes are the admin surface's endpoints. An API key is read from X-API-KEY or Authorization: Bearer.
var Routes = []httpx.Route[*API]{
	{Key: "GET /settings/users/active-users", Scope: pulse.ScopeActiveUsersRead, Perm: pulse.PermViewActiveUsers, Serve: (*API).ActiveUsers},
}

// API holds what the admin endpoints need.
type API struct {
	store   *store.Store
	tenants *store.Tenants
	fail    httpx.ErrorWriter
}

// New returns the admin API.
func New(s *store.Store, tenants *store.Tenants, log *slog.Logger) *API {
	return &API{store: s, tenants: tenants, fail: ErrorWriter(log)}
}

// Errors returns the surface's error writer.
func (a *API) Errors() httpx.ErrorWriter { return a.fail }

// Handler returns the endpoint of route key behind its API-key check, its errors in the
// surface's format; false when the surface has no such route.
func (a *API) Handler(key string) (http.Handler, bool) {
	rt, ok := httpx.Find(Routes, key)
	if !ok {
		return nil, false
	}
	h := func(w http.ResponseWriter, r *http.Request) error { return rt.Serve(a, w, r) }
	return httpx.Handle(auth.RequireKeyOrToken(a.store, a.store, a.tenants, rt.Scope, rt.Perm, auth.KeyOptions{Bearer: true}, h), a.fail), true
}

// activeUser is one element of the result, keys in the spec's order. UserID is a JSON number
// when the user's ID is a decimal that fits int64 (as in the spec's example), else a string.
type activeUser struct {
	Browser       string `json:"browser"`
	Version       string `json:"version"`
	MajorVersion  int    `json:"majorVersion"`
	UserAgent     string `json:"userAgent"`
	OS            string `json:"os"`
	UserID        any    `json:"user.id"`
	LastActive    int64  `json:"last.active.timestamp"`
	Duration      int64  `json:"duration"`
	UserName      string `json:"user.name"`
	UserType      string `json:"user.type"`
	RemoteAddress string `json:"remote.address"`
}

type envelope struct {
	Status       string       `json:"status"`
	ResponseCode int          `json:"response-code"`
	Result       []activeUser `json:"result"`
}

// ActiveUsers serves GET /settings/users/active-users: one element per active session, newest
// 5-minute bucket of last activity first (see store.ActiveSessions), limit and offset paging
// the Active index, X-Total-Count its entries for the window.
func (a *API) ActiveUsers(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	tenant := pulse.PrincipalFrom(r.Context()).TenantID
	page, err := a.store.ActiveSessions(r.Context(), tenant, offset, limit)
	if err != nil {
		return err
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(page.Total))
	out := envelope{Status: "succeed", ResponseCode: 200, Result: make([]activeUser, 0, len(page.Sessions))}
	for _, s := range page.Sessions {
		out.Result = append(out.Result, toActiveUser(s))
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", out)
	return nil
}

func toActiveUser(s *pulse.Session) activeUser {
	return activeUser{
		Browser: s.Device.Browser, Version: s.Device.Version, MajorVersion: s.Device.MajorVersion,
		UserAgent: s.Device.UserAgent, OS: s.Device.OS, UserID: UserID(s.UserID),
		LastActive: s.LastActivity.Unix(), Duration: int64(s.LastActivity.Sub(s.InitiatedAt) / time.Second),
		UserName: s.UserName, UserType: s.UserType, RemoteAddress: s.IPAddress,
	}
}

// UserID returns id as a JSON number when it is a canonical decimal that fits int64 ("007" and
// "+7" stay strings: a number would lose what the ID is), else as a string.
func UserID(id string) any {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != id {
		return id
	}
	return json.Number(id)
}

// paging reads limit (1..MaxLimit) and offset (≥ 0); each may be given once.
func paging(r *http.Request) (limit, offset int, err error) {
	q, err := httpx.Query(r)
	if err != nil {
		return 0, 0, pulse.QueryUnparseable("read paging")
	}
	read := func(name string, def, lo, hi int) (int, error) {
		vs, ok := q[name]
		if !ok {
			return def, nil
		}
		if len(vs) != 1 {
			return 0, &pulse.Error{Code: pulse.EINVALID, Op: "read paging", Reason: pulse.ReasonParamTwice, ID: name}
		}
		n, err := strconv.Atoi(vs[0])
		if err != nil || n < lo || n > hi || vs[0] != strconv.Itoa(n) {
			return 0, &pulse.Error{Code: pulse.EINVALID, Op: "read paging", Reason: pulse.ReasonParamRange, ID: name, Need: fmt.Sprintf("%d..%d", lo, hi)}
		}
		return n, nil
	}
	if limit, err = read("limit", DefaultLimit, 1, MaxLimit); err != nil {
		return 0, 0, err
	}
	if offset, err = read("offset", 0, 0, 1<<30); err != nil {
		return 0, 0, err
	}
	return limit, offset, nil
}
