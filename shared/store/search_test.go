package store_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// searchTenant imports active sessions made by mk(i) for i < n into tenant acme, with 50 idle
// (live, last active before the window) and 50 ended sessions that no search may answer.
func searchTenant(t *testing.T, s *store.Store, now time.Time, n int, mk func(i int) *pulse.Session) []*pulse.Session {
	t.Helper()
	var users []pulse.User
	var all, want []*pulse.Session
	for i := range n + 100 {
		ss := mk(i)
		ss.TenantID, ss.Key = "acme", fmt.Sprintf("%064X", i)
		ss.InitiatedAt = now.Add(-time.Hour - time.Duration(i)*time.Second)
		ss.LastActivity = now.Add(-time.Duration(i%120) * time.Second)
		switch {
		case i >= n+50: // ended
			ss.EndedAt, ss.EndReason = now.Add(-time.Minute), "revoked"
		case i >= n: // idle: past the window, not yet expired
			ss.LastActivity = now.Add(-20 * time.Minute)
		default:
			want = append(want, ss)
		}
		ss.ExpiresAt, ss.HardExpires = ss.LastActivity.Add(30*time.Minute), ss.InitiatedAt.Add(24*time.Hour)
		if !slices.ContainsFunc(users, func(u pulse.User) bool { return u.ID == ss.UserID }) {
			users = append(users, pulse.User{TenantID: "acme", ID: ss.UserID, CreatedAt: now, UpdatedAt: now})
		}
		all = append(all, ss)
	}
	if err := s.Import(context.Background(), users, all, time.UTC); err != nil {
		t.Fatal(err)
	}
	return want
}

// follow follows a search's cursors to the end, answer giving each answer, and returns the
// session IDs answered, sorted, and how many requests it took. A repeat is dropped, as a client
// does, unless once says none may come.
func follow(t *testing.T, limit int, once bool, answer func(cursor string) (*store.SearchPage, error)) ([]string, int) {
	t.Helper()
	var ids []string
	cursor, requests := "", 0
	for {
		page, err := answer(cursor)
		if err != nil {
			t.Fatal(err)
		}
		requests++
		if len(page.Sessions) > limit || page.Examined > store.SearchExamined {
			t.Fatalf("a page of %d sessions, %d entries examined (limit %d, budget %d)", len(page.Sessions), page.Examined, limit, store.SearchExamined)
		}
		for _, ss := range page.Sessions {
			if !slices.Contains(ids, ss.ID) {
				ids = append(ids, ss.ID)
			} else if once {
				t.Fatalf("session %s answered twice", ss.ID)
			}
		}
		if page.Next == "" {
			break
		}
		if requests > 1000 {
			t.Fatal("the search does not end")
		}
		cursor = page.Next
	}
	slices.Sort(ids)
	return ids, requests
}

// searchAll follows an active search to its end (an active session can be answered twice).
func searchAll(t *testing.T, s *store.Store, ctx context.Context, f store.SessionFilter, limit int) ([]string, int) {
	t.Helper()
	return follow(t, limit, false, func(cursor string) (*store.SearchPage, error) { return s.SearchActive(ctx, "acme", f, limit, cursor) })
}

