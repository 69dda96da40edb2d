package manage

import (
	"net/http"
	"strconv"
	"time"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// activeSessionJSON is one active session as Pulse's own list shows it: what the admin API's
// list shows (which, by its original's format, names no session and no place), with the
// session's ID, so that it can be revoked, where it was last seen, and its state: a list paged
// from a snapshot (store.SnapshotFrom active sessions or more) shows a session that has ended
// since the snapshot as ended, until the next.
type activeSessionJSON struct {
	SessionID      string   `json:"session_id"`
	UserID         string   `json:"user_id"`
	UserName       string   `json:"user_name"`
	UserType       string   `json:"user_type"`
	Browser        string   `json:"browser"`
	BrowserVersion string   `json:"browser_version"`
	OS             string   `json:"os"`
	Country        string   `json:"country"`
	City           string   `json:"city"`
	IPAddress      string   `json:"ip_address"`
	ClientIDs      []string `json:"client_ids"`
	InitiatedAt    int64    `json:"initiated_at"`
	LastUpdated    int64    `json:"last_updated"`
	Status         string   `json:"status"`
	EndedAt        *int64   `json:"ended_at"`   // Unix seconds; null while active
	EndReason      *string  `json:"end_reason"` // null while active
}

// ActiveSessions serves GET /api/sessions/active?limit=&offset=: the tenant's active sessions
// (live, and active within the active window), in the admin list's order and at its cost
// (store.ActiveSessions), as a JSON array; X-Total-Count holds their number. limit 1–1,000
// (default 100), offset ≥ 0 (default 0). The dashboard page reads it with a token whose
// user holds view-active-users.
func (a *API) ActiveSessions(w http.ResponseWriter, r *http.Request) error {
	values, err := httpx.Query(r)
	if err != nil {
		return pulse.QueryUnparseable("parse query")
	}
	limit, offset := 100, 0
	fields := map[string][]string{}
	for _, p := range []struct {
		name   string
		dst    *int
		lo, hi int
		msg    string
	}{{"limit", &limit, 1, 1000, "must be between 1 and 1000."}, {"offset", &offset, 0, 1 << 30, "must be at least 0."}} {
		vs, ok := values[p.name]
		if !ok {
			continue
		}
		if len(vs) != 1 {
			return paramTwice(p.name)
		}
		n, err := strconv.Atoi(vs[0])
		if err != nil {
			return paramNotNumber(p.name)
		}
		if n < p.lo || n > p.hi {
			fields[p.name] = []string{p.msg}
		}
		*p.dst = n
	}
	if len(fields) > 0 {
		return pulse.FieldErrors(fields)
	}
	tenant := pulse.PrincipalFrom(r.Context()).TenantID
	page, err := a.store.ActiveSessions(r.Context(), tenant, offset, limit)
	if err != nil {
		return err
	}
	out := make([]activeSessionJSON, 0, len(page.Sessions))
	now := a.now()
	for _, s := range page.Sessions {
		out = append(out, activeRow(s, now))
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(page.Total))
	httpx.WriteJSON(w, http.StatusOK, "application/json", out)
	return nil
}

// activeRow is s as the active list (and a search) shows it at now.
func activeRow(s *pulse.Session, now time.Time) activeSessionJSON {
	clients := s.ClientIDs
	if clients == nil {
		clients = []string{}
	}
	row := activeSessionJSON{SessionID: s.ID, UserID: s.UserID, UserName: s.UserName, UserType: s.UserType,
		Browser: s.Device.Browser, BrowserVersion: s.Device.Version, OS: s.Device.OS, Country: s.Location.Country,
		City: s.Location.City, IPAddress: s.IPAddress, ClientIDs: clients,
		InitiatedAt: s.InitiatedAt.Unix(), LastUpdated: s.LastActivity.Unix()}
	status, ended, reason := s.State(now)
	row.Status = status
	if status == pulse.StatusEnded {
		at := ended.Unix()
		row.EndedAt, row.EndReason = &at, &reason
	}
	return row
}
