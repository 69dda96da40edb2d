package manage

import (
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// searchResultJSON is one session a search found: the active list's row, whether the
// session's device was new to the user, and its state (ended_at and end_reason null while
// active), as its end is recorded: these fields take the place of the row's own, in the same
// order as before the row had them.
type searchResultJSON struct {
	activeSessionJSON
	NewDevice bool    `json:"new_device"`
	Status    string  `json:"status"`
	EndedAt   *int64  `json:"ended_at"`
	EndReason *string `json:"end_reason"`
}

// searchJSON is a search's answer. Next is null once the whole search is done.
type searchJSON struct {
	Sessions []searchResultJSON `json:"sessions"`
	Next     *string            `json:"next"`
	Examined int                `json:"examined"`
}

// bulkRevokeJSON is one step of a revoke by filter.
type bulkRevokeJSON struct {
	DryRun   bool    `json:"dry_run"`
	Matched  int     `json:"matched"`
	Revoked  int     `json:"revoked"`
	Examined int     `json:"examined"`
	Next     *string `json:"next"`
}

// filterParams are the filters of a search and of a revoke by filter; pagingParams say where
// and how far an answer goes.
var (
	filterParams = []string{"user_id", "user_prefix", "session_id", "ip", "country", "browser", "os", "client_id", "new_device", "started_after"}
	pagingParams = []string{"limit", "cursor"}
)

// searchQuery is a parsed search: the filter, the most sessions an answer holds, the cursor;
// for a search of ended sessions, the range their end falls in.
type searchQuery struct {
	filter        store.SessionFilter
	limit         int
	cursor        string
	dryRun        bool
	ended         bool
	after, before time.Time
}

// endedParams are the search's own parameters: which sessions (status) and, for ended ones,
// the range of their end.
var endedParams = []string{"status", "ended_after", "ended_before"}

// parseSearch reads the query string of a search (extra names the parameters a route adds,
// as dry_run). Each parameter is given at most once and never empty; an unknown one is refused,
// so that a typo never widens a search, or a revoke, to everything.
func parseSearch(r *http.Request, defaultLimit int, extra ...string) (searchQuery, error) {
	q := searchQuery{limit: defaultLimit}
	values, err := httpx.Query(r)
	if err != nil {
		return q, pulse.QueryUnparseable("parse query")
	}
	known := slices.Concat(filterParams, pagingParams, extra)
	fields := map[string][]string{}
	one := map[string]string{}
	for name, vs := range values {
		if !slices.Contains(known, name) {
			fields[name] = []string{"is not a parameter of this route (" + strings.Join(known, ", ") + ")."}
			continue
		}
		if len(vs) != 1 {
			return q, paramTwice(name)
		}
		if vs[0] == "" {
			fields[name] = []string{"must not be empty."}
			continue
		}
		one[name] = vs[0]
	}
	f := store.SessionFilter{UserID: one["user_id"], UserPrefix: one["user_prefix"], SessionID: one["session_id"],
		Country: one["country"], Browser: one["browser"], OS: one["os"], ClientID: one["client_id"]}
	for _, name := range []string{"user_id", "session_id", "client_id"} {
		if v, ok := one[name]; ok {
			if err := pulse.ValidID(v); err != nil {
				fields[name] = []string{idProblem(err) + "."}
			}
		}
	}
	for _, name := range []string{"user_prefix", "country", "browser", "os"} {
		if len(one[name]) > pulse.MaxIDLength {
			fields[name] = []string{"must be at most " + strconv.Itoa(pulse.MaxIDLength) + " characters."}
		}
	}
	if v, ok := one["ip"]; ok {
		if p, err := netip.ParsePrefix(v); err == nil {
			f.IP = p.Masked()
		} else if addr, err := netip.ParseAddr(v); err == nil {
			addr = addr.Unmap()
			f.IP = netip.PrefixFrom(addr, addr.BitLen())
		} else {
			fields["ip"] = []string{"must be an IP address or a CIDR block, as 203.0.113.7 or 203.0.113.0/24."}
		}
	}
	for _, name := range []string{"new_device", "dry_run"} {
		if v, ok := one[name]; ok {
			b := v == "true"
			if !b && v != "false" {
				fields[name] = []string{"must be true or false."}
			}
			if name == "dry_run" {
				q.dryRun = b
			} else {
				f.NewDevice = &b
			}
		}
	}
	// The times, in Unix seconds: when a session started, and the range of an end.
	times := map[string]*time.Time{"started_after": &f.StartedAfter, "ended_after": &q.after, "ended_before": &q.before}
	for name, dst := range times {
		if v, ok := one[name]; ok {
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 || n > 1<<40 {
				fields[name] = []string{"must be a time in Unix seconds."}
			} else {
				*dst = time.Unix(n, 0)
			}
		}
	}
	switch one["status"] {
	case "", pulse.StatusActive:
		for _, name := range endedParams[1:] {
			if _, ok := one[name]; ok {
				fields[name] = []string{"is for a search of ended sessions (status=ended)."}
			}
		}
	case pulse.StatusEnded:
		q.ended = true
		if !q.after.IsZero() && !q.before.IsZero() && q.after.After(q.before) {
			fields["ended_before"] = []string{"must not be before ended_after."}
		}
	default:
		fields["status"] = []string{"must be active or ended."}
	}
	if v, ok := one["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return q, paramNotNumber("limit")
		}
		if n < 1 || n > 100 {
			fields["limit"] = []string{"must be between 1 and 100."}
		}
		q.limit = n
	}
	if len(fields) > 0 {
		return q, pulse.FieldErrors(fields)
	}
	q.filter, q.cursor = f, one["cursor"]
	return q, nil
}