// Every filter answers exactly the active sessions that match it, across pages, and never an
// idle or ended one; a cursor that no search gave is refused.
func TestSearchActive(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStore(t, c)
	now := c.Now()
	browsers := []string{"Firefox", "Chrome", "Safari"}
	want := searchTenant(t, s, now, 400, func(i int) *pulse.Session {
		ss := &pulse.Session{UserID: fmt.Sprintf("user-%03d", i/2), ID: fmt.Sprintf("s%04d", i), ClientIDs: []string{"web"},
			IPAddress: fmt.Sprintf("203.0.113.%d", i%256), Device: pulse.Device{Browser: browsers[i%3], OS: "Linux"},
			Location: pulse.Location{CountryCode: "US", Country: "United States of America"}, NewDevice: i%7 == 0}
		if i%2 == 1 {
			ss.IPAddress = fmt.Sprintf("198.51.100.%d", i%256)
		}
		if i%5 == 0 {
			ss.Location = pulse.Location{CountryCode: "DE", Country: "Germany"}
		}
		if i%4 == 0 {
			ss.ClientIDs = []string{"web", "ios"}
		}
		return ss
	})
	yes := true
	cases := []struct {
		name string
		f    store.SessionFilter
		keep func(*pulse.Session) bool
	}{
		{"everything", store.SessionFilter{}, func(*pulse.Session) bool { return true }},
		{"user", store.SessionFilter{UserID: "user-042"}, func(ss *pulse.Session) bool { return ss.UserID == "user-042" }},
		{"user prefix", store.SessionFilter{UserPrefix: "user-01"}, func(ss *pulse.Session) bool { return ss.UserID[:7] == "user-01" }},
		{"session", store.SessionFilter{SessionID: "s0377"}, func(ss *pulse.Session) bool { return ss.ID == "s0377" }},
		{"CIDR", store.SessionFilter{IP: netip.MustParsePrefix("203.0.113.0/25")}, func(ss *pulse.Session) bool {
			return netip.MustParsePrefix("203.0.113.0/25").Contains(netip.MustParseAddr(ss.IPAddress))
		}},
		{"IP", store.SessionFilter{IP: netip.PrefixFrom(netip.MustParseAddr("198.51.100.9"), 32)}, func(ss *pulse.Session) bool { return ss.IPAddress == "198.51.100.9" }},
		{"country code", store.SessionFilter{Country: "de"}, func(ss *pulse.Session) bool { return ss.Location.CountryCode == "DE" }},
		{"country name and browser", store.SessionFilter{Country: "Germany", Browser: "firefox"}, func(ss *pulse.Session) bool {
			return ss.Location.CountryCode == "DE" && ss.Device.Browser == "Firefox"
		}},
		{"client and new device", store.SessionFilter{ClientID: "ios", NewDevice: &yes}, func(ss *pulse.Session) bool {
			return slices.Contains(ss.ClientIDs, "ios") && ss.NewDevice
		}},
		{"nothing", store.SessionFilter{OS: "Plan 9"}, func(*pulse.Session) bool { return false }},
	}
	for _, tc := range cases {
		var exp []string
		for _, ss := range want {
			if tc.keep(ss) {
				exp = append(exp, ss.ID)
			}
		}
		slices.Sort(exp)
		for _, limit := range []int{7, 100} {
			got, _ := searchAll(t, s, ctx, tc.f, limit)
			if !slices.Equal(got, exp) {
				t.Errorf("%s, %d a page: %d sessions answered, want %d (%.60q, want %.60q)", tc.name, limit, len(got), len(exp), got, exp)
			}
		}
	}
	for _, bad := range []string{"x", "eyJiIjoxfQ", "!!!"} {
		if _, err := s.SearchActive(ctx, "acme", store.SessionFilter{}, 10, bad); code(err) != pulse.EINVALID {
			t.Errorf("cursor %q: err = %v, want %s", bad, err, pulse.EINVALID)
		}
	}
}

// A search costs its budget, never the tenant: with 4,000 active sessions and a filter that
// matches none of them, one request reads at most SearchExamined index entries and
// SearchReads sessions, within 140 RCU on AWS's rules, and as much as at 1,200 sessions; the
// cursors still lead through every session.
func TestSearchCostsItsBudget(t *testing.T) {
	ctx := context.Background()
	cost := func(n int) (float64, int) {
		c := newClock(start)
		s := newStore(t, c)
		searchTenant(t, s, c.Now(), n, func(i int) *pulse.Session {
			return &pulse.Session{UserID: fmt.Sprintf("u%05d", i), ID: fmt.Sprintf("s%05d", i), IPAddress: "203.0.113.7",
				Device: pulse.Device{Browser: "Chrome", OS: "Linux"}}
		})
		var m store.Meter
		page, err := s.SearchActive(store.WithMeter(ctx, &m), "acme", store.SessionFilter{OS: "Windows"}, 50, "")
		if err != nil {
			t.Fatal(err)
		}
		if page.Next == "" || len(page.Sessions) != 0 {
			t.Fatalf("%d sessions: the first request answered %d and no cursor", n, len(page.Sessions))
		}
		rcu, _ := m.OnAWS()
		_, requests := searchAll(t, s, ctx, store.SessionFilter{OS: "Windows"}, 50)
		return rcu, requests
	}
	small, smallRequests := cost(1200)
	large, largeRequests := cost(4000)
	t.Logf("one request, nothing matching: %.1f RCU at 1,200 active, %.1f at 4,000 (the whole window: %d and %d requests)", small, large, smallRequests, largeRequests)
	if large > 140 || large > small*1.5 {
		t.Errorf("one request at 4,000 active cost %.1f RCU (at 1,200: %.1f), want ≤ 140 and ≤ 1.5×", large, small)
	}
	if largeRequests < 4000/store.SearchReads {
		t.Errorf("the whole window of 4,000 took %d requests: more than the budget was spent in one", largeRequests)
	}
}

