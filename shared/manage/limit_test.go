package manage_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"context"
	"testing"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/uuids"
	"github.com/pulse-sessions/pulse/shared/boot"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

func withCap(n int, policy string) apptest.Options {
	return apptest.Options{Config: func(c *boot.Config) { c.Policy.MaxPerUser, c.Policy.LimitPolicy = n, policy }}
}

func loginAs(t *testing.T, e *apptest.Env, user, sid string) *apptest.Response {
	t.Helper()
	return e.Do("POST", "/api/users/"+user+"/sessions", `{"client_id":"web","session_id":"`+sid+`"}`, apptest.Key(e.Key)...)
}

// With the evict policy, a login beyond the cap ends the user's oldest live session with
// end_reason "evicted"; the user never has more than the cap live.
func TestSessionCapEvicts(t *testing.T) {
	e := apptest.NewWith(t, withCap(3, pulse.LimitEvict))
	for i := range 5 {
		if r := loginAs(t, e, "alice", fmt.Sprintf("s%d", i)); r.Status != 201 {
			t.Fatalf("login %d: %d %s", i, r.Status, r.Body)
		}
		e.Clock.Add(1e9)
	}
	live, p := listOf(t, e, "?status=active&sort=initiated_at:1")
	if ids(live) != "s2,s3,s4" || p.TotalCount != 3 {
		t.Errorf("live %s (total %d), want s2,s3,s4", ids(live), p.TotalCount)
	}
	for _, sid := range []string{"s0", "s1"} {
		var got map[string]any
		e.Do("GET", "/api/users/alice/sessions/"+sid, "", apptest.Key(e.Key)...).JSON(t, &got)
		if got["end_reason"] != pulse.EndEvicted {
			t.Errorf("%s: %v, want end_reason evicted", sid, got)
		}
	}
	// Revoked sessions free their place at once (the counter is reconciled from the index).
	e.Do("DELETE", "/api/users/alice/sessions", "", apptest.Key(e.Key)...)
	for i := range 3 {
		if r := loginAs(t, e, "alice", fmt.Sprintf("t%d", i)); r.Status != 201 {
			t.Fatalf("login after revoke-all: %d %s", r.Status, r.Body)
		}
	}
	if live, _ := listOf(t, e, "?status=active"); len(live) != 3 {
		t.Errorf("after revoke-all and 3 logins: %d live, want 3", len(live))
	}
	evicted, _ := listOf(t, e, "?status=ended&size=100")
	for _, s := range evicted {
		if s["session_id"].(string)[0] == 't' {
			t.Errorf("a login after the revoke-all evicted %v", s["session_id"])
		}
	}
}

