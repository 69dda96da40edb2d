package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pulse-sessions/pulse/internal/lambdarun"
	"github.com/pulse-sessions/pulse/internal/template"
	"github.com/pulse-sessions/pulse/internal/uuids"
	"github.com/pulse-sessions/pulse/shared/cleanup"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// scaleRow is one request at one of the scale points (issues 11 and 13).
type scaleRow struct {
	Point, Label string
	Status       int
	Calls        int
	RCU, WCU     float64 // as DynamoDB Local reports them
	AWSRCU       float64 // on AWS's accounting (see store.Meter)
	AWSWCU       float64
	Bytes        int // of the body as sent (compressed when it was)
	P50          time.Duration
	Function     string // the built function measured for memory at this point, if any
	PeakMB       float64
	Note         string
}

// scaleSizes are the sizes of each scale point (quick: a tenth).
type scaleSizes struct{ active, ended, userSessions, dau, dauPool, revoke, mau int }

// scale seeds each scale point in an environment of its own and measures its requests: capacity
// both ways, latency over reps runs, and the peak memory of the built function that serves it.
func scale(ctx context.Context, root, endpoint string, tpl *template.Template, quick bool, say func(string, ...any)) ([]scaleRow, error) {
	sz := scaleSizes{active: 20000, ended: 100000, userSessions: 5000, dau: 5000, dauPool: 10000, revoke: 4000, mau: 100000}
	reps := 5
	if quick {
		sz, reps = scaleSizes{active: 2000, ended: 10000, userSessions: 500, dau: 500, dauPool: 1000, revoke: 400, mau: 10000}, 2
	}
	ids := []string{"ListActiveUsersFunction", "ListUserSessionsFunction", "ListDailyActiveUsersFunction", "RevokeUserSessionsFunction", "CreateSessionFunction",
		"ListActiveUserCountsFunction", "ListNewUsersFunction", "ListUsersByHourFunction", "ListBusierHoursFunction", "ListBusierDaysFunction"}
	dir, err := os.MkdirTemp("", "pulse-scale-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bins, err := lambdarun.Build(ctx, root, dir, "", ids...)
	if err != nil {
		return nil, err
	}
	var rows []scaleRow
	run := func(e *env, point, label, method, path string, headers []string, repeat int, fn string) error {
		var lat []time.Duration
		var row scaleRow
		body := ""
		if method == "POST" { // a login
			body = `{"client_id":"web","ip_address":"203.0.113.7"}`
		}
		for i := range max(repeat, 1) {
			e.meter.Reset()
			resp, err := e.do("", method, path, body, headers...)
			if err != nil {
				return err
			}
			lat = append(lat, resp.client)
			if i == 0 {
				calls, rcu, wcu := e.meter.Snapshot()
				awsR, awsW := e.meter.OnAWS()
				row = scaleRow{Point: point, Label: label, Status: resp.status, Calls: calls, RCU: rcu, WCU: wcu, AWSRCU: awsR, AWSWCU: awsW, Bytes: len(resp.body)}
			}
		}
		row.P50 = percentile(lat, 50)
		if fn != "" {
			peak, err := peakMemory(ctx, tpl, e, fn, bins[fn], method, path, body, headers)
			if err != nil {
				return err
			}
			row.Function, row.PeakMB = fn, peak
		}
		rows = append(rows, row)
		return nil
	}

	// 1. The active list at 20,000 active sessions (UUIDs), beside a quarter as many idle but not
	// yet ended and 100,000 ended.
	say("scale: %d active sessions…", sz.active)
	e, closeE, err := newEnv(ctx, endpoint, tpl, measuredAt)
	if err != nil {
		return nil, err
	}
	if err := e.seedActive(ctx, sz.active, sz.ended); err != nil {
		closeE()
		return nil, err
	}
	point := fmt.Sprintf("%s active sessions + %s idle + %s ended, UUIDs", count(sz.active), count(sz.active/4), count(sz.ended))
	// Before any scheduled run, the list reads the window's keys on every page; a run then
	// snapshots it (its cost is a row of its own), and the pages after read the snapshot.
	if err := run(e, point, "active list before any scheduled run, limit 10 (the index's keys)", "GET", "/settings/users/active-users?limit=10", nil, reps, ""); err != nil {
		closeE()
		return nil, err
	}
	if err := e.snapshotRun(ctx, point, &rows); err != nil {
		closeE()
		return nil, err
	}
	for _, q := range []struct {
		label, query string
		fn           string
	}{
		{"active list, limit 1,000, offset 0", "?limit=1000", ""},
		{"active list, limit 1,000, middle page", fmt.Sprintf("?limit=1000&offset=%d", sz.active/2), ""},
		{"active list, limit 1,000, last page", fmt.Sprintf("?limit=1000&offset=%d", sz.active-1000), ""},
		{"active list, limit 2,000 (the largest page)", "?limit=2000", "ListActiveUsersFunction"},
		{"active list, limit 10", "?limit=10", ""},
	} {
		if err := run(e, point, q.label, "GET", "/settings/users/active-users"+q.query, nil, reps, q.fn); err != nil {
			closeE()
			return nil, err
		}
	}
	// The operator's search (GET /api/sessions) and revoke by filter over the same tenant: one
	// answer costs its budget (1,000 index keys, 200 sessions read, 64 partitions), not the
	// tenant; the same for its ended sessions, over a day and over 30.
	monthAgo := e.clock.Now().Add(-30 * 24 * time.Hour).Unix()
	for _, q := range []struct{ label, method, path string }{
		{"search, user_prefix matching almost none, one answer", "GET", "/api/sessions?user_prefix=ffff"},
		{"search, ip matching none, one answer", "GET", "/api/sessions?ip=198.51.100.0/24"},
		{"search, browser matching all, first 50", "GET", "/api/sessions?browser=Chrome&limit=50"},
		{"revoke by filter, dry-run step, ip matching none", "POST", "/api/sessions/revoke?ip=198.51.100.0/24&dry_run=true"},
		{"search of ended sessions, last 24 hours, ip matching none, one answer", "GET", "/api/sessions?status=ended&ip=198.51.100.0/24"},
		{"search of ended sessions, 30 days, browser matching all, first 50", "GET", fmt.Sprintf("/api/sessions?status=ended&ended_after=%d&browser=Chrome&limit=50", monthAgo)},
		{"search of ended sessions, 30 days, user_prefix matching almost none, one answer", "GET", fmt.Sprintf("/api/sessions?status=ended&ended_after=%d&user_prefix=ffff", monthAgo)},
	} {
		if err := run(e, point, q.label, q.method, q.path, nil, reps, ""); err != nil {
			closeE()
			return nil, err
		}
	}
	// A search followed to its end: what finding a rare session costs in all.
	for _, q := range []struct{ label, query string }{
		{"search followed to the end, user_prefix", "user_prefix=ffff"},
		{"search followed to the end, ip matching none", "ip=198.51.100.0/24"},
		{"search of ended sessions followed to the end, 30 days, user_prefix", fmt.Sprintf("status=ended&ended_after=%d&user_prefix=ffff", monthAgo)},
	} {
		row, err := e.searchToEnd(point, q.label, q.query)
		if err != nil {
			closeE()
			return nil, err
		}
		rows = append(rows, row)
	}
	closeE()

	// 2. The session list of a user with 5,000 sessions, 50 live, beside a user with 10.
	say("scale: a user with %d sessions…", sz.userSessions)
	if e, closeE, err = newEnv(ctx, endpoint, tpl, measuredAt); err != nil {
		return nil, err
	}
	// Random UUIDs for the users and their sessions, as real tenants' are (an index entry's size
	// is mostly its keys).
	users := uuids.Random(rand.New(rand.NewPCG(17, 19)), 2)
	big, small := users[0], users[1]
	if err := e.seedUserSessions(ctx, big, sz.userSessions, 50); err != nil {
		closeE()
		return nil, err
	}
	if err := e.seedUserSessions(ctx, small, 10, 10); err != nil {
		closeE()
		return nil, err
	}
	point = fmt.Sprintf("a user with %s sessions (50 live), UUIDs", count(sz.userSessions))
	for _, q := range []struct{ label, path, fn string }{
		{"session list of a 10-session user, page 1", "/api/users/" + small + "/sessions?size=10", ""},
		{"session list, page 1 (live, newest first)", "/api/users/" + big + "/sessions?size=10", "ListUserSessionsFunction"},
		{"session list, page 5 (live)", "/api/users/" + big + "/sessions?size=10&page=5", ""},
		{"session list, status=all, page 1", "/api/users/" + big + "/sessions?size=10&status=all", ""},
		{"session list, status=all, page 50", "/api/users/" + big + "/sessions?size=10&status=all&page=50", ""},
		{"session list, status=all, by last_updated, page 1", "/api/users/" + big + "/sessions?size=10&status=all&sort=last_updated:-1", ""},
		{"session list, status=all, by last_updated, page 50", "/api/users/" + big + "/sessions?size=10&status=all&sort=last_updated:-1&page=50", ""},
		{"session list, status=ended, by last_updated, page 1", "/api/users/" + big + "/sessions?size=10&status=ended&sort=last_updated:-1", ""},
		{"session list, status=ended, by last_updated, page 50", "/api/users/" + big + "/sessions?size=10&status=ended&sort=last_updated:-1&page=50", ""},
		{"session list, status=all, by session_id, page 1", "/api/users/" + big + "/sessions?size=10&status=all&sort=session_id:1", ""},
		{"session list, status=all, by session_id, page 50", "/api/users/" + big + "/sessions?size=10&status=all&sort=session_id:1&page=50", ""},
		{"session list, status=ended, by session_id, newest first, page 50", "/api/users/" + big + "/sessions?size=10&status=ended&sort=session_id:-1&page=50", ""},
		{"session list, status=all, by expires_at, page 1", "/api/users/" + big + "/sessions?size=10&status=all&sort=expires_at:1", ""},
		{"session list, status=all, by expires_at, page 50", "/api/users/" + big + "/sessions?size=10&status=all&sort=expires_at:1&page=50", ""},
		{"session list, status=all, by expires_at, newest first, page 1", "/api/users/" + big + "/sessions?size=10&status=all&sort=expires_at:-1", ""},
		{"session list, status=ended, by expires_at, newest first, page 1", "/api/users/" + big + "/sessions?size=10&status=ended&sort=expires_at:-1", ""},
		{"session list, status=all, client_id=web, by last_updated", "/api/users/" + big + "/sessions?size=10&status=all&client_id=web&sort=last_updated:-1", ""},
		{"session list, status=ended, client_id=web, by last_updated, page 1", "/api/users/" + big + "/sessions?size=10&status=ended&client_id=web&sort=last_updated:-1", ""},
		{"session list, status=all, client_id=web, page 50", "/api/users/" + big + "/sessions?size=10&status=all&client_id=web&page=50", ""},
		{"session list, live, by last_updated", "/api/users/" + big + "/sessions?size=10&sort=last_updated:-1", ""},
		{"session list, live, by session_id, page 3", "/api/users/" + big + "/sessions?size=10&sort=session_id:1&page=3", ""},
	} {
		if err := run(e, point, q.label, "GET", q.path, nil, reps, q.fn); err != nil {
			closeE()
			return nil, err
		}
	}
	closeE()

	// 3. Users per day: 30 days × 5,000 users (7-character IDs, the same every day), then 5,000 a
	// day drawn from 10,000 with random UUIDs, as real tenants' IDs are.
	rnd := rand.New(rand.NewPCG(23, 3))
	pool := uuids.Random(rnd, sz.dauPool)
	for _, d := range []struct {
		point   string
		day     func(int) []string
		gzipToo bool
	}{
		{fmt.Sprintf("30 days × %s users active every day, 7-character IDs", count(sz.dau)), func(int) []string {
			out := make([]string, sz.dau)
			for u := range out {
				out[u] = fmt.Sprintf("u%06d", u)
			}
			return out
		}, false},
		{fmt.Sprintf("30 days × %s users a day of %s, UUIDs", count(sz.dau), count(sz.dauPool)), func(int) []string {
			p := slices.Clone(pool) // a fresh draw a day
			rnd.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
			return p[:sz.dau]
		}, true},
	} {
		say("scale: %s…", d.point)
		if e, closeE, err = newEnv(ctx, endpoint, tpl, measuredAt); err != nil {
			return nil, err
		}
		tok, err := e.seedDays(ctx, 30, d.day)
		if err != nil {
			closeE()
			return nil, err
		}
		now := e.clock.Now()
		q := fmt.Sprintf("/api/v1/engagement-dashboard/users/active-users?start=%s&end=%s",
			now.AddDate(0, 0, -29).UTC().Format("2006-01-02")+"T00:00:00.000Z", now.UTC().Format("2006-01-02T15:04:05.000Z"))
		auth := []string{"X-User-Id", "boss", "X-Auth-Token", tok}
		if err := run(e, d.point, "users per day, gzip accepted", "GET", q, append(auth, "Accept-Encoding", "gzip"), reps, map[bool]string{true: "ListDailyActiveUsersFunction"}[d.gzipToo]); err != nil {
			closeE()
			return nil, err
		}
		if err := run(e, d.point, "users per day, no gzip", "GET", q, append(auth, "Accept-Encoding", "identity"), 1, ""); err != nil {
			closeE()
			return nil, err
		}
		closeE()
	}

	// 4. The Users tab and DAU/WAU/MAU at 100,000 monthly active users.
	say("scale: %d monthly active users, 90 days of counters…", sz.mau)
	if e, closeE, err = newEnv(ctx, endpoint, tpl, measuredAt); err != nil {
		return nil, err
	}
	tok, err := e.seedCounters(ctx, sz.mau, 90)
	if err != nil {
		closeE()
		return nil, err
	}
	now := e.clock.Now().UTC()
	iso := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z") }
	auth := []string{"X-User-Id", "boss", "X-Auth-Token", tok}
	point = fmt.Sprintf("%s monthly active users, 90 days of counters", count(sz.mau))
	for _, q := range []struct {
		label, path string
		headers     []string
		fn          string
	}{
		{"DAU/WAU/MAU, 90 days", "/api/analytics/active-users?start=" + now.AddDate(0, 0, -89).Format(time.DateOnly) + "&end=" + now.Format(time.DateOnly), nil, "ListActiveUserCountsFunction"},
		{"DAU/WAU/MAU, 90 days, CSV", "/api/analytics/active-users?start=" + now.AddDate(0, 0, -89).Format(time.DateOnly) + "&end=" + now.Format(time.DateOnly), []string{"Accept", "text/csv"}, ""},
		{"new users, 30 days", "/api/v1/engagement-dashboard/users/new-users?start=" + iso(now.AddDate(0, 0, -29).Truncate(24*time.Hour)) + "&end=" + iso(now), auth, "ListNewUsersFunction"},
		{"users by hour, 7 days", "/api/v1/engagement-dashboard/users/users-by-time-of-the-day-in-a-week?start=" + iso(now.AddDate(0, 0, -6).Truncate(24*time.Hour)) + "&end=" + iso(now), auth, "ListUsersByHourFunction"},
		{"busier hours, last 24 h", "/api/v1/engagement-dashboard/users/chat-busier/hourly-data?start=" + iso(now), auth, "ListBusierHoursFunction"},
		{"busier days, last 8 days", "/api/v1/engagement-dashboard/users/chat-busier/weekly-data?start=" + iso(now), auth, "ListBusierDaysFunction"},
	} {
		if err := run(e, point, q.label, "GET", q.path, q.headers, reps, q.fn); err != nil {
			closeE()
			return nil, err
		}
	}
	closeE()

	// 5. A user at the cap of live sessions (100) with 2,000 ended: a login, then revoke-all.
	say("scale: a user at the cap…")
	if e, closeE, err = newEnv(ctx, endpoint, tpl, measuredAt); err != nil {
		return nil, err
	}
	capped := e.deps.Config.Policy.MaxPerUser
	user := uuids.Random(rand.New(rand.NewPCG(31, 37)), 1)[0]
	if err := e.seedUserSessions(ctx, user, capped+2000, capped); err != nil {
		closeE()
		return nil, err
	}
	point = fmt.Sprintf("a user at the cap (%d live, 2,000 ended), UUIDs", capped)
	// The sorts that read the live sessions whole, where that costs most: issue 23 measured them
	// at the cap.
	for _, q := range []struct{ label, query string }{
		{"session list, live, by last_updated", "?size=10&sort=last_updated:-1"},
		{"session list, status=all, by last_updated, page 1", "?size=10&status=all&sort=last_updated:-1"},
	} {
		if err := run(e, point, q.label, "GET", "/api/users/"+user+"/sessions"+q.query, nil, reps, ""); err != nil {
			closeE()
			return nil, err
		}
	}
	if err := run(e, point, "login at the cap (evicts the oldest)", "POST", "/api/users/"+user+"/sessions", nil, 1, "CreateSessionFunction"); err != nil {
		closeE()
		return nil, err
	}
	if err := run(e, point, "revoke all at the cap", "DELETE", "/api/users/"+user+"/sessions", nil, 1, ""); err != nil {
		closeE()
		return nil, err
	}
	closeE()

	// 6. Revoking 4,000 live sessions of one user at once.
	say("scale: revoking %d live sessions at once…", sz.revoke)
	if e, closeE, err = newEnv(ctx, endpoint, tpl, measuredAt); err != nil {
		return nil, err
	}
	defer closeE()
	if err := e.seedUserSessions(ctx, "many", sz.revoke, sz.revoke); err != nil {
		return nil, err
	}
	point = fmt.Sprintf("a user with %s live sessions", count(sz.revoke))
	if err := run(e, point, "revoke all of them", "DELETE", "/api/users/many/sessions", nil, 1, ""); err != nil {
		return nil, err
	}
	page, err := e.deps.Store.SessionsPage(ctx, tenant, "many", sessionQueryAll(sz.revoke))
	if err != nil {
		return nil, err
	}
	live := 0
	for _, s := range page.Sessions {
		if s.Live(e.clock.Now()) {
			live++
		}
	}
	rows[len(rows)-1].Note = fmt.Sprintf("%d of %d still live after the call", live, len(page.Sessions))
	// Its peak memory, on a fresh set of sessions (the first call revoked these).
	if err := e.seedUserSessions(ctx, "many2", sz.revoke, sz.revoke); err != nil {
		return nil, err
	}
	peak, err := peakMemory(ctx, tpl, e, "RevokeUserSessionsFunction", bins["RevokeUserSessionsFunction"], "DELETE", "/api/users/many2/sessions", "", nil)
	if err != nil {
		return nil, err
	}
	rows[len(rows)-1].Function, rows[len(rows)-1].PeakMB = "RevokeUserSessionsFunction", peak
	return rows, nil
}

// peakMemory runs the built function fn once under the Runtime API harness with the request
// as an HTTP API event, against env's database, and returns its peak resident memory in MB.
func peakMemory(ctx context.Context, tpl *template.Template, e *env, fn, bin, method, path, body string, headers []string) (float64, error) {
	u, err := url.Parse(path)
	if err != nil {
		return 0, err
	}
	route := ""
	for _, rt := range tpl.Routes() {
		if rt.Function == fn {
			route = rt.Key()
		}
	}
	h := map[string]string{"x-api-key": e.key}
	for i := 0; i+1 < len(headers); i += 2 {
		h[strings.ToLower(headers[i])] = headers[i+1]
	}
	if body != "" {
		h["content-type"] = "application/json"
	}
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: route, RawPath: u.Path, RawQueryString: u.RawQuery, Headers: h, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RouteKey: route, RequestID: "bench-" + fn, Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: u.Path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.7"}}}
	if v := u.Query(); len(v) > 0 {
		ev.QueryStringParameters = map[string]string{}
		for k := range v {
			ev.QueryStringParameters[k] = v.Get(k)
		}
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	f, err := lambdarun.FromTemplate(tpl, fn, bin, map[string]string{"PulseTable": e.table},
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID="+e.accessKey, "AWS_SECRET_ACCESS_KEY=local", "AWS_ENDPOINT_URL_DYNAMODB="+e.endpoint)
	if err != nil {
		return 0, err
	}
	f.Timeout = 60 * time.Second // measure memory, not the deadline
	r, err := lambdarun.New(f)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	res, err := r.Invoke(ctx, raw)
	if err != nil {
		return 0, err
	}
	if res.Error != nil {
		return 0, fmt.Errorf("%s: %v", fn, res.Error)
	}
	var resp events.APIGatewayV2HTTPResponse
	if json.Unmarshal(res.Payload, &resp) != nil || resp.StatusCode >= 300 {
		return 0, fmt.Errorf("%s: %.300s", fn, res.Payload)
	}
	return float64(res.MaxMemoryKB) / 1024, nil
}

// snapshotRun measures what the scheduled run spends on the active lists' snapshots (here the
// one tenant's), as one row.
func (e *env) snapshotRun(ctx context.Context, point string, rows *[]scaleRow) error {
	e.meter.Reset()
	began := time.Now()
	took, done, err := e.deps.Store.TakeActiveSnapshots(ctx, func() bool { return false })
	if err != nil {
		return err
	}
	if took != 1 || !done {
		return fmt.Errorf("the run took %d snapshots (done %v), want the tenant's", took, done)
	}
	calls, rcu, wcu := e.meter.Snapshot()
	awsR, awsW := e.meter.OnAWS()
	*rows = append(*rows, scaleRow{Point: point, Label: "a scheduled run's snapshot of the active list", Status: 200, Calls: calls,
		RCU: rcu, WCU: wcu, AWSRCU: awsR, AWSWCU: awsW, P50: time.Since(began)})
	return nil
}

// seedActive makes n users (UUIDs) each with one session (a UUID) active now, and beside them a
// quarter as many idle past the active window but not yet expired, and ended more, ended (the
// operator's search, issue 24, is measured at 100,000 ended).
func (e *env) seedActive(ctx context.Context, n, ended int) error {
	now := e.clock.Now()
	p := e.deps.Config.Policy
	rnd := rand.New(rand.NewPCG(7, 11))
	ids := uuids.Random(rnd, n+n/4+ended)
	var users []pulse.User
	var ss []*pulse.Session
	for i, u := range ids {
		users = append(users, pulse.User{TenantID: tenant, ID: u, Name: "User " + u[:8], Type: "Member", CreatedAt: now, UpdatedAt: now})
		s := benchSession(u, uuids.Random(rnd, 1)[0], now.Add(-time.Hour), now.Add(-time.Minute), p)
		switch {
		case i >= n+n/4: // ended, spread over the last 30 days (the search of ended sessions reads them by day)
			end := now.Add(-2*time.Minute - time.Duration(i-n-n/4)*(30*24*time.Hour/time.Duration(ended))) // divided first: the product overflows
			s.InitiatedAt, s.LastActivity = end.Add(-time.Hour), end
			s.EndReason, s.EndedAt = pulse.EndRevoked, end
		case i >= n: // idle: past the window, inside the idle timeout
			s.LastActivity = now.Add(-p.ActiveWindow - (p.IdleTimeout-p.ActiveWindow)/2)
			s.ExpiresAt = s.LastActivity.Add(p.IdleTimeout)
		}
		ss = append(ss, s)
	}
	return e.deps.Store.Import(ctx, users, ss, time.UTC)
}

// searchToEnd follows the cursors of GET /api/sessions?query to the end and sums what the
// answers cost; the note says how many answers and sessions found.
func (e *env) searchToEnd(point, label, query string) (scaleRow, error) {
	row := scaleRow{Point: point, Label: label, Status: 200}
	cursor, answers, found := "", 0, 0
	start := time.Now()
	for {
		path := "/api/sessions?" + query
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		e.meter.Reset()
		resp, err := e.do("", "GET", path, "")
		if err != nil {
			return row, err
		}
		if resp.status != 200 {
			return row, fmt.Errorf("GET %s: %d %s", path, resp.status, resp.body)
		}
		var a struct {
			Sessions []json.RawMessage
			Next     *string
		}
		if err := json.Unmarshal(resp.body, &a); err != nil {
			return row, err
		}
		calls, rcu, wcu := e.meter.Snapshot()
		awsR, awsW := e.meter.OnAWS()
		row.Calls, row.RCU, row.WCU, row.AWSRCU, row.AWSWCU = row.Calls+calls, row.RCU+rcu, row.WCU+wcu, row.AWSRCU+awsR, row.AWSWCU+awsW
		row.Bytes += len(resp.body)
		answers++
		found += len(a.Sessions)
		if a.Next == nil {
			break
		}
		cursor = *a.Next
	}
	row.P50 = time.Since(start) // the whole walk, not one request
	row.Note = fmt.Sprintf("%d answers, %d found; time is the whole walk", answers, found)
	return row, nil
}

// seedUserSessions gives user total sessions with random UUIDs, the newest live of them live, the
// rest ended after lasting up to two hours (so that their order by last activity is not their
// order by start).
func (e *env) seedUserSessions(ctx context.Context, user string, total, live int) error {
	now := e.clock.Now()
	ids := uuids.Random(rand.New(rand.NewPCG(uint64(total), 29)), total)
	var ss []*pulse.Session
	for i := range total {
		init := now.Add(-time.Duration(total-i) * time.Minute)
		s := benchSession(user, ids[i], init, now.Add(-30*time.Second), e.deps.Config.Policy)
		if i < total-live {
			s.LastActivity = init.Add(time.Duration(i*7919%120)*time.Minute + 30*time.Second)
			if s.LastActivity.After(now.Add(-time.Minute)) {
				s.LastActivity = now.Add(-time.Minute)
			}
			// Revoked at its last activity, its expiry is what that activity set (frozen by the end).
			s.EndReason, s.EndedAt = pulse.EndRevoked, s.LastActivity
			s.ExpiresAt = e.deps.Config.Policy.Expiry(s.LastActivity, s.HardExpires)
		}
		ss = append(ss, s)
	}
	return e.deps.Store.Import(ctx, []pulse.User{{TenantID: tenant, ID: user, Name: user, CreatedAt: now, UpdatedAt: now}}, ss, time.UTC)
}

// seedDays makes the users perDay gives active on each of the last days days (perDay(0) today),
// rolls the closed days up as the scheduled function does, and returns an admin's access token.
func (e *env) seedDays(ctx context.Context, days int, perDay func(int) []string) (string, error) {
	now := e.clock.Now()
	all := map[string][]string{}
	for d := range days {
		day := now.AddDate(0, 0, -d).UTC().Format(time.DateOnly)
		for _, u := range perDay(d) {
			all[u] = append(all[u], day)
		}
	}
	if err := e.deps.Store.LoadHistory(ctx, tenant, all, nil); err != nil {
		return "", err
	}
	if _, err := (&cleanup.Cleaner{Store: e.deps.Store, Now: e.clock.Now}).Run(ctx); err != nil {
		return "", err
	}
	return e.adminToken(ctx)
}

// seedCounters loads the activity counters of users who joined over the last days days, each
// active on about a third of the days since, for one to three hours of each (counters only:
// what the Users tab and DAU/WAU/MAU read), and returns an admin's access token.
func (e *env) seedCounters(ctx context.Context, users, days int) (string, error) {
	now := e.clock.Now().UTC()
	rnd := rand.New(rand.NewPCG(5, 9))
	active, hours, created := map[string][]string{}, map[string][]string{}, map[string]string{}
	for u := range users {
		id := fmt.Sprintf("u%06d", u)
		joined := rnd.IntN(days)
		created[id] = now.AddDate(0, 0, -joined).Format(time.DateOnly)
		for d := joined; d >= 0; d-- {
			if rnd.IntN(3) != 0 {
				continue
			}
			day := now.AddDate(0, 0, -d)
			active[id] = append(active[id], day.Format(time.DateOnly))
			h := 7 + rnd.IntN(12)
			for k := range 1 + rnd.IntN(3) {
				hours[id] = append(hours[id], fmt.Sprintf("%sT%02d", day.Format(time.DateOnly), h+k))
			}
		}
	}
	if err := e.deps.Store.LoadCounters(ctx, tenant, active, hours, created); err != nil {
		return "", err
	}
	return e.adminToken(ctx)
}

func benchSession(user, id string, init, last time.Time, p pulse.SessionPolicy) *pulse.Session {
	return &pulse.Session{TenantID: tenant, UserID: user, ID: id, Key: strings.Repeat("A", 64), ClientIDs: []string{"web"},
		InitiatedAt: init, LastActivity: last, ExpiresAt: last.Add(p.IdleTimeout), HardExpires: init.Add(p.MaxLifetime),
		IPAddress: "203.0.113.7", Device: pulse.Device{UserAgent: chromeUA, Browser: "Chrome", Version: "134.0.0.0", MajorVersion: 134, OS: "Linux"},
		Location: pulse.Location{CountryCode: "US", Country: "United States of America", City: "Los Angeles", Continent: "North America", Latitude: "34.043238", Longitude: "-118.250918"}}
}

func sessionQueryAll(n int) store.SessionQuery {
	return store.SessionQuery{Status: "all", Sort: "initiated_at", Offset: 0, Limit: n}
}