// SearchSessions serves GET /api/sessions: the tenant's active sessions — or with status=ended
// those whose end falls within ended_after–ended_before (Unix seconds; default the last 24
// hours) — that match every filter given (user_id, user_prefix, session_id, ip — an address or a
// CIDR —, country — ISO code or name —, browser, os, client_id, new_device, started_after), up
// to limit (1–100, default 50) an answer, with a cursor to go on from. Each answer costs at most
// store.SearchExamined index entries, store.SearchReads sessions read and store.SearchQueries
// index partitions, whatever the tenant holds: a rare match can take several answers, some of
// them empty with a cursor.
func (a *API) SearchSessions(w http.ResponseWriter, r *http.Request) error {
	q, err := parseSearch(r, 50, endedParams...)
	if err != nil {
		return err
	}
	tenant := pulse.PrincipalFrom(r.Context()).TenantID
	var page *store.SearchPage
	if q.ended {
		page, err = a.store.SearchEnded(r.Context(), tenant, q.filter, q.after, q.before, q.limit, q.cursor)
	} else {
		page, err = a.store.SearchActive(r.Context(), tenant, q.filter, q.limit, q.cursor)
	}
	if err != nil {
		return err
	}
	out := searchJSON{Sessions: make([]searchResultJSON, 0, len(page.Sessions)), Examined: page.Examined}
	for _, s := range page.Sessions {
		row := searchResultJSON{activeSessionJSON: activeRow(s, a.now()), NewDevice: s.NewDevice, Status: pulse.StatusActive}
		if s.EndReason != "" {
			ended, reason := s.EndedAt.Unix(), s.EndReason
			row.Status, row.EndedAt, row.EndReason = pulse.StatusEnded, &ended, &reason
		}
		out.Sessions = append(out.Sessions, row)
	}
	if page.Next != "" {
		out.Next = &page.Next
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", out)
	return nil
}

// RevokeMatching serves POST /api/sessions/revoke: one step of revoking every active session
// that matches a filter (the search's parameters; at least one filter). A step searches as one
// answer of GET /api/sessions does (limit default and at most 100) and revokes what it found,
// or with dry_run=true only counts it; next continues from there, null once the whole window is
// done. Each step is bounded by the search's budget and 100 revokes, so it ends well inside the
// function's deadline; a step cut short (503) is repeated with the same cursor, and finds only
// the sessions still live. Every step is audit-logged with who made it and the sessions it ended.
func (a *API) RevokeMatching(w http.ResponseWriter, r *http.Request) error {
	q, err := parseSearch(r, 100, "dry_run")
	if err != nil {
		return err
	}
	if q.filter.Zero() {
		return pulse.FieldErrors(map[string][]string{"filter": {"name at least one of " + strings.Join(filterParams, ", ") + ": this route does not revoke every session of the tenant."}})
	}
	page, err := a.store.SearchActive(r.Context(), pulse.PrincipalFrom(r.Context()).TenantID, q.filter, q.limit, q.cursor)
	if err != nil {
		return err
	}
	out := bulkRevokeJSON{DryRun: q.dryRun, Matched: len(page.Sessions), Examined: page.Examined}
	if page.Next != "" {
		out.Next = &page.Next
	}
	if !q.dryRun && len(page.Sessions) > 0 {
		out.Revoked, err = a.store.RevokeFound(r.Context(), page.Sessions)
		ids := make([]string, 0, len(page.Sessions))
		for _, s := range page.Sessions {
			ids = append(ids, s.UserID+"/"+s.ID)
		}
		// Logged whether or not every revoke was done: what was matched, and how many ended.
		a.audit(r, "sessions revoked by filter", "filter", filterText(r), "matched", len(ids), "revoked", out.Revoked, "sessions", ids)
		if err != nil {
			return err
		}
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", out)
	return nil
}

// filterText is the request's filter parameters as a query string, for the audit log.
func filterText(r *http.Request) string {
	v := r.URL.Query()
	for _, p := range append(pagingParams, "dry_run") {
		v.Del(p)
	}
	return v.Encode()
}
