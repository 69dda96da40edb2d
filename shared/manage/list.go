package manage

import (
	"encoding/json"
	"net/http"

	"strconv"
	"strings"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
	"github.com/pulse-sessions/pulse/shared/wire"
)

// Paging and sorting of GET /api/users/{user_id}/sessions, as MonoCloud documents them. The
// default order (not given by MonoCloud) is newest first: initiated_at:-1.
const (
	defaultPage = 1
	defaultSize = 10
	maxSize     = 100
	defaultSort = "initiated_at:-1"
)

// sortKeys are the keys sort accepts.
var sortKeys = map[string]bool{"session_id": true, "initiated_at": true, "expires_at": true, "last_updated": true}

// listQuery is a parsed, validated query of the session list.
type listQuery struct {
	page, size int
	sortKey    string
	desc       bool
	clientID   string
	status     string // active, ended or all
}

// parseListQuery reads the query: 400 when a parameter is malformed (not a number, not
// key:order, given twice), 422 naming the fields whose well-formed values are out of range.
func parseListQuery(r *http.Request) (listQuery, error) {
	q := listQuery{page: defaultPage, size: defaultSize, status: pulse.StatusActive}
	values, err := httpx.Query(r)
	if err != nil {
		return q, pulse.QueryUnparseable("parse query")
	}
	one := func(name string) (string, bool, error) {
		vs, ok := values[name]
		if !ok {
			return "", false, nil
		}
		if len(vs) != 1 {
			return "", false, paramTwice(name)
		}
		return vs[0], true, nil
	}
	fields := map[string][]string{}
	for _, p := range []struct {
		name   string
		dst    *int
		lo, hi int
	}{{"page", &q.page, 1, 1 << 30}, {"size", &q.size, 1, maxSize}} {
		v, ok, err := one(p.name)
		if err != nil {
			return q, err
		} else if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return q, paramNotNumber(p.name)
		}
		if n < p.lo || n > p.hi {
			if p.name == "size" {
				fields[p.name] = []string{"must be between 1 and 100."}
			} else {
				fields[p.name] = []string{"must be at least 1."}
			}
		}
		*p.dst = n
	}
	sortSpec, ok, err := one("sort")
	if err != nil {
		return q, err
	} else if !ok {
		sortSpec = defaultSort
	}
	key, order, found := strings.Cut(sortSpec, ":")
	n, convErr := strconv.Atoi(order)
	if !found || convErr != nil {
		return q, sortMalformed()
	}
	if _, known := sortKeys[key]; !known {
		fields["sort"] = append(fields["sort"], "sort_key must be one of session_id, initiated_at, expires_at, last_updated.")
	}
	if n != 1 && n != -1 {
		fields["sort"] = append(fields["sort"], "sort_order must be 1 or -1.")
	}
	q.sortKey, q.desc = key, n == -1
	if v, ok, err := one("client_id"); err != nil {
		return q, err
	} else if ok {
		if err := pulse.ValidID(v); err != nil {
			fields["client_id"] = []string{idProblem(err) + "."}
		}
		q.clientID = v
	}
	if v, ok, err := one("status"); err != nil {
		return q, err
	} else if ok {
		if v != pulse.StatusActive && v != pulse.StatusEnded && v != "all" {
			fields["status"] = []string{"must be active, ended or all."}
		}
		q.status = v
	}
	if len(fields) > 0 {
		return q, pulse.FieldErrors(fields)
	}
	return q, nil
}

// pagination is the X-Pagination header's JSON.
type pagination struct {
	PageSize    int  `json:"page_size"`
	CurrentPage int  `json:"current_page"`
	TotalCount  int  `json:"total_count"`
	HasPrevious bool `json:"has_previous"`
	HasNext     bool `json:"has_next"`
}

// ListSessions serves GET /api/users/{user_id}/sessions: a bare JSON array of one page of the
// user's sessions, paging metadata in X-Pagination. status=active (default), ended or all;
// client_id keeps sessions that include that client.
func (a *API) ListSessions(w http.ResponseWriter, r *http.Request) error {
	tenant, id, err := ids(r, "user_id")
	if err != nil {
		return err
	}
	q, err := parseListQuery(r)
	if err != nil {
		return err
	}
	res, err := a.store.SessionsPage(r.Context(), tenant, id[0], store.SessionQuery{Status: q.status, ClientID: q.clientID,
		Sort: q.sortKey, Desc: q.desc, Offset: (q.page - 1) * q.size, Limit: q.size})
	if err != nil {
		return err
	}
	now := a.now()
	page := res.Sessions
	from := (q.page - 1) * q.size
	body := make([]wire.Session, 0, len(page))
	for _, s := range page {
		body = append(body, wire.NewSession(s, now))
	}
	meta, _ := json.Marshal(pagination{PageSize: q.size, CurrentPage: q.page, TotalCount: res.Total,
		HasPrevious: q.page > 1, HasNext: from+q.size < res.Total})
	w.Header().Set("X-Pagination", string(meta))
	httpx.WriteJSON(w, http.StatusOK, "application/json", body)
	return nil
}