// searchEndedAll follows a search of ended sessions to its end: each session once, each ended.
func searchEndedAll(t *testing.T, s *store.Store, ctx context.Context, f store.SessionFilter, after, before time.Time, limit int) ([]string, int) {
	t.Helper()
	return follow(t, limit, true, func(cursor string) (*store.SearchPage, error) {
		page, err := s.SearchEnded(ctx, "acme", f, after, before, limit, cursor)
		if err != nil {
			return nil, err
		}
		for _, ss := range page.Sessions {
			if ss.EndReason == "" {
				t.Fatalf("session %s answered as ended has no end", ss.ID)
			}
		}
		return page, nil
	})
}

// endedTenant imports into tenant acme n sessions that ended one every `every` back from now,
// made by mk(i), with 100 active sessions that no search of ended ones may answer.
func endedTenant(t *testing.T, s *store.Store, now time.Time, n int, every time.Duration, mk func(i int) *pulse.Session) []*pulse.Session {
	t.Helper()
	var users []pulse.User
	var all, ended []*pulse.Session
	for i := range n + 100 {
		ss := mk(i)
		ss.TenantID, ss.Key = "acme", fmt.Sprintf("%064X", i)
		end := now.Add(-time.Duration(i) * every)
		ss.InitiatedAt, ss.LastActivity = end.Add(-time.Hour), end
		if i < n {
			ss.EndedAt, ss.EndReason = end, pulse.EndRevoked
			ended = append(ended, ss)
		} else {
			ss.InitiatedAt, ss.LastActivity = now.Add(-time.Hour), now
		}
		ss.ExpiresAt, ss.HardExpires = ss.LastActivity.Add(30*time.Minute), ss.InitiatedAt.Add(24*time.Hour)
		if !slices.ContainsFunc(users, func(u pulse.User) bool { return u.ID == ss.UserID }) {
			users = append(users, pulse.User{TenantID: "acme", ID: ss.UserID, CreatedAt: now, UpdatedAt: now})
		}
		all = append(all, ss)
	}
	if err := s.Import(context.Background(), users, all, time.UTC); err != nil {
		t.Fatal(err)
	}
	return ended
}

