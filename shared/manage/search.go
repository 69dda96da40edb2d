package manage

import (
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// searchResultJSON is one session a search found: the active list's row and whether the
// session's device was new to the user.
type searchResultJSON struct {
	activeSessionJSON
	NewDevice bool `json:"new_device"`
}

// searchJSON is a search's answer. Next is null once the whole active window is searched.
type searchJSON struct {
	Sessions []searchResultJSON `json:"sessions"`
	Next     *string            `json:"next"`
	Examined int                `json:"examined"`
}

// searchParams are the query parameters of GET /api/sessions, each given at most once.
var searchParams = []string{"user_id", "user_prefix", "session_id", "ip", "country", "browser", "os", "client_id", "new_device", "limit", "cursor"}

// SearchSessions serves GET /api/sessions: the tenant's active sessions that match every filter
// given (user_id, user_prefix, session_id, ip — an address or a CIDR —, country — ISO code or
// name —, browser, os, client_id, new_device), up to limit (1–100, default 50) an answer, with
// a cursor to go on from. Each answer costs at most store.SearchExamined index entries and
// store.SearchReads sessions read, whatever the tenant holds: a rare match can take several
// answers, some of them empty with a cursor. An unknown parameter is refused, so that a typo
// never widens a search to everything.
func (a *API) SearchSessions(w http.ResponseWriter, r *http.Request) error {
	values, err := httpx.Query(r)
	if err != nil {
		return pulse.QueryUnparseable("parse query")
	}
	fields := map[string][]string{}
	one := map[string]string{}
	for name, vs := range values {
		if !slices.Contains(searchParams, name) {
			fields[name] = []string{"is not a filter of this search (" + strings.Join(searchParams, ", ") + ")."}
			continue
		}
		if len(vs) != 1 {
			return paramTwice(name)
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
	if v, ok := one["new_device"]; ok {
		b := v == "true"
		if !b && v != "false" {
			fields["new_device"] = []string{"must be true or false."}
		}
		f.NewDevice = &b
	}
	limit := 50
	if v, ok := one["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return paramNotNumber("limit")
		}
		if n < 1 || n > 100 {
			fields["limit"] = []string{"must be between 1 and 100."}
		}
		limit = n
	}
	if len(fields) > 0 {
		return pulse.FieldErrors(fields)
	}
	tenant := pulse.PrincipalFrom(r.Context()).TenantID
	page, err := a.store.SearchActive(r.Context(), tenant, f, limit, one["cursor"])
	if err != nil {
		return err
	}
	out := searchJSON{Sessions: make([]searchResultJSON, 0, len(page.Sessions)), Examined: page.Examined}
	for _, s := range page.Sessions {
		out.Sessions = append(out.Sessions, searchResultJSON{activeSessionJSON: activeRow(s), NewDevice: s.NewDevice})
	}
	if page.Next != "" {
		out.Next = &page.Next
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", out)
	return nil
}
