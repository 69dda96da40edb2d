package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/boot"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// tickingClock moves on a millisecond every time it is read, so that every write gets its own
// time and the latest one is known: the last value handed out.
type tickingClock struct{ n atomic.Int64 }

func (c *tickingClock) Now() time.Time {
	return apptest.Start.Add(time.Duration(c.n.Add(1)) * time.Millisecond)
}

func (c *tickingClock) Last() time.Time {
	return apptest.Start.Add(time.Duration(c.n.Load()) * time.Millisecond)
}

// hammer sends n requests from workers goroutines and returns the status counts and how long
// it took. Bounded in count, loopback only.
func hammer(e *apptest.Env, n, workers int, req func(i int) (method, path, body string)) (map[int]int, time.Duration) {
	var mu sync.Mutex
	statuses := map[int]int{}
	next := atomic.Int64{}
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				m, p, b := req(i)
				r := e.Do(m, p, b, apptest.Key(e.Key)...)
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return statuses, time.Since(start)
}

// post sends body to path with the tenant's key, as a client would, without the suite's check
// of every answer against openapi.yaml (the batch tests do that; a 500-entry answer takes it long).
func post(e *apptest.Env, path string, body []byte) (int, []byte) {
	req, err := http.NewRequest("POST", e.URL+path, bytes.NewReader(body))
	if err != nil {
		e.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-KEY", e.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Error(err)
	}
	return resp.StatusCode, b
}

func report(t *testing.T, what string, n int, statuses map[int]int, took time.Duration) {
	t.Helper()
	errs := 0
	for code, c := range statuses {
		if code >= 300 {
			errs += c
		}
	}
	t.Logf("load: %s: %d requests, %d errors, %s, %.0f requests/s, statuses %v", what, n, errs, took.Round(time.Millisecond), float64(n)/took.Seconds(), statuses)
	if errs != 0 {
		t.Errorf("%s: %d requests failed (%v)", what, errs, statuses)
	}
}

// 100 concurrent heartbeats on one session: none fails, none is lost — the stored last activity
// is the latest one sent, and every client each one named is in the session. They name as many
// new clients as a session has room for (pulse.MaxSessionClients), each in about three of them
// at once; ACTIVITY_RESOLUTION is off, so that every heartbeat writes (with it, one whose client
// has joined already and that comes within the resolution of the stored one would coalesce,
// and the stored last activity would lag the latest by design).
func TestLoadOneSession(t *testing.T) {
	clock := &tickingClock{}
	e := apptest.NewWith(t, apptest.Options{Now: clock.Now, Config: func(c *boot.Config) { c.Policy.ActivityResolution = 0 }})
	if r := e.Do("POST", "/api/users/u1/sessions", `{"client_id":"web","session_id":"S1"}`, apptest.Key(e.Key)...); r.Status != 201 {
		t.Fatal(r.Status)
	}
	const n = 100
	statuses, took := hammer(e, n, n, func(i int) (string, string, string) {
		return "POST", "/api/users/u1/sessions/S1/activity", fmt.Sprintf(`{"client_id":"c%03d"}`, i%(pulse.MaxSessionClients-1))
	})
	report(t, "100 concurrent heartbeats on one session", n, statuses, took)
	latest := clock.Last()
	s, err := e.Deps.Store.GetSession(context.Background(), "acme", "u1", "S1")
	if err != nil {
		t.Fatal(err)
	}
	if !s.LastActivity.Equal(latest) {
		t.Errorf("last activity %v, want the latest heartbeat's %v: an update was lost", s.LastActivity, latest)
	}
	if len(s.ClientIDs) != pulse.MaxSessionClients {
		t.Errorf("%d clients recorded, want %d: an update was lost", len(s.ClientIDs), pulse.MaxSessionClients)
	}
}

// A few thousand heartbeats over 300 sessions of 200 users, 32 at a time: no failure, and the
// three read APIs agree exactly with what was sent.
func TestLoadManySessions(t *testing.T) {
	clock := &tickingClock{}
	e := apptest.NewWith(t, apptest.Options{Now: clock.Now})
	const users, heartbeats = 200, 3000
	sessions := []string{}
	for u := range users {
		for k := range 1 + u%2 {
			id := fmt.Sprintf("S%d", k)
			if r := e.Do("POST", fmt.Sprintf("/api/users/u%03d/sessions", u), fmt.Sprintf(`{"client_id":"web","session_id":%q}`, id), apptest.Key(e.Key)...); r.Status != 201 {
				t.Fatalf("login: %d %s", r.Status, r.Body)
			}
			sessions = append(sessions, fmt.Sprintf("/api/users/u%03d/sessions/%s/activity", u, id))
		}
	}
	statuses, took := hammer(e, heartbeats, 32, func(i int) (string, string, string) {
		return "POST", sessions[i%len(sessions)], ""
	})
	report(t, fmt.Sprintf("%d heartbeats over %d sessions of %d users, 32 at a time", heartbeats, len(sessions), users), heartbeats, statuses, took)

	r := e.Do("GET", "/settings/users/active-users?limit=2000", "", apptest.Key(e.Key)...)
	var active struct {
		Result []map[string]any `json:"result"`
	}
	r.JSON(t, &active)
	if len(active.Result) != len(sessions) || r.Header.Get("X-Total-Count") != fmt.Sprint(len(sessions)) {
		t.Errorf("active users: %d sessions (X-Total-Count %s), want %d", len(active.Result), r.Header.Get("X-Total-Count"), len(sessions))
	}
	if r := e.Do("PUT", "/api/users/boss", `{"roles":["admin"]}`, apptest.Key(e.Key)...); r.Status != 201 {
		t.Fatal(r.Status)
	}
	r = e.Do("POST", "/api/users/boss/tokens", `{"name":"t"}`, apptest.Key(e.Key)...)
	var tok struct{ AuthToken string }
	r.JSON(t, &tok)
	r = e.Do("GET", "/api/v1/engagement-dashboard/users/active-users?start=2026-03-10T00:00:00.000Z&end=2026-03-10T23:59:59.999Z", "", "X-User-Id", "boss", "X-Auth-Token", tok.AuthToken)
	var days struct {
		Month []struct {
			UsersList []string
			Users     int
		}
	}
	r.JSON(t, &days)
	if len(days.Month) != 1 || days.Month[0].Users != users || len(days.Month[0].UsersList) != users {
		t.Errorf("users active today: %s, want exactly the %d users", r.Body[:min(len(r.Body), 300)], users)
	}
	for _, u := range []int{0, 1, 199} {
		r := e.Do("GET", fmt.Sprintf("/api/users/u%03d/sessions", u), "", apptest.Key(e.Key)...)
		var list []any
		r.JSON(t, &list)
		var p struct {
			TotalCount int `json:"total_count"`
		}
		_ = json.Unmarshal([]byte(r.Header.Get("X-Pagination")), &p)
		if want := 1 + u%2; len(list) != want || p.TotalCount != want {
			t.Errorf("user u%03d: %d sessions listed (%d total), want %d", u, len(list), p.TotalCount, want)
		}
	}
}