// A search of ended sessions answers exactly the sessions whose end falls in the range and
// match the filter, across days and pages; ends recorded by a revoke and by the cleanup join it
// at once; an erased user's sessions never show, even before the erasure has deleted them; a
// cursor of the other kind is refused.
func TestSearchEnded(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStore(t, c)
	now := c.Now()
	ended := endedTenant(t, s, now, 600, 10*time.Minute, func(i int) *pulse.Session { // 600 ends over 100 hours
		ss := &pulse.Session{UserID: fmt.Sprintf("user-%03d", i%150), ID: fmt.Sprintf("s%04d", i), IPAddress: fmt.Sprintf("203.0.113.%d", i%256),
			Device: pulse.Device{Browser: []string{"Firefox", "Chrome"}[i%2], OS: "Linux"}}
		if i%3 == 0 {
			ss.IPAddress = "198.51.100.1"
		}
		return ss
	})
	pick := func(after, before time.Time, keep func(*pulse.Session) bool) []string {
		var ids []string
		for _, ss := range ended {
			if !ss.EndedAt.Before(after) && !ss.EndedAt.After(before) && keep(ss) {
				ids = append(ids, ss.ID)
			}
		}
		slices.Sort(ids)
		return ids
	}
	all := func(*pulse.Session) bool { return true }
	cases := []struct {
		name          string
		f             store.SessionFilter
		after, before time.Time
		keep          func(*pulse.Session) bool
	}{
		{"the last 24 hours", store.SessionFilter{}, now.Add(-24 * time.Hour), now, all},
		{"everything retained", store.SessionFilter{}, time.Unix(0, 0), now.Add(time.Hour), all},
		{"09:00 to 11:00 two days ago", store.SessionFilter{}, now.Add(-51 * time.Hour), now.Add(-49 * time.Hour), all},
		{"a user", store.SessionFilter{UserID: "user-007"}, time.Unix(0, 0), now, func(ss *pulse.Session) bool { return ss.UserID == "user-007" }},
		{"an address, Chrome", store.SessionFilter{IP: netip.PrefixFrom(netip.MustParseAddr("198.51.100.1"), 32), Browser: "chrome"}, now.Add(-72 * time.Hour), now,
			func(ss *pulse.Session) bool { return ss.IPAddress == "198.51.100.1" && ss.Device.Browser == "Chrome" }},
		{"started after", store.SessionFilter{StartedAfter: now.Add(-5 * time.Hour)}, time.Unix(0, 0), now, func(ss *pulse.Session) bool {
			return !ss.InitiatedAt.Before(now.Add(-5 * time.Hour))
		}},
		{"nothing", store.SessionFilter{OS: "Plan 9"}, time.Unix(0, 0), now, func(*pulse.Session) bool { return false }},
	}
	for _, tc := range cases {
		exp := pick(tc.after, tc.before, tc.keep)
		for _, limit := range []int{7, 100} {
			got, _ := searchEndedAll(t, s, ctx, tc.f, tc.after, tc.before, limit)
			if !slices.Equal(got, exp) {
				t.Errorf("%s, %d a page: %d sessions answered, want %d (%.60q, want %.60q)", tc.name, limit, len(got), len(exp), got, exp)
			}
		}
	}

	active, err := s.SearchActive(ctx, "acme", store.SessionFilter{}, 1, "")
	if err != nil || active.Next == "" {
		t.Fatalf("active search: %v, next %q", err, active.Next)
	}
	if _, err := s.SearchEnded(ctx, "acme", store.SessionFilter{}, now.Add(-time.Hour), now, 10, active.Next); code(err) != pulse.EINVALID {
		t.Errorf("an active search's cursor given to a search of ended sessions: err = %v, want %s", err, pulse.EINVALID)
	}

	// A revoke and the cleanup record ends that the search finds at once, with their reason.
	for _, id := range []string{"revoked-now", "idle-later"} {
		if _, _, err := s.CreateSession(ctx, newSession("late", id)); err != nil {
			t.Fatal(err)
		}
	}
	live, idle := "revoked-now", "idle-later"
	if err := s.RevokeSession(ctx, "acme", "late", live); err != nil {
		t.Fatal(err)
	}
	expiry := c.Now().Add(pulse.DefaultSessionPolicy.IdleTimeout).Truncate(store.ExpiryBucket)
	c.Add(pulse.DefaultSessionPolicy.IdleTimeout + store.ExpiryBucket)
	sessions, err := s.ExpiringSessions(ctx, expiry)
	if err != nil {
		t.Fatal(err)
	}
	for _, ss := range sessions {
		if _, err := s.EndExpired(ctx, ss, c.Now()); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.SearchEnded(ctx, "acme", store.SessionFilter{UserID: "late"}, now, c.Now(), 10, "")
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, ss := range page.Sessions {
		reasons[ss.ID] = ss.EndReason
	}
	if reasons[live] != pulse.EndRevoked || reasons[idle] != pulse.EndIdle || len(reasons) != 2 {
		t.Errorf("the late user's ends: %v, want %s revoked and %s idle", reasons, live, idle)
	}

	// An erasure that has not yet deleted anything (its request's time ran out) hides the
	// user's ended sessions, and the live ones it ends never join them.
	if _, _, err := s.CreateSession(ctx, newSession("user-007", "ended-by-erasure")); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 900*time.Millisecond)
	defer cancel()
	if err := s.DeleteUser(short, "acme", "user-007"); err != nil {
		t.Fatal(err)
	}
	if got, _ := searchEndedAll(t, s, ctx, store.SessionFilter{UserID: "user-007"}, time.Unix(0, 0), c.Now(), 50); len(got) != 0 {
		t.Errorf("user-007 is being erased; the search answered %d of their sessions", len(got))
	}
	if got, _ := searchEndedAll(t, s, ctx, store.SessionFilter{UserPrefix: "user-00"}, time.Unix(0, 0), c.Now(), 50); len(got) == 0 {
		t.Error("the other users' ends are gone too")
	}

}

