package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// latencyRow is one endpoint's latency over repeated requests.
type latencyRow struct {
	Label                  string
	N                      int
	P50, P95, P99          time.Duration // as the client saw it, through the local API server
	DDB50, Server50, Own50 time.Duration // inside the server: DynamoDB time, total, and the difference
}

// latency sends reps requests to each read endpoint and to activity and login, one at a time,
// on the real clock.
func (e *env) latency(ctx context.Context, reps int) ([]latencyRow, error) {
	e.clock.mu.Lock()
	e.clock.real = true
	e.clock.mu.Unlock()
	tok, err := e.adminToken(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	start := now.AddDate(0, 0, -(historyDays-1)).UTC().Format("2006-01-02") + "T00:00:00.000Z"
	end := now.UTC().Add(time.Hour).Format("2006-01-02T15:04:05.000Z")
	type req struct {
		label, method, path, body string
		headers                   []string
	}
	reqs := []req{
		{"GET active users (admin)", "GET", "/settings/users/active-users", "", nil},
		{"GET users per day, 7 days (engagement)", "GET", "/api/v1/engagement-dashboard/users/active-users?start=" + start + "&end=" + end, "", []string{"X-User-Id", "boss", "X-Auth-Token", tok}},
		{"GET a user's sessions, page 1", "GET", "/api/users/u000000/sessions?status=all", "", nil},
		{"GET user", "GET", "/api/users/u000000", "", nil},
		{"GET session", "GET", "/api/users/u000000/sessions/s000000-0", "", nil},
		{"POST activity", "POST", "/api/users/u000000/sessions/s000000-0/activity", "", nil},
		{"POST session (login)", "POST", "/api/users/u000009/sessions", `{"client_id":"web"}`, nil},
	}
	var rows []latencyRow
	for _, r := range reqs {
		var client []time.Duration
		for i := 0; i < reps+5; i++ {
			label := r.label
			if i < 5 {
				label = "" // warm-up: connections, caches
			}
			resp, err := e.do(label, r.method, r.path, r.body, r.headers...)
			if err != nil {
				return nil, err
			}
			if resp.status >= 300 {
				return nil, fmt.Errorf("%s: %d %s", r.label, resp.status, resp.body)
			}
			if label != "" {
				client = append(client, resp.client)
			}
		}
		e.mu.Lock()
		ss := e.samples[r.label]
		e.mu.Unlock()
		var ddb, server, own []time.Duration
		for _, s := range ss {
			ddb, server, own = append(ddb, s.ddb), append(server, s.server), append(own, s.server-s.ddb)
		}
		rows = append(rows, latencyRow{Label: r.label, N: len(client),
			P50: percentile(client, 50), P95: percentile(client, 95), P99: percentile(client, 99),
			DDB50: percentile(ddb, 50), Server50: percentile(server, 50), Own50: percentile(own, 50)})
	}
	return rows, nil
}

// heartbeatResult is the cost of activity at a realistic rate.
type heartbeatResult struct {
	Sessions, Calls  int
	WCU, RCU         float64 // the session's own reads and writes (authentication is apart)
	PerCall          float64
	PerCallRCU       float64
	Resolution       time.Duration
	SteadyPerCall    float64 // calls within one bucket and day
	PerUserDay       float64 // extra WCU of the first activity of a session on a new day
	TransitionPerCal float64
}

// heartbeat has sessions send one heartbeat every 30 seconds for an hour that crosses
// midnight, on a pinned clock, and reads what DynamoDB charged.
func (e *env) heartbeat(ctx context.Context, sessions int) (heartbeatResult, error) {
	t0 := time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC)
	e.clock.Set(t0)
	for i := range sessions {
		if _, _, err := e.deps.Store.CreateSession(ctx, store.NewSession{TenantID: tenant, UserID: fmt.Sprintf("hb%03d", i), SessionID: "HB", ClientID: "web",
			IP: "203.0.113.7", Device: pulse.Device{UserAgent: chromeUA}}); err != nil {
			return heartbeatResult{}, err
		}
	}
	res := heartbeatResult{Sessions: sessions}
	var steadyWCU, steadyCalls float64
	var crossWCU, crossCalls float64
	for step := 1; step <= 120; step++ {
		t := t0.Add(time.Duration(step) * heartbeatEvery)
		e.clock.Set(t)
		prev := t.Add(-heartbeatEvery)
		sameBucket := prev.Truncate(5 * time.Minute).Equal(t.Truncate(5 * time.Minute))
		newDay := prev.YearDay() != t.YearDay()
		for i := range sessions {
			var m store.Meter
			if err := e.deps.Store.RecordActivity(store.WithMeter(ctx, &m), store.Activity{TenantID: tenant, UserID: fmt.Sprintf("hb%03d", i), SessionID: "HB", Zone: time.UTC}); err != nil {
				return res, err
			}
			_, rcu, wcu := m.Snapshot()
			res.Calls++
			res.WCU += wcu
			res.RCU += rcu
			switch {
			case sameBucket:
				steadyWCU, steadyCalls = steadyWCU+wcu, steadyCalls+1
			case newDay:
				crossWCU, crossCalls = crossWCU+wcu, crossCalls+1
			}
		}
	}
	res.PerCall = res.WCU / float64(res.Calls)
	res.PerCallRCU = res.RCU / float64(res.Calls)
	res.Resolution = e.deps.Config.Policy.ActivityResolution
	res.SteadyPerCall = steadyWCU / steadyCalls
	// At midnight the session also moves buckets (2 + 2 index WCU); what is left is the day.
	res.PerUserDay = crossWCU/crossCalls - res.SteadyPerCall - 4
	return res, nil
}

