package manage

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// activeDay is one element of the DAU/WAU/MAU series.
type activeDay struct {
	Date string `json:"date"`
	DAU  int    `json:"dau"`
	WAU  int    `json:"wau"`
	MAU  int    `json:"mau"`
}

// ActiveUserCounts serves GET /api/analytics/active-users?start=YYYY-MM-DD&end=YYYY-MM-DD: for
// each calendar day of the range in the tenant's time zone, oldest first, zeros included, the
// users active that day (DAU) and in the 7 and 30 days ending that day (WAU, MAU), distinct
// users each. As CSV (header Date,DAU,WAU,MAU, the columns Rocket.Chat's dashboard downloads)
// when the client accepts text/csv. The range lies within the activity retention and ends by
// today; it costs its days (the tenant's counters), whatever the users.
func (a *API) ActiveUserCounts(w http.ResponseWriter, r *http.Request) error {
	values, err := httpx.Query(r)
	if err != nil {
		return pulse.QueryUnparseable("parse query")
	}
	tenant := pulse.PrincipalFrom(r.Context()).TenantID
	loc, err := a.tenants.Location(r.Context(), tenant)
	if err != nil {
		return err
	}
	now := a.now().In(loc)
	today := now.Format(time.DateOnly)
	earliest := now.Add(-a.store.Policy().ActivityKeep).Format(time.DateOnly)
	fields := map[string][]string{}
	days := map[string]string{}
	for _, name := range []string{"start", "end"} {
		vs, ok := values[name]
		switch {
		case !ok:
			fields[name] = []string{"is required."}
		case len(vs) != 1:
			return paramTwice(name)
		default:
			if _, err := time.Parse(time.DateOnly, vs[0]); err != nil {
				fields[name] = []string{"must be a date, YYYY-MM-DD."}
			} else if vs[0] < earliest {
				fields[name] = []string{fmt.Sprintf("must not be before %s: activity is kept for ACTIVITY_RETENTION.", earliest)}
			} else if vs[0] > today {
				fields[name] = []string{fmt.Sprintf("must not be after today, %s.", today)}
			}
			days[name] = vs[0]
		}
	}
	if len(fields) == 0 && days["start"] > days["end"] {
		fields["end"] = []string{"must not be before start."}
	}
	if len(fields) > 0 {
		return pulse.FieldErrors(fields)
	}
	stats, err := a.store.DailyStats(r.Context(), tenant, days["start"], days["end"], loc)
	if err != nil {
		return err
	}
	out := make([]activeDay, 0, len(stats))
	for _, d := range stats {
		out = append(out, activeDay{Date: d.Day, DAU: d.DAU, WAU: d.WAU, MAU: d.MAU})
	}
	w.Header().Set("Vary", "Accept")
	if acceptsCSV(r) {
		var b bytes.Buffer
		b.WriteString("Date,DAU,WAU,MAU\r\n")
		for _, d := range out {
			fmt.Fprintf(&b, "%s,%d,%d,%d\r\n", d.Date, d.DAU, d.WAU, d.MAU)
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="active-users-%s-%s.csv"`, days["start"], days["end"]))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b.Bytes())
		return nil
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", struct {
		Days     []activeDay `json:"days"`
		TimeZone string      `json:"timeZone"` // the tenant's, whose calendar days these are
	}{out, loc.String()})
	return nil
}

// acceptsCSV reports whether the Accept header names text/csv (with a non-zero q) before any
// JSON type: a client that asks for CSV gets CSV, every other one JSON.
func acceptsCSV(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" || params["q"] == "0.0" {
			continue
		}
		switch mt {
		case "text/csv":
			return true
		case "application/json", "application/problem+json":
			return false
		}
	}
	return false
}