// A search of ended sessions costs its budget, never the tenant's ends: with 4,000 ends in the
// last day and a filter that matches none, one request costs what it costs at 1,200 (within
// 1.5×) and at most 170 RCU on AWS's rules; a month's range with ends on one day is searched
// SearchQueries partitions an answer.
func TestSearchEndedCostsItsBudget(t *testing.T) {
	ctx := context.Background()
	cost := func(n int) float64 {
		c := newClock(start)
		s := newStore(t, c)
		endedTenant(t, s, c.Now(), n, 20*time.Second, func(i int) *pulse.Session {
			return &pulse.Session{UserID: fmt.Sprintf("u%05d", i), ID: fmt.Sprintf("s%05d", i), IPAddress: "203.0.113.7",
				Device: pulse.Device{Browser: "Chrome", OS: "Linux"}}
		})
		var m store.Meter
		page, err := s.SearchEnded(store.WithMeter(ctx, &m), "acme", store.SessionFilter{OS: "Windows"}, c.Now().Add(-24*time.Hour), c.Now(), 50, "")
		if err != nil {
			t.Fatal(err)
		}
		if page.Next == "" || len(page.Sessions) != 0 {
			t.Fatalf("%d ends: the first request answered %d and no cursor", n, len(page.Sessions))
		}
		rcu, _ := m.OnAWS()
		return rcu
	}
	small, large := cost(1200), cost(4000)
	t.Logf("one request, nothing matching: %.1f RCU at 1,200 ends in the day, %.1f at 4,000", small, large)
	if large > 170 || large > small*1.5 {
		t.Errorf("one request at 4,000 ends cost %.1f RCU (at 1,200: %.1f), want ≤ 170 and ≤ 1.5×", large, small)
	}

	c := newClock(start)
	s := newStore(t, c)
	endedTenant(t, s, c.Now(), 10, time.Minute, func(i int) *pulse.Session {
		return &pulse.Session{UserID: fmt.Sprintf("u%05d", i), ID: fmt.Sprintf("s%05d", i)}
	})
	var m store.Meter
	page, err := s.SearchEnded(store.WithMeter(ctx, &m), "acme", store.SessionFilter{}, c.Now().Add(-30*24*time.Hour), c.Now(), 50, "")
	if err != nil {
		t.Fatal(err)
	}
	rcu, _ := m.OnAWS()
	t.Logf("a month's range, ends on its last day: the first answer %d sessions, %.1f RCU", len(page.Sessions), rcu)
	if len(page.Sessions) != 0 || page.Next == "" || rcu > float64(store.SearchQueries)*0.5+1 {
		t.Errorf("the first answer over 31 days × 4 shards: %d sessions, next %q, %.1f RCU; want none yet, a cursor, ≤ %d queries", len(page.Sessions), page.Next, rcu, store.SearchQueries)
	}
	if got, requests := searchEndedAll(t, s, ctx, store.SessionFilter{}, c.Now().Add(-30*24*time.Hour), c.Now(), 50); len(got) != 10 || requests != 2 {
		t.Errorf("the month: %d sessions in %d answers, want 10 in 2", len(got), requests)
	}
}