// heartbeatEvery is the interval of the benchmark's heartbeats, one by one and in batches (a
// browser tab's or a mobile app's, and the cost model's month).
const heartbeatEvery = 30 * time.Second

// batchResult is the cost of activity sent in batches (POST /api/activity) at a realistic rate.
type batchResult struct {
	Sessions, Batches int
	Resolution        time.Duration
	// Per heartbeat (entry), on AWS's rules: the batch's key check, its BatchGetItem and its
	// writes, all included.
	PerEntryRCU, PerEntryWCU float64
	Server50                 time.Duration // the local server's p50 for one batch
	Bytes                    int           // one batch's body
}

// batchHeartbeat has sessions send a heartbeat every 30 seconds for an hour that crosses
// midnight, all of them in one batch every 30 seconds (an application's backend flushing what
// it holds), on a pinned clock, through HTTP; it reads what DynamoDB charged for each batch.
func (e *env) batchHeartbeat(ctx context.Context, sessions int) (batchResult, error) {
	t0 := time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC)
	e.clock.Set(t0)
	type entry struct {
		UserID    string `json:"user_id"`
		SessionID string `json:"session_id"`
	}
	var body struct {
		Activity []entry `json:"activity"`
	}
	for i := range sessions {
		user := fmt.Sprintf("bb%03d", i)
		if _, _, err := e.deps.Store.CreateSession(ctx, store.NewSession{TenantID: tenant, UserID: user, SessionID: "HB", ClientID: "web",
			IP: "203.0.113.7", Device: pulse.Device{UserAgent: chromeUA}}); err != nil {
			return batchResult{}, err
		}
		body.Activity = append(body.Activity, entry{user, "HB"})
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return batchResult{}, err
	}
	label := fmt.Sprintf("POST activity, a batch of %d", sessions)
	res := batchResult{Sessions: sessions, Resolution: e.deps.Config.Policy.ActivityResolution, Bytes: len(raw)}
	var rcu, wcu float64
	for step := 1; step <= 120; step++ {
		e.clock.Set(t0.Add(time.Duration(step) * heartbeatEvery))
		e.meter.Reset()
		resp, err := e.do(label, "POST", "/api/activity", string(raw))
		if err != nil {
			return res, err
		}
		var out struct{ Results []struct{ Status int } }
		if err := json.Unmarshal(resp.body, &out); err != nil || resp.status != 200 || len(out.Results) != sessions {
			return res, fmt.Errorf("batch: %d %s", resp.status, resp.body)
		}
		for _, r := range out.Results {
			if r.Status != 204 {
				return res, fmt.Errorf("batch entry: %d %s", r.Status, resp.body)
			}
		}
		r, w := e.meter.OnAWS()
		rcu, wcu = rcu+r, wcu+w
		res.Batches++
	}
	entries := float64(res.Batches * sessions)
	res.PerEntryRCU, res.PerEntryWCU = rcu/entries, wcu/entries
	e.mu.Lock()
	var server []time.Duration
	for _, s := range e.samples[label] {
		server = append(server, s.server)
	}
	e.mu.Unlock()
	res.Server50 = percentile(server, 50)
	return res, nil
}
