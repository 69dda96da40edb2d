package cleanup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/internal/iamcheck"
	"github.com/pulse-sessions/pulse/shared/cleanup"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

const ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36"

// seed imports live sessions (active a minute ago) and expired ones: half idle (last active
// 40 minutes ago), half past their maximum lifetime (still heartbeating until then).
func seed(t *testing.T, e *apptest.Env, live, expired int) {
	t.Helper()
	now := e.Clock.Now()
	p := e.Deps.Config.Policy
	var sessions []*pulse.Session
	mk := func(id string, init, last, exp, hard time.Time) *pulse.Session {
		return &pulse.Session{TenantID: "acme", UserID: "u" + id[len(id)-2:], ID: id, Key: "K", ClientIDs: []string{"web"},
			InitiatedAt: init, LastActivity: last, ExpiresAt: exp, HardExpires: hard, IPAddress: "192.0.2.1", Device: pulse.Device{UserAgent: ua}}
	}
	for i := range live {
		last := now.Add(-time.Minute)
		sessions = append(sessions, mk(fmt.Sprintf("L%05d", i), now.Add(-time.Hour), last, last.Add(p.IdleTimeout), now.Add(23*time.Hour)))
	}
	for i := range expired {
		if i%2 == 0 {
			last := now.Add(-40 * time.Minute)
			sessions = append(sessions, mk(fmt.Sprintf("I%05d", i), now.Add(-2*time.Hour), last, last.Add(p.IdleTimeout), now.Add(22*time.Hour)))
		} else {
			hard := now.Add(-5 * time.Minute)
			sessions = append(sessions, mk(fmt.Sprintf("X%05d", i), hard.Add(-p.MaxLifetime), hard.Add(-time.Minute), hard, hard))
		}
	}
	if err := e.Deps.Store.Import(context.Background(), nil, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
	// As if the previous run, half an hour ago, had finished everything before it.
	prev := now.Add(-30 * time.Minute).Truncate(store.ExpiryBucket)
	if err := e.Deps.Store.AdvanceCleanupCursor(context.Background(), nil, prev); err != nil {
		t.Fatal(err)
	}
}

func cleaner(e *apptest.Env) *cleanup.Cleaner {
	return &cleanup.Cleaner{Store: e.Deps.Store, Now: e.Clock.Now}
}

// asCleanup runs under the scheduled function's identity: its calls are held to its policy.
func asCleanup(ctx context.Context) context.Context {
	return iamcheck.WithFunction(ctx, apptest.CleanupFunction)
}

// countEnded counts the sessions with an end recorded, and checks each one's reason and time.
func countEnded(t *testing.T, e *apptest.Env, expired int) int {
	t.Helper()
	n := 0
	for i := range expired {
		id := fmt.Sprintf("I%05d", i)
		if i%2 == 1 {
			id = fmt.Sprintf("X%05d", i)
		}
		s, err := e.Deps.Store.GetSession(context.Background(), "acme", "u"+id[len(id)-2:], id)
		if err != nil {
			t.Fatal(err)
		}
		if s.EndReason == "" {
			continue
		}
		n++
		want := pulse.EndIdle
		if i%2 == 1 {
			want = pulse.EndExpired
		}
		if s.EndReason != want || !s.EndedAt.Equal(s.ExpiresAt) {
			t.Errorf("%s ended %v (%s), want at its expiry %v (%s)", id, s.EndedAt, s.EndReason, s.ExpiresAt, want)
		}
	}
	return n
}

// One run ends exactly the 100 expired sessions among 10,000 live ones, and what it reads
// grows with the 100, not the 10,000.
func TestRunEndsExactlyTheExpired(t *testing.T) {
	measure := func(live int) float64 {
		e := apptest.New(t)
		seed(t, e, live, 100)
		var out bytes.Buffer
		c := cleaner(e)
		c.Metrics, c.Function = &out, "cleanup-expired-sessions"
		e.Meter.Reset()
		sum, err := c.Run(asCleanup(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		if sum.Ended != 100 || sum.Examined != 100 || !sum.Complete || sum.Remaining != 0 {
			t.Fatalf("with %d live: %+v, want 100 ended of 100 examined, complete", live, sum)
		}
		if n := countEnded(t, e, 100); n != 100 {
			t.Errorf("%d sessions ended, want 100", n)
		}
		var line map[string]any
		if err := json.Unmarshal(out.Bytes(), &line); err != nil {
			t.Fatalf("summary line is not JSON: %q", out.String())
		}
		aws, _ := line["_aws"].(map[string]any)
		if line["duration_ms"] != float64(sum.DurationMS) {
			t.Errorf("returned duration %d ms, logged %v", sum.DurationMS, line["duration_ms"])
		}
		if line["ended"] != float64(100) || aws["CloudWatchMetrics"] == nil || line["function"] != "cleanup-expired-sessions" {
			t.Errorf("summary line %s", out.String())
		}
		_, rcu, _ := e.Meter.Snapshot()
		// Live sessions are untouched.
		if s, err := e.Deps.Store.GetSession(context.Background(), "acme", "u00", "L00000"); err != nil || !s.Live(e.Clock.Now()) || s.EndReason != "" {
			t.Errorf("a live session after cleanup: %+v %v", s, err)
		}
		return rcu
	}
	small, large := measure(1000), measure(10000)
	t.Logf("100 expired: %.1f RCU beside 1,000 live sessions, %.1f RCU beside 10,000", small, large)
	apptest.CostBounded(t, small, large, "beside 10,000 live")
}

// A run cut off halfway leaves the rest to the next, which finishes: nothing ended twice,
// nothing missed.
func TestCancelledRunResumes(t *testing.T) {
	e := apptest.New(t)
	seed(t, e, 50, 100)
	ctx, cancel := context.WithCancel(context.Background())
	c := cleaner(e)
	c.AfterEnd = func(n int) {
		if n == 40 {
			cancel()
		}
	}
	first, err := c.Run(asCleanup(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if first.Ended != 40 || first.Complete || first.Remaining != 60 {
		t.Fatalf("cut-off run: %+v, want 40 ended, 60 remaining, incomplete", first)
	}
	c.AfterEnd = nil
	second, err := cleaner(e).Run(asCleanup(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	if second.Ended != 60 || !second.Complete {
		t.Fatalf("next run: %+v, want the remaining 60 ended", second)
	}
	if n := countEnded(t, e, 100); n != 100 {
		t.Errorf("%d ended after both runs, want 100", n)
	}
	third, _ := cleaner(e).Run(asCleanup(context.Background()))
	if third.Ended != 0 || third.Examined != 0 {
		t.Errorf("a re-run: %+v, want nothing to do", third)
	}
}

// A run whose deadline is within the margin stops before doing anything it could not finish.
func TestStopsBeforeTheDeadline(t *testing.T) {
	e := apptest.New(t)
	seed(t, e, 0, 10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c := cleaner(e)
	c.Margin = 2 * time.Second
	sum, err := c.Run(asCleanup(ctx))
	if err != nil || sum.Ended != 0 || sum.Complete {
		t.Fatalf("%+v %v, want an incomplete run that ended nothing", sum, err)
	}
	if sum, _ := cleaner(e).Run(asCleanup(context.Background())); sum.Ended != 10 {
		t.Errorf("next run ended %d, want 10", sum.Ended)
	}
}

// Two runs at once end each session once between them.
func TestConcurrentRuns(t *testing.T) {
	e := apptest.New(t)
	seed(t, e, 100, 100)
	var wg sync.WaitGroup
	sums := make([]cleanup.Summary, 2)
	for i := range sums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if sums[i], err = cleaner(e).Run(asCleanup(context.Background())); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if total := sums[0].Ended + sums[1].Ended; total != 100 {
		t.Errorf("ended %d + %d = %d, want 100", sums[0].Ended, sums[1].Ended, total)
	}
	if n := countEnded(t, e, 100); n != 100 {
		t.Errorf("%d ended, want 100", n)
	}
}

// Activity and cleanup race on one session: activity recorded before the expiry wins even
// when cleanup read the session first; activity after the expiry is refused and cleanup ends
// the session. The conditions on the writes decide.
func TestActivityRacesCleanup(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		activityAt time.Duration // relative to the session's expiry
		wantLive   bool
	}{
		{"activity a second before expiry", -time.Second, true},
		{"activity a second after expiry", time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := apptest.New(t)
			r := e.Do("POST", "/api/users/u1/sessions", `{"client_id":"web","session_id":"S1"}`, apptest.Key(e.Key)...)
			if r.Status != 201 {
				t.Fatal(r.Status)
			}
			s, _ := e.Deps.Store.GetSession(ctx, "acme", "u1", "S1")
			expiry := s.ExpiresAt
			cleanupAt := expiry.Add(2 * time.Second)
			e.Clock.Set(cleanupAt)
			var activity error
			c := cleaner(e)
			c.Now = func() time.Time { return cleanupAt }
			c.BeforeEnd = func(*pulse.Session) { // cleanup has read the session; activity lands now
				e.Clock.Set(expiry.Add(tc.activityAt))
				activity = e.Deps.Store.RecordActivity(ctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "S1"})
				e.Clock.Set(cleanupAt)
			}
			sum, err := c.Run(asCleanup(ctx))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := e.Deps.Store.GetSession(ctx, "acme", "u1", "S1")
			if tc.wantLive {
				if activity != nil || sum.Ended != 0 || got.EndReason != "" || !got.ExpiresAt.After(cleanupAt) {
					t.Errorf("activity %v, cleanup %+v, session %+v: want the activity to win", activity, sum, got)
				}
			} else {
				if pulse.ErrorCode(activity) != pulse.ECONFLICT || sum.Ended != 1 || got.EndReason != pulse.EndIdle || !got.EndedAt.Equal(expiry) {
					t.Errorf("activity %v, cleanup %+v, session %+v: want the activity refused and the session ended at %v", activity, sum, got, expiry)
				}
			}
		})
	}
}

// After cleanup, ended sessions are gone from the active-users and (default) list endpoints and
// listed with status=ended.
func TestEndedSessionsLeaveTheReadAPIs(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	for _, id := range []string{"S1", "S2"} {
		if r := e.Do("POST", "/api/users/u1/sessions", fmt.Sprintf(`{"client_id":"web","session_id":%q}`, id), key...); r.Status != 201 {
			t.Fatal(r.Status)
		}
	}
	e.Clock.Add(20 * time.Minute)
	e.Do("POST", "/api/users/u1/sessions/S2/activity", "", key...)
	e.Clock.Add(15 * time.Minute) // S1 idle since 35 minutes: expired; S2 active 15 minutes ago
	sum, err := cleaner(e).Run(asCleanup(context.Background()))
	if err != nil || sum.Ended != 1 {
		t.Fatalf("cleanup: %+v %v, want S1 ended", sum, err)
	}
	r := e.Do("GET", "/api/users/u1/sessions", "", key...)
	var list []map[string]any
	r.JSON(t, &list)
	if len(list) != 1 || list[0]["session_id"] != "S2" {
		t.Errorf("default list: %s", r.Body)
	}
	r = e.Do("GET", "/api/users/u1/sessions?status=ended", "", key...)
	r.JSON(t, &list)
	if len(list) != 1 || list[0]["session_id"] != "S1" || list[0]["end_reason"] != "idle" {
		t.Errorf("status=ended: %s", r.Body)
	}
	e.Do("POST", "/api/users/u1/sessions/S2/activity", "", key...)
	r = e.Do("GET", "/settings/users/active-users", "", key...)
	var active struct{ Result []map[string]any }
	r.JSON(t, &active)
	if len(active.Result) != 1 || active.Result[0]["user.id"] != "u1" {
		t.Errorf("active users: %s", r.Body)
	}
}

// A run snapshots the active list of a tenant whose list was read, under the function's own
// policy (the Active index's keys, the chunks, the snapshot item); the list's next page reads
// the snapshot instead of the keys, and says so in its cost.
func TestRunSnapshotsTheListsRead(t *testing.T) {
	e := apptest.New(t)
	seed(t, e, store.SnapshotFrom+10, 0)
	page := func() (total string, rcu float64) {
		t.Helper()
		e.Meter.Reset()
		r := e.Do("GET", "/settings/users/active-users?limit=10&offset=500", "", apptest.Key(e.Key)...)
		if r.Status != 200 {
			t.Fatalf("the active list: %d %s", r.Status, r.Body)
		}
		_, rcu, _ = e.Meter.Snapshot()
		return r.Header.Get("X-Total-Count"), rcu
	}
	before, keys := page()
	sum, err := cleaner(e).Run(asCleanup(context.Background()))
	if err != nil || sum.Snapshots != 1 || !sum.Complete {
		t.Fatalf("run: %+v, %v; want the list's snapshot taken", sum, err)
	}
	after, snap := page()
	t.Logf("a page of 10 of %s active: %.1f RCU from the index's keys, %.1f from the snapshot", after, keys, snap)
	// The keys of 1,010 sessions in 16 partitions are about 7.5 RCU; the snapshot's item and
	// chunk 1.
	if before != after || snap > keys-5 {
		t.Errorf("from the snapshot: total %s (before %s), %.1f RCU (from the keys %.1f); want the same total, 5 RCU less", after, before, snap, keys)
	}
}
