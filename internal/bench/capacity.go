package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/pulse-sessions/pulse/shared/cleanup"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

const (
	activeSessions  = 100 // live and active now, whatever the size
	expiredRecently = 100 // expired since the last cleanup run
	sessionsPerUser = 10
	historyDays     = 7
	chromeUA        = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36"
)

func userID(i int) string       { return fmt.Sprintf("u%06d", i) }
func sessionID(u, n int) string { return fmt.Sprintf("s%06d-%d", u, n) }

// seed fills the tenant with size sessions (at least 1,000) as of now, 10 per user: 100 active
// now (the first session of users 0–99), 100 that expired in the last half hour (their second:
// cleanup's work), and the rest ended long ago (half revoked, half idle); every user active on each of the last 7 days; and a
// cleanup cursor as a run half an hour ago would have left it.
func (e *env) seed(ctx context.Context, size int, now time.Time) error {
	users := max(size, 1000) / sessionsPerUser
	var us []pulse.User
	var ss []*pulse.Session
	n := 0
	mk := func(u, k int, init, last, exp, hard time.Time) *pulse.Session {
		n++
		return &pulse.Session{TenantID: tenant, UserID: userID(u), ID: sessionID(u, k), Key: fmt.Sprintf("%064X", n),
			ClientIDs: []string{"web"}, InitiatedAt: init, LastActivity: last, ExpiresAt: exp, HardExpires: hard,
			IPAddress: "203.0.113.7", Device: pulse.Device{UserAgent: chromeUA, Browser: "Chrome", Version: "134.0.0.0", MajorVersion: 134, OS: "Linux"},
			Location: pulse.Location{CountryCode: "US", Country: "United States of America", City: "Los Angeles", Continent: "North America", Latitude: "34.043238", Longitude: "-118.250918"}}
	}
	p := e.deps.Config.Policy
	for u := range users {
		us = append(us, pulse.User{TenantID: tenant, ID: userID(u), Name: fmt.Sprintf("User %d", u), Type: "Member", Roles: []string{"member"}, CreatedAt: now, UpdatedAt: now})
		for k := range sessionsPerUser {
			if n >= size {
				break
			}
			switch {
			case k == 0 && u < activeSessions:
				last := now.Add(-time.Minute)
				ss = append(ss, mk(u, k, now.Add(-time.Hour), last, last.Add(p.IdleTimeout), now.Add(23*time.Hour)))
			case k == 1 && u < expiredRecently:
				last := now.Add(-p.IdleTimeout - time.Duration(5+u%20)*time.Minute)
				ss = append(ss, mk(u, k, last.Add(-time.Hour), last, last.Add(p.IdleTimeout), last.Add(20*time.Hour)))
			default:
				init := now.Add(-time.Duration(48+k*24) * time.Hour)
				s := mk(u, k, init, init.Add(time.Hour), init.Add(time.Hour+p.IdleTimeout), init.Add(p.MaxLifetime))
				if k%2 == 0 {
					s.EndReason, s.EndedAt = pulse.EndRevoked, s.LastActivity
				} else {
					s.EndReason, s.EndedAt = pulse.EndIdle, s.ExpiresAt
				}
				ss = append(ss, s)
			}
		}
	}
	if err := e.deps.Store.Import(ctx, us, ss, time.UTC); err != nil {
		return err
	}
	days := make([]string, historyDays)
	for d := range days {
		days[d] = now.AddDate(0, 0, -d).UTC().Format(time.DateOnly)
	}
	all := map[string][]string{}
	for u := range users {
		all[userID(u)] = days
	}
	if err := e.deps.Store.LoadHistory(ctx, tenant, all, nil); err != nil {
		return err
	}
	if err := e.deps.Store.RollUp(ctx, tenant, days); err != nil {
		return err
	}
	prev := now.Add(-30 * time.Minute).Truncate(store.ExpiryBucket)
	return e.deps.Store.AdvanceCleanupCursor(ctx, nil, prev)
}

// capacityRow is what one request cost.
type capacityRow struct {
	Label    string
	Status   int
	Calls    int
	RCU, WCU float64
	AWSRCU   float64 // on AWS's accounting (store.Meter.OnAWS)
	AWSWCU   float64
	Bytes    int
	Min      float64 // the minimum the answer needs, in the unit that dominates (RCU for reads, WCU for writes)
	Write    bool
}

// ratio is measured / minimum on AWS's accounting, in the unit that dominates.
func (r capacityRow) ratio() float64 {
	if r.Min == 0 {
		return 0
	}
	if r.Write {
		return r.AWSWCU / r.Min
	}
	return r.AWSRCU / r.Min
}