// 100 batches of 500 heartbeats over 2,000 sessions, 8 batches at a time, each entry with its
// own time ("at", 20 s apart for a session, arriving out of order across batches): no batch and
// no entry fails, and every session's last activity is its latest heartbeat, or (coalesced
// under ACTIVITY_RESOLUTION) less than the resolution before it, with the expiry the idle
// timeout after. 100 batches, not 200: 200 took 2m11s of CI here, DynamoDB Local's writes the
// bound, and 50,000 entries already give every session 25 heartbeats out of order.
func TestLoadBatches(t *testing.T) {
	e := apptest.New(t)
	const users, perUser, batches, size, workers = 1000, 2, 100, 500, 8
	const sessions = users * perUser
	statuses, took := hammer(e, sessions, 32, func(i int) (string, string, string) {
		return "POST", fmt.Sprintf("/api/users/u%04d/sessions", i/perUser), fmt.Sprintf(`{"client_id":"web","session_id":"S%d"}`, i%perUser)
	})
	report(t, fmt.Sprintf("%d logins", sessions), sessions, statuses, took)
	start := e.Clock.Now()
	e.Clock.Add(20 * time.Minute)
	// Entry i of the whole run is session i%sessions's (i/sessions)th heartbeat.
	at := func(i int) time.Time { return start.Add(10*time.Second + time.Duration(i/sessions)*20*time.Second) }
	var mu sync.Mutex
	entryStatuses, batchStatuses := map[int]int{}, map[int]int{}
	next := atomic.Int64{}
	began := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := int(next.Add(1)) - 1; b < batches; b = int(next.Add(1)) - 1 {
				var body struct {
					Activity []map[string]any `json:"activity"`
				}
				for j := range size {
					i := (b*size + j)
					s := i % sessions
					body.Activity = append(body.Activity, map[string]any{"user_id": fmt.Sprintf("u%04d", s/perUser), "session_id": fmt.Sprintf("S%d", s%perUser), "at": at(i).Unix()})
				}
				raw, _ := json.Marshal(body)
				status, answer := post(e, "/api/activity", raw)
				var res struct{ Results []struct{ Status int } }
				_ = json.Unmarshal(answer, &res)
				mu.Lock()
				batchStatuses[status]++
				for _, x := range res.Results {
					entryStatuses[x.Status]++
				}
				if len(res.Results) != size {
					entryStatuses[0] += size - len(res.Results) // entries left unanswered
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took = time.Since(began)
	t.Logf("load: %d batches of %d entries over %d sessions, %d at a time: %s, %.0f entries/s, batches %v, entries %v",
		batches, size, sessions, workers, took.Round(time.Millisecond), float64(batches*size)/took.Seconds(), batchStatuses, entryStatuses)
	if batchStatuses[200] != batches || entryStatuses[204] != batches*size {
		t.Errorf("batches %v, entries %v: want every batch 200 and every entry 204", batchStatuses, entryStatuses)
	}
	resolution := e.Deps.Store.Policy().ActivityResolution
	latest := at(batches*size - 1) // the last round's time: every session's latest heartbeat
	off := 0
	for s := range sessions {
		got, err := e.Deps.Store.GetSession(context.Background(), "acme", fmt.Sprintf("u%04d", s/perUser), fmt.Sprintf("S%d", s%perUser))
		if err != nil {
			t.Fatal(err)
		}
		if got.LastActivity.After(latest) || !got.LastActivity.After(latest.Add(-resolution)) ||
			!got.ExpiresAt.Equal(got.LastActivity.Add(e.Deps.Store.Policy().IdleTimeout)) {
			if off++; off <= 5 {
				t.Errorf("session %d: last activity %v, expires %v; want within %v before %v, expiring the idle timeout after", s, got.LastActivity, got.ExpiresAt, resolution, latest)
			}
		}
	}
	t.Logf("load: %d of %d sessions' last activity within %v of their latest heartbeat", sessions-off, sessions, resolution)
}
