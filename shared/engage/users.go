package engage

import (
	"net/http"
	"time"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// The rest of the Users tab of Rocket.Chat's engagement dashboard. Each reads the tenant's
// activity counters (store.DailyStats): its cost grows with the days asked for, never with the
// users. Rocket.Chat computes them from its sessions collection, in the server's time zone,
// from yesterday backwards; Pulse uses the tenant's time zone, counts today, and keeps
// ACTIVITY_RETENTION of history, as for active-users.

// newUsersDay is one element of "days".
type newUsersDay struct {
	Day   string `json:"day"`
	Users int    `json:"users"`
}

// change is a count and its difference from the period (or day) before.
type change struct {
	Count     int `json:"count"`
	Variation int `json:"variation"`
}

// newUsersAnswer is new-users' 200 body.
type newUsersAnswer struct {
	Days      []newUsersDay `json:"days"`
	Period    change        `json:"period"`
	Yesterday change        `json:"yesterday"`
	Success   bool          `json:"success"`
}

// NewUsers serves GET /api/v1/engagement-dashboard/users/new-users?start=&end=: the users
// created on each day of the range that has any, newest first; their total against the period
// before (Rocket.Chat's: the day before start and the n days before it, n being the whole days
// from start to end plus one, keeping the newest n days that have users, as Rocket.Chat's
// query limit does); and the users of the day before end against end's day.
func (a *API) NewUsers(w http.ResponseWriter, r *http.Request) error {
	start, end, tenant, loc, err := a.rangeIn(r)
	if err != nil {
		return err
	}
	n := int(end.Sub(start)/(24*time.Hour)) + 1 // moment's diff in whole days, truncated, + 1
	from, to := dayIn(start, loc), dayIn(end, loc)
	prevTo := dayIn(start.AddDate(0, 0, -1), loc)
	prevFrom := dayIn(start.AddDate(0, 0, -1-n), loc)
	cur, err := a.newUsers(r, tenant, from, to, loc, n)
	if err != nil {
		return err
	}
	prev, err := a.newUsers(r, tenant, prevFrom, prevTo, loc, n)
	if err != nil {
		return err
	}
	out := newUsersAnswer{Days: []newUsersDay{}, Success: true}
	byDay := map[string]int{}
	for _, d := range cur {
		out.Days = append(out.Days, newUsersDay{Day: midnight(d.Day, loc), Users: d.New})
		out.Period.Count += d.New
		byDay[d.Day] = d.New
	}
	for _, d := range prev {
		out.Period.Variation -= d.New
	}
	out.Period.Variation += out.Period.Count
	yesterday := dayIn(end.AddDate(0, 0, -1), loc)
	out.Yesterday = change{Count: byDay[yesterday], Variation: byDay[to] - byDay[yesterday]}
	httpx.WriteJSON(w, http.StatusOK, "application/json", out)
	return nil
}

// newUsers returns the days of from..to with new users, newest first, at most limit of them.
func (a *API) newUsers(r *http.Request, tenant, from, to string, loc *time.Location, limit int) ([]store.DayStats, error) {
	if from > to || limit < 1 {
		return nil, nil
	}
	days, err := a.store.DailyStats(r.Context(), tenant, from, to, loc)
	if err != nil {
		return nil, err
	}
	var out []store.DayStats
	for i := len(days) - 1; i >= 0 && len(out) < limit; i-- {
		if days[i].New > 0 {
			out = append(out, days[i])
		}
	}
	return out, nil
}

// weekDay is one element of chat-busier/weekly-data's "month".
type weekDay struct {
	Users int `json:"users"`
	Day   int `json:"day"`
	Month int `json:"month"`
	Year  int `json:"year"`
}

// BusierWeekly serves GET /api/v1/engagement-dashboard/users/chat-busier/weekly-data?start=:
// the users active on each day from 7 days before start to start's day (8 days, as Rocket.Chat
// matches them), the days that have any, newest first.
func (a *API) BusierWeekly(w http.ResponseWriter, r *http.Request) error {
	_, _, days, err := a.daysBefore(r, 7*24*time.Hour)
	if err != nil {
		return err
	}
	out := struct {
		Month   []weekDay `json:"month"`
		Success bool      `json:"success"`
	}{Month: []weekDay{}, Success: true}
	for i := len(days) - 1; i >= 0; i-- {
		if d := days[i]; d.DAU > 0 {
			y, m, dd := ymd(d.Day)
			out.Month = append(out.Month, weekDay{Users: d.DAU, Day: dd, Month: m, Year: y})
		}
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", out)
	return nil
}

// hourUsers is one element of chat-busier/hourly-data's "hours".
type hourUsers struct {
	Users int `json:"users"`
	Hour  int `json:"hour"`
}

// BusierHourly serves GET /api/v1/engagement-dashboard/users/chat-busier/hourly-data?start=: the
// users active in each 2-hour group of the day (0, 2, … 22, newest hour first) during the 24
// hours before start, each group taken from its latest occurrence that began by start.
// Rocket.Chat answers all 12 groups when any session started in those hours, else none; so
// does Pulse, with any activity.
func (a *API) BusierHourly(w http.ResponseWriter, r *http.Request) error {
	start, loc, days, err := a.daysBefore(r, 24*time.Hour)
	if err != nil {
		return err
	}
	byDay := map[string]store.DayStats{}
	for _, d := range days {
		byDay[d.Day] = d
	}
	var users [12]int
	seen := [12]bool{}
	active := false
	// Walk back hour by hour from start: the first hour met in each group is its latest.
	for t := start; t.After(start.Add(-24 * time.Hour)); t = t.Add(-time.Hour) {
		local := t.In(loc)
		g := local.Hour() / 2
		if seen[g] {
			continue
		}
		seen[g] = true
		users[g] = byDay[local.Format(time.DateOnly)].Pairs[g]
		active = active || users[g] > 0
	}
	out := struct {
		Hours   []hourUsers `json:"hours"`
		Success bool        `json:"success"`
	}{Hours: []hourUsers{}, Success: true}
	if active {
		for g := 11; g >= 0; g-- {
			out.Hours = append(out.Hours, hourUsers{Users: users[g], Hour: 2 * g})
		}
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", out)
	return nil
}

// dayHour is one element of users-by-time-of-the-day-in-a-week's "week".
type dayHour struct {
	Users int `json:"users"`
	Hour  int `json:"hour"`
	Day   int `json:"day"`
	Month int `json:"month"`
	Year  int `json:"year"`
}

// UsersByTimeOfDay serves GET
// /api/v1/engagement-dashboard/users/users-by-time-of-the-day-in-a-week?start=&end=: for each
// hour of each day of the range (whole days of the tenant's zone) the users active in it, the
// hours that have any, newest first. A session counts in every hour from its start to its
// last activity (Rocket.Chat counts an open session up to the day's hour 23).
func (a *API) UsersByTimeOfDay(w http.ResponseWriter, r *http.Request) error {
	start, end, tenant, loc, err := a.rangeIn(r)
	if err != nil {
		return err
	}
	out := struct {
		Week    []dayHour `json:"week"`
		Success bool      `json:"success"`
	}{Week: []dayHour{}, Success: true}
	if !start.After(end) {
		days, err := a.store.DailyStats(r.Context(), tenant, dayIn(start, loc), dayIn(end, loc), loc)
		if err != nil {
			return err
		}
		for i := len(days) - 1; i >= 0; i-- {
			y, m, dd := ymd(days[i].Day)
			for h := 23; h >= 0; h-- {
				if n := days[i].Hours[h]; n > 0 {
					out.Week = append(out.Week, dayHour{Users: n, Hour: h, Day: dd, Month: m, Year: y})
				}
			}
		}
	}
	httpx.WriteJSON(w, http.StatusOK, "application/json", out)
	return nil
}

// rangeIn reads start and end, in that order (Rocket.Chat's check reports the first failing),
// and returns them with the caller's tenant and its time zone.
func (a *API) rangeIn(r *http.Request) (start, end time.Time, tenant string, loc *time.Location, err error) {
	if start, err = isoParam(r, "start"); err != nil {
		return
	}
	if end, err = isoParam(r, "end"); err != nil {
		return
	}
	tenant, loc, err = a.zone(r)
	return
}

// daysBefore reads start and the counters of the days (the tenant's) from back before start to
// start's day, with the tenant's time zone.
func (a *API) daysBefore(r *http.Request, back time.Duration) (time.Time, *time.Location, []store.DayStats, error) {
	start, err := isoParam(r, "start")
	if err != nil {
		return start, nil, nil, err
	}
	tenant, loc, err := a.zone(r)
	if err != nil {
		return start, nil, nil, err
	}
	days, err := a.store.DailyStats(r.Context(), tenant, dayIn(start.Add(-back), loc), dayIn(start, loc), loc)
	return start, loc, days, err
}

// zone returns the caller's tenant and its time zone.
func (a *API) zone(r *http.Request) (string, *time.Location, error) {
	tenant := pulse.PrincipalFrom(r.Context()).TenantID
	_, loc, err := a.tenants.Get(r.Context(), tenant)
	return tenant, loc, err
}

// dayIn is t's day in loc, as YYYY-MM-DD.
func dayIn(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }

// midnight is the start of day (YYYY-MM-DD) in loc, in toISOString form: how a JavaScript Date
// made from the day serializes.
func midnight(day string, loc *time.Location) string {
	t, err := time.ParseInLocation(time.DateOnly, day, loc)
	if err != nil {
		return day
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// ymd splits a YYYY-MM-DD day.
func ymd(day string) (year, month, d int) {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return 0, 0, 0
	}
	return t.Year(), int(t.Month()), t.Day()
}