// capacity measures one request of every endpoint, and a cleanup run, on the seeded tenant.
func (e *env) capacity(ctx context.Context, now time.Time) ([]capacityRow, error) {
	e.clock.Set(now)
	if _, _, err := e.deps.Tenants.Get(ctx, tenant); err != nil { // a warm container's cache
		return nil, err
	}
	tok, err := e.adminToken(ctx)
	if err != nil {
		return nil, err
	}
	start := now.AddDate(0, 0, -(historyDays-1)).UTC().Format("2006-01-02") + "T00:00:00.000Z"
	end := now.UTC().Format("2006-01-02T15:04:05.000Z")
	// A heartbeat first, so that the measured one is in steady state (same bucket, same day).
	if _, err := e.do("", "POST", "/api/users/u000000/sessions/s000000-0/activity", ""); err != nil {
		return nil, err
	}
	type req struct {
		label, method, path, body string
		headers                   []string
		minWCU                    float64 // for writes: items that must change
	}
	reqs := []req{
		{"GET active users (admin)", "GET", "/settings/users/active-users", "", nil, 0},
		{"GET users per day, 7 days (engagement)", "GET", "/api/v1/engagement-dashboard/users/active-users?start=" + start + "&end=" + end, "", []string{"X-User-Id", "boss", "X-Auth-Token", tok}, 0},
		{"GET a user's sessions, page 1", "GET", "/api/users/u000000/sessions?status=all", "", nil, 0},
		{"GET user", "GET", "/api/users/u000000", "", nil, 0},
		{"GET session", "GET", "/api/users/u000000/sessions/s000000-0", "", nil, 0},
		{"PUT user", "PUT", "/api/users/u000001", `{"name":"Renamed","type":"Member","roles":["member"]}`, nil, 1},
		{"POST session (login)", "POST", "/api/users/u000002/sessions", `{"client_id":"web","ip_address":"203.0.113.9"}`, nil, 1},
		{"POST activity (steady state)", "POST", "/api/users/u000000/sessions/s000000-0/activity", "", nil, 1},
		{"DELETE session (revoke)", "DELETE", "/api/users/u000003/sessions/s000003-0", "", nil, 1},
		{"DELETE a user's sessions (1 live of 10)", "DELETE", "/api/users/u000004/sessions", "", nil, 1},
		{"POST token", "POST", "/api/users/u000005/tokens", `{"name":"bench"}`, nil, 1},
		{"DELETE token", "DELETE", "/api/users/u000005/tokens/bench", "", nil, 1},
		{"DELETE user (10 sessions, 7 days)", "DELETE", "/api/users/u000006", "", nil, 1 + sessionsPerUser + historyDays},
	}
	var rows []capacityRow
	for _, r := range reqs {
		e.meter.Reset()
		resp, err := e.do("", r.method, r.path, r.body, r.headers...)
		if err != nil {
			return nil, err
		}
		if resp.status >= 300 {
			return nil, fmt.Errorf("%s: %d %s", r.label, resp.status, resp.body)
		}
		calls, rcu, wcu := e.meter.Snapshot()
		awsR, awsW := e.meter.OnAWS()
		row := capacityRow{Label: r.label, Status: resp.status, Calls: calls, RCU: rcu, WCU: wcu, AWSRCU: awsR, AWSWCU: awsW, Bytes: len(resp.body), Write: r.minWCU > 0}
		if row.Write {
			row.Min = r.minWCU
		} else {
			// The answer's bytes read eventually consistent: 4 KB per half RCU.
			row.Min = float64(len(resp.body)) / 4096 / 2
		}
		rows = append(rows, row)
	}
	e.meter.Reset()
	sum, err := (&cleanup.Cleaner{Store: e.deps.Store, Now: e.clock.Now}).Run(ctx)
	if err != nil {
		return nil, err
	}
	calls, rcu, wcu := e.meter.Snapshot()
	awsR, awsW := e.meter.OnAWS()
	rows = append(rows, capacityRow{Label: fmt.Sprintf("cleanup run (%d expired)", sum.Ended), Status: 200, Calls: calls, RCU: rcu, WCU: wcu,
		AWSRCU: awsR, AWSWCU: awsW, Min: float64(sum.Ended), Write: true})
	return rows, nil
}

// adminToken makes an admin user with a personal access token (once per env).
func (e *env) adminToken(ctx context.Context) (string, error) {
	if _, _, err := e.deps.Store.PutUser(ctx, pulse.User{TenantID: tenant, ID: "boss", Name: "Boss", Roles: []string{pulse.AdminRole}}, time.UTC); err != nil {
		return "", err
	}
	_ = e.deps.Store.RevokeToken(ctx, tenant, "boss", "bench")
	tok, _, err := e.deps.Store.CreateToken(ctx, tenant, "boss", "bench", 0)
	return tok, err
}