// With the refuse policy, a login beyond the cap is a 409 problem that names the limit and
// writes nothing; concurrent logins never take the user past the cap.
func TestSessionCapRefuses(t *testing.T) {
	e := apptest.NewWith(t, withCap(3, pulse.LimitRefuse))
	var wg sync.WaitGroup
	status := make([]int, 12)
	for i := range status {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status[i] = loginAs(t, e, "bob", fmt.Sprintf("c%d", i)).Status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range status {
		switch s {
		case 201:
			created++
		case 409:
		default:
			t.Errorf("a concurrent login answered %d", s)
		}
	}
	r := e.Do("GET", "/api/users/bob/sessions?status=all&size=100", "", apptest.Key(e.Key)...)
	var all []map[string]any
	r.JSON(t, &all)
	if created != 3 || len(all) != 3 {
		t.Errorf("%d logins created, %d sessions stored; want 3 and 3 (the cap)", created, len(all))
	}
	before := e.Items()
	r = loginAs(t, e, "bob", "one-more")
	var problem map[string]any
	r.JSON(t, &problem)
	if r.Status != 409 || !strings.Contains(fmt.Sprint(problem["detail"]), "3 live sessions") || problem["status"] != float64(409) {
		t.Errorf("login beyond the cap: %d %s", r.Status, r.Body)
	}
	if e.Items() != before {
		t.Errorf("a refused login wrote %d items", e.Items()-before)
	}
}

// A page of the session list costs its page: page 1 of a user with 5,000 sessions (50 live)
// costs what page 1 of a user with 10 costs, within 1.5×; the history is not read.
func TestListPageIgnoresHistory(t *testing.T) {
	measure := func(total, live int, query string, want int) (float64, page) {
		e := apptest.New(t)
		now := e.Clock.Now()
		var sessions []*pulse.Session
		for i := range total {
			s := &pulse.Session{TenantID: "acme", UserID: "alice", ID: fmt.Sprintf("s%05d", i), Key: strings.Repeat("A", 64),
				ClientIDs: []string{"web"}, InitiatedAt: now.Add(-time.Duration(total-i) * time.Minute), IPAddress: "192.0.2.1",
				Device: pulse.Device{UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/134.0.0.0", Browser: "Chrome", Version: "134.0.0.0", MajorVersion: 134, OS: "Linux"}}
			s.LastActivity, s.ExpiresAt, s.HardExpires = now, now.Add(30*time.Minute), now.Add(time.Hour)
			if i < total-live {
				s.EndReason, s.EndedAt = pulse.EndRevoked, s.InitiatedAt.Add(time.Second)
				s.LastActivity = s.EndedAt
			}
			sessions = append(sessions, s)
		}
		users := []pulse.User{{TenantID: "acme", ID: "alice", CreatedAt: now, UpdatedAt: now}}
		if err := e.Deps.Store.Import(context.Background(), users, sessions, time.UTC); err != nil {
			t.Fatal(err)
		}
		e.Meter.Reset()
		list, p := listOf(t, e, query)
		if len(list) != want {
			t.Fatalf("%s: %d sessions, want %d", query, len(list), want)
		}
		_, rcu, _ := e.Meter.Snapshot()
		return rcu, p
	}
	small, _ := measure(10, 10, "?size=10", 10)
	large, p := measure(5000, 50, "?size=10", 10)
	if p.TotalCount != 50 || !p.HasNext {
		t.Errorf("X-Pagination %+v, want 50 live in all", p)
	}
	deep, _ := measure(5000, 50, "?size=10&page=5&sort=initiated_at:1", 10)
	t.Logf("page 1 of live sessions: %.1f RCU with 10 sessions, %.1f RCU with 5,000 (50 live); page 5: %.1f RCU", small, large, deep)
	apptest.CostBounded(t, small, large, "5,000 sessions, 50 live")
	apptest.CostBounded(t, small, deep, "page 5 of 5,000 sessions, 50 live")
	// Ended or all sessions: the total comes from the user's start counters and a page is found
	// by day, so page 50 costs what page 1 does.
	all1, p1 := measure(5000, 50, "?size=10&status=all", 10)
	all50, p50 := measure(5000, 50, "?size=10&page=50&status=all", 10)
	ended50, pe := measure(5000, 50, "?size=10&page=50&status=ended&sort=initiated_at:1", 10)
	t.Logf("status=all page 1: %.1f RCU, page 50: %.1f RCU; status=ended page 50: %.1f RCU", all1, all50, ended50)
	if p1.TotalCount != 5000 || p50.TotalCount != 5000 || pe.TotalCount != 4950 {
		t.Errorf("total_count %d, %d (all), %d (ended); want 5000, 5000, 4950", p1.TotalCount, p50.TotalCount, pe.TotalCount)
	}
	apptest.CostBounded(t, small, all1, "status=all, page 1 of 5,000 sessions")
	apptest.CostBounded(t, small, all50, "status=all, page 50 of 5,000 sessions")
	apptest.CostBounded(t, small, ended50, "status=ended, page 50 of 5,000 sessions")
}

// Sorted by last activity, ended sessions page by key from the EndedLast index: page 1 of a
// user with 5,000 sessions costs what a 10-session user's page costs, within 1.5×, and at most
// 10 RCU on AWS's rules. Page 50 reads the 490 index entries before it (no counter knows how many
// sessions were last active on a day): at most 20 RCU, and what page 50 of a user with 510
// sessions costs, within 1.5×. With status=all, page 1 newest first places the live sessions by
// their entries in the LiveTimes index (their last activity moves with every heartbeat, which
// rewrites the entry): about 170 bytes each, at most the cap, never the history, so the small
// user there has the same 50 live; at most 10 RCU, and so are the live sessions alone sorted
// either way, at the cap of 100 too. A page that all of them started after (page 50 here, either
// way) reads only their keys in the Live index. Sorted by
// session ID, ended or all sessions page by key from the ByID index, the live ones (status
// active) from the Live index's keys: page 1 costs what it costs a 10-session user, page 50 its
// depth in index entries (about 0.02 RCU each), what it costs a user with 510, at most 20 RCU.
func TestListSortsIgnoreHistory(t *testing.T) {
	// User and session IDs are random UUIDs, as real tenants' are: an index entry's size, and so
	// a deep page's cost, depends on them. One tenant of its own per user shape, seeded once and
	// read by every query that needs it.
	user := uuids.Random(rand.New(rand.NewPCG(3, 5)), 1)[0]
	envs := map[[2]int]*apptest.Env{}
	seeded := func(total, live int) *apptest.Env {
		if e := envs[[2]int{total, live}]; e != nil {
			return e
		}
		e := apptest.New(t)
		envs[[2]int{total, live}] = e
		now := e.Clock.Now()
		var sessions []*pulse.Session
		sids := uuids.Random(rand.New(rand.NewPCG(uint64(total), 7)), total)
		for i := range total {
			init := now.Add(-time.Duration(total-i) * time.Minute)
			s := &pulse.Session{TenantID: "acme", UserID: user, ID: sids[i], Key: strings.Repeat("A", 64),
				ClientIDs: []string{"web"}, InitiatedAt: init, IPAddress: "192.0.2.1",
				Device: pulse.Device{UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/134.0.0.0", Browser: "Chrome", Version: "134.0.0.0", MajorVersion: 134, OS: "Linux"}}
			s.LastActivity, s.ExpiresAt, s.HardExpires = now, now.Add(30*time.Minute), now.Add(time.Hour)
			if i < total-live {
				// Last active up to 10 hours after the start, and before now: an order of its own.
				s.LastActivity = init.Add(time.Duration(i*7919%600) * time.Minute)
				if !s.LastActivity.Before(now) {
					s.LastActivity = init.Add(now.Sub(init) / 2)
				}
				s.EndReason, s.EndedAt, s.ExpiresAt = pulse.EndRevoked, s.LastActivity, s.LastActivity.Add(30*time.Minute)
			}
			sessions = append(sessions, s)
		}
		users := []pulse.User{{TenantID: "acme", ID: user, CreatedAt: now, UpdatedAt: now}}
		if err := e.Deps.Store.Import(context.Background(), users, sessions, time.UTC); err != nil {
			t.Fatal(err)
		}
		return e
	}
	measure := func(total, live int, query string, want int) (float64, float64, page) {
		e := seeded(total, live)
		e.Meter.Reset()
		list, p := listOfUser(t, e, user, query)
		if len(list) != want {
			t.Fatalf("%s: %d sessions, want %d", query, len(list), want)
		}
		_, rcu, _ := e.Meter.Snapshot()
		aws, _ := e.Meter.OnAWS()
		return rcu, aws, p
	}
	for _, c := range []struct {
		query string
		bound float64
		small int // sessions of the small user
	}{
		{"?size=10&status=ended&sort=last_updated:-1", 10, 10},
		{"?size=10&status=ended&sort=last_updated:1", 10, 10},
		{"?size=10&status=ended&sort=last_updated:-1&page=50", 20, 510},
		{"?size=10&status=ended&sort=last_updated:1&page=50", 20, 510},
		{"?size=10&status=ended&sort=session_id:1", 10, 10},
		{"?size=10&status=all&sort=session_id:-1", 10, 10},
		{"?size=10&status=ended&sort=session_id:-1&page=50", 20, 510},
		{"?size=10&status=ended&sort=session_id:1&client_id=web&page=50", 20, 510},
		{"?size=10&status=all&sort=initiated_at:-1&client_id=web", 10, 10},
		{"?size=10&status=ended&sort=initiated_at:1&client_id=web&page=50", 20, 510},
		{"?size=10&status=ended&sort=last_updated:-1&client_id=web", 10, 10},
		{"?size=10&status=ended&sort=session_id:1&client_id=web", 10, 10},
		{"?size=10&status=ended&sort=expires_at:-1", 10, 10},
		{"?size=10&status=ended&sort=expires_at:1", 10, 10},
		{"?size=10&status=ended&sort=expires_at:-1&page=50", 20, 510},
		{"?size=10&status=ended&sort=expires_at:1&page=50", 20, 510},
		{"?size=10&status=ended&sort=expires_at:1&client_id=web", 10, 10},
	} {
		small, _, _ := measure(c.small, min(c.small-10, 10), c.query, 10)
		large, aws, p := measure(5000, 50, c.query, 10)
		t.Logf("%s: %.1f RCU with %d sessions, %.1f with 5,000 (50 live), %.1f on AWS's rules", c.query, small, c.small, large, aws)
		if want := map[bool]int{false: 4950, true: 5000}[strings.Contains(c.query, "status=all")]; p.TotalCount != want {
			t.Errorf("%s: total_count %d, want %d", c.query, p.TotalCount, want)
		}
		apptest.CostBounded(t, small, large, c.query+", 5,000 sessions")
		if c.bound > 0 && aws > c.bound {
			t.Errorf("%s: %.1f RCU on AWS's rules, want ≤ %.0f", c.query, aws, c.bound)
		}
	}
	// A page past the end, however far, reads the counters and nothing else.
	for _, sort := range []string{"last_updated:-1", "session_id:1", "expires_at:1"} {
		q := "?size=100&status=all&page=1073741824&sort=" + sort
		_, aws, p := measure(5000, 50, q, 0)
		if p.TotalCount != 5000 || aws > 2 {
			t.Errorf("%s: total_count %d, %.1f RCU; want 5000 and ≤ 2", q, p.TotalCount, aws)
		}
	}
	for _, c := range []struct {
		query string
		bound float64
		small int // sessions of the small user, 50 of them live
	}{
		{"?size=10&status=all&sort=last_updated:-1", 10, 60},
		{"?size=10&status=all&sort=last_updated:-1&client_id=web", 10, 60},
		{"?size=10&status=active&sort=last_updated:-1", 10, 60},
		{"?size=10&status=active&sort=expires_at:1&page=3", 10, 60},
		{"?size=10&status=all&sort=last_updated:-1&page=50", 20, 560},
		{"?size=10&status=all&sort=last_updated:1&page=50", 20, 560},
		{"?size=10&status=all&sort=expires_at:-1", 10, 60},
		{"?size=10&status=all&sort=expires_at:-1&page=50", 20, 560},
		{"?size=10&status=all&sort=expires_at:1", 10, 60},
		{"?size=10&status=all&sort=expires_at:1&page=50", 20, 560},
		{"?size=10&status=all&sort=session_id:1&page=50", 20, 560},
		{"?size=10&status=all&sort=session_id:-1", 10, 60},
		{"?size=10&status=active&sort=session_id:1&page=3", 10, 60},
	} {
		small, _, _ := measure(c.small, 50, c.query, 10)
		large, aws, p := measure(5000, 50, c.query, 10)
		t.Logf("%s: %.1f RCU with %d sessions (50 live), %.1f with 5,000 (50 live), %.1f on AWS's rules", c.query, small, c.small, large, aws)
		if want := map[bool]int{false: 5000, true: 50}[strings.Contains(c.query, "status=active")]; p.TotalCount != want {
			t.Errorf("%s: total_count %d, want %d", c.query, p.TotalCount, want)
		}
		apptest.CostBounded(t, small, large, c.query+", 5,000 sessions")
		if c.bound > 0 && aws > c.bound {
			t.Errorf("%s: %.1f RCU on AWS's rules, want ≤ %.0f", c.query, aws, c.bound)
		}
	}
	// At the cap: 100 live (and 2,000 ended), against 10 live, within 1.5×, at most 10 RCU.
	for _, query := range []string{"?size=10&status=active&sort=last_updated:-1", "?size=10&status=all&sort=last_updated:-1", "?size=10&status=all&sort=expires_at:-1"} {
		small, _, _ := measure(20, 10, query, 10)
		large, aws, _ := measure(2100, 100, query, 10)
		t.Logf("%s: %.1f RCU with 10 live, %.1f with 100 live, %.1f on AWS's rules", query, small, large, aws)
		apptest.CostBounded(t, small, large, query+", 100 live")
		if aws > 10 {
			t.Errorf("%s at the cap: %.1f RCU on AWS's rules, want ≤ 10", query, aws)
		}
	}
}

// The cap is exact under bursts, with either policy: a user at the cap (100) takes bursts of 50
// concurrent logins; after every burst exactly 100 sessions are live (never 101, never 99),
// with evict each login past the cap ended exactly one session, the oldest live; with refuse
// every login past the cap was refused and nothing was ended. (Before, a reconciliation that
// read the login counter as 100 could set it back to 99 after it had gone 100 → 99 → 100: 101
// and 103 live; concurrent reconciliations evicted different "oldest" sessions: 99 live.)
func TestSessionCapHoldsUnderBursts(t *testing.T) {
	const limit, burst, rounds = 100, 50, 3
	for _, policy := range []string{pulse.LimitEvict, pulse.LimitRefuse} {
		t.Run(policy, func(t *testing.T) {
			e := apptest.NewWith(t, withCap(limit, policy))
			live := []string{} // oldest first
			for i := range limit {
				sid := fmt.Sprintf("a%03d", i)
				if r := loginAs(t, e, "alice", sid); r.Status != 201 {
					t.Fatalf("login %d: %d %s", i, r.Status, r.Body)
				}
				live = append(live, sid)
				e.Clock.Add(time.Millisecond)
			}
			for round := range rounds {
				e.Clock.Add(time.Second)
				status := make([]int, burst)
				var wg sync.WaitGroup
				for i := range burst {
					wg.Add(1)
					go func() {
						defer wg.Done()
						status[i] = loginAs(t, e, "alice", fmt.Sprintf("r%d-%02d", round, i)).Status
					}()
				}
				wg.Wait()
				created, refused := 0, 0
				for _, s := range status {
					switch {
					case s == 201:
						created++
					case s == 409 && policy == pulse.LimitRefuse:
						refused++
					default:
						t.Errorf("round %d: a login answered %d", round, s)
					}
				}
				got := liveIDs(t, e, "alice")
				if len(got) != limit {
					t.Fatalf("round %d (%s): %d live after the burst, want exactly %d", round, policy, len(got), limit)
				}
				if policy == pulse.LimitRefuse {
					if created != 0 || strings.Join(got, ",") != strings.Join(live, ",") {
						t.Errorf("round %d: %d created at the cap, live changed", round, created)
					}
					continue
				}
				// Evict: the burst's sessions are in, and the ones that went are the oldest.
				if created < burst-3 {
					t.Errorf("round %d: %d of %d logins created", round, created, burst)
				}
				want := append([]string{}, live[created:]...)
				if strings.Join(got[:len(want)], ",") != strings.Join(want, ",") {
					t.Errorf("round %d: the live sessions left of the old ones are not the newest %d", round, len(want))
				}
				live = got
			}
		})
	}
}

// liveIDs returns the user's live session IDs, oldest first, reading every page.
func liveIDs(t *testing.T, e *apptest.Env, user string) []string {
	t.Helper()
	var out []string
	for page := 1; ; page++ {
		r := e.Do("GET", fmt.Sprintf("/api/users/%s/sessions?status=active&sort=initiated_at:1&size=100&page=%d", user, page), "", apptest.Key(e.Key)...)
		if r.Status != 200 {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		var body []map[string]any
		r.JSON(t, &body)
		for _, s := range body {
			out = append(out, s["session_id"].(string))
		}
		if len(body) < 100 {
			return out
		}
	}
}

// Sixty logins at once for a user nobody has seen: they contend for one new user item, and at
// most 3 are refused (503 with Retry-After); before, 46 to 49 were, after 5 rounds of reading
// the user again.
func TestLoginBurstForOneNewUser(t *testing.T) {
	e := apptest.New(t)
	status := make([]int, 60)
	var wg sync.WaitGroup
	for i := range status {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status[i] = loginAs(t, e, "newcomer", fmt.Sprintf("b%02d", i)).Status
		}()
	}
	wg.Wait()
	created, refused := 0, 0
	for _, s := range status {
		switch s {
		case 201:
			created++
		case 503:
			refused++
		default:
			t.Errorf("a login answered %d", s)
		}
	}
	if refused > 3 {
		t.Errorf("%d of 60 concurrent logins refused, want at most 3", refused)
	}
	if got := len(liveIDs(t, e, "newcomer")); got != created {
		t.Errorf("%d live, %d created", got, created)
	}
}

// Revoking all of a user's sessions at the cap of 100 reads what it changes: the Live index's
// keys, not every session (104 RCU before: each live session was read whole, strongly
// consistent). A session that expired and awaits the cleanup is left to it, which records why
// it ended, and is not counted as revoked.
func TestRevokeAllReadsWhatItChanges(t *testing.T) {
	e := apptest.New(t)
	p := e.Deps.Config.Policy
	now := e.Clock.Now()
	var sessions []*pulse.Session
	for i := range 101 {
		init := now.Add(-time.Duration(101-i) * time.Minute)
		last := now.Add(-time.Minute)
		if i == 0 { // expired an hour ago, not yet ended by the cleanup
			last = now.Add(-p.IdleTimeout - time.Hour)
		}
		sessions = append(sessions, &pulse.Session{TenantID: "acme", UserID: "capped", ID: fmt.Sprintf("S%03d", i), Key: "K",
			ClientIDs: []string{"web"}, IPAddress: "192.0.2.1", InitiatedAt: init, LastActivity: last,
			ExpiresAt: p.Expiry(last, init.Add(p.MaxLifetime)), HardExpires: init.Add(p.MaxLifetime)})
	}
	if err := e.Deps.Store.Import(context.Background(), []pulse.User{{TenantID: "acme", ID: "capped"}}, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
	e.Meter.Reset()
	if r := e.Do("DELETE", "/api/users/capped/sessions", "", apptest.Key(e.Key)...); r.Status != 204 {
		t.Fatalf("revoke all: %d %s", r.Status, r.Body)
	}
	rcu, wcu := e.Meter.OnAWS()
	t.Logf("revoke-all of 100 live (and 1 expired): %.1f RCU, %.1f WCU on AWS's rules", rcu, wcu)
	if rcu > 20 {
		t.Errorf("revoke-all at the cap read %.1f RCU on AWS's rules, want ≤ 20", rcu)
	}
	for _, s := range sessions {
		got, err := e.Deps.Store.GetSession(context.Background(), "acme", "capped", s.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, _, reason := got.State(e.Clock.Now())
		if want := map[bool]string{true: pulse.EndIdle, false: pulse.EndRevoked}[s.ID == "S000"]; reason != want {
			t.Errorf("%s: end reason %q, want %q", s.ID, reason, want)
		}
	}
}

// importCapped stores a user at the cap: cap live sessions started a minute apart (the oldest
// first), the ones in expired idle since an hour, and history ended sessions before them.
func importCapped(t *testing.T, e *apptest.Env, user string, history int, expired ...int) {
	t.Helper()
	p := e.Deps.Config.Policy
	now := e.Clock.Now()
	var sessions []*pulse.Session
	for i := range history {
		init := now.Add(-p.Retention / 2).Add(time.Duration(i) * time.Minute)
		sessions = append(sessions, &pulse.Session{TenantID: "acme", UserID: user, ID: fmt.Sprintf("H%05d", i), Key: "K",
			ClientIDs: []string{"web"}, IPAddress: "192.0.2.1", InitiatedAt: init, LastActivity: init,
			ExpiresAt: init.Add(time.Minute), HardExpires: init.Add(p.MaxLifetime), EndedAt: init.Add(time.Minute), EndReason: pulse.EndRevoked})
	}
	for i := range p.MaxPerUser {
		init := now.Add(-time.Duration(p.MaxPerUser+1-i) * time.Minute)
		last := now.Add(-time.Minute)
		for _, x := range expired {
			if x == i {
				last = now.Add(-p.IdleTimeout - time.Hour)
			}
		}
		sessions = append(sessions, &pulse.Session{TenantID: "acme", UserID: user, ID: fmt.Sprintf("S%03d", i), Key: "K",
			ClientIDs: []string{"web"}, IPAddress: "192.0.2.1", InitiatedAt: init, LastActivity: last,
			ExpiresAt: p.Expiry(last, init.Add(p.MaxLifetime)), HardExpires: init.Add(p.MaxLifetime)})
	}
	if err := e.Deps.Store.Import(context.Background(), []pulse.User{{TenantID: "acme", ID: user}}, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
}

// endReason is how one of user's sessions ended, "" while it is live.
func endReason(t *testing.T, e *apptest.Env, user, id string) string {
	t.Helper()
	got, err := e.Deps.Store.GetSession(context.Background(), "acme", user, id)
	if err != nil {
		t.Fatal(err)
	}
	_, _, reason := got.State(e.Clock.Now())
	return reason
}

// A login at the cap of 100 reads what it changes: the Live index's keys and the oldest few
// sessions, not every live session (105 RCU before: each was read whole, strongly consistent),
// and never the user's history: a user with 2,000 ended sessions costs what one with none does.
func TestLoginAtTheCapReadsWhatItChanges(t *testing.T) {
	e := apptest.New(t)
	importCapped(t, e, "fresh", 0)
	importCapped(t, e, "veteran", 2000)
	var cost [2]float64
	for i, user := range []string{"fresh", "veteran"} {
		e.Meter.Reset()
		if r := loginAs(t, e, user, "new"); r.Status != 201 {
			t.Fatalf("login of %s at the cap: %d %s", user, r.Status, r.Body)
		}
		cost[i], _ = e.Meter.OnAWS()
		if got := endReason(t, e, user, "S000"); got != pulse.EndEvicted {
			t.Errorf("%s: the oldest session ended %q, want evicted", user, got)
		}
		if got := len(liveIDs(t, e, user)); got != 100 {
			t.Errorf("%s: %d live after the login, want 100", user, got)
		}
	}
	t.Logf("a login at the cap of 100: %.1f RCU (no history), %.1f RCU (2,000 ended) on AWS's rules", cost[0], cost[1])
	if cost[1] > 20 || cost[1] > 1.5*cost[0] {
		t.Errorf("a login at the cap read %.1f RCU (%.1f without history), want ≤ 20 and within 1.5×", cost[1], cost[0])
	}
}

// At the cap, a session among the oldest that expired and awaits the cleanup is ended (idle)
// instead of evicting a live one; with the refuse policy, it lets the login in.
func TestLoginAtTheCapEndsAnExpiredSessionFirst(t *testing.T) {
	for _, policy := range []string{pulse.LimitEvict, pulse.LimitRefuse} {
		t.Run(policy, func(t *testing.T) {
			e := apptest.NewWith(t, withCap(100, policy))
			importCapped(t, e, "idler", 0, 3)
			if r := loginAs(t, e, "idler", "new"); r.Status != 201 {
				t.Fatalf("login at the cap: %d %s", r.Status, r.Body)
			}
			if got := endReason(t, e, "idler", "S003"); got != pulse.EndIdle {
				t.Errorf("the expired session ended %q, want idle", got)
			}
			if got := endReason(t, e, "idler", "S000"); got != "" {
				t.Errorf("the oldest live session ended %q, want it live", got)
			}
			if r := loginAs(t, e, "idler", "one-more"); policy == pulse.LimitRefuse && r.Status != 409 {
				t.Errorf("a login beyond the cap answered %d, want 409", r.Status)
			} else if policy == pulse.LimitEvict && (r.Status != 201 || endReason(t, e, "idler", "S000") != pulse.EndEvicted) {
				t.Errorf("a login beyond the cap: %d, oldest now %q; want 201 and evicted", r.Status, endReason(t, e, "idler", "S000"))
			}
		})
	}
}
