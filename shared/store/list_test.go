package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Pages sorted by start are found by day from the user's start counters: every page of every
// status, in both directions, must be the slice of the whole list a model sorts, and the totals
// the model's counts, across day boundaries, beside sessions past the retention horizon.
func TestSessionPagesMatchTheModel(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStore(t, c)
	now := c.Now()
	p := s.Policy()
	var sessions []*pulse.Session
	add := func(id string, init time.Time, live bool) {
		ss := &pulse.Session{TenantID: "acme", UserID: "alice", ID: id, Key: strings.Repeat("A", 64), ClientIDs: []string{"web"},
			InitiatedAt: init, LastActivity: init, ExpiresAt: init.Add(p.IdleTimeout), HardExpires: init.Add(p.MaxLifetime)}
		if live {
			ss.LastActivity, ss.ExpiresAt = now, now.Add(p.IdleTimeout)
		} else {
			ss.EndReason, ss.EndedAt = pulse.EndRevoked, init.Add(time.Minute)
		}
		sessions = append(sessions, ss)
	}
	// 12 days of history, unevenly spread (0 to 40 a day, some days empty), the last hours live.
	for d := range 12 {
		for i := range (d * 7) % 41 {
			init := now.AddDate(0, 0, -d).Add(-time.Duration(i*23) * time.Minute)
			add(fmt.Sprintf("d%02d-%02d", d, i), init, d == 0 && i < 9)
		}
	}
	// Two sessions at the same millisecond (ties broken by ID), and three past the horizon.
	add("tie-a", now.Add(-50*time.Hour), false)
	add("tie-b", now.Add(-50*time.Hour), false)
	for i := range 3 {
		add(fmt.Sprintf("old-%d", i), now.Add(-p.Retention-48*time.Hour-time.Duration(i)*time.Hour), false)
	}
	if err := s.Import(ctx, []pulse.User{{TenantID: "acme", ID: "alice", CreatedAt: now, UpdatedAt: now}}, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T) {
		t.Helper()
		now := c.Now()
		// What the scheduled cleanup does every few minutes: end the sessions that expired.
		for i, ss := range sessions {
			if ss.EndReason == "" && !ss.Live(now) {
				if _, err := s.EndExpired(ctx, ss, now); err != nil {
					t.Fatal(err)
				}
				got, err := s.GetSession(ctx, "acme", "alice", ss.ID)
				if err != nil {
					t.Fatal(err)
				}
				sessions[i] = got
			}
		}
		first := now.Add(-p.Retention).UTC().Truncate(24 * time.Hour)
		for _, status := range []string{"all", pulse.StatusEnded, pulse.StatusActive} {
			var want []string
			for _, ss := range sessions {
				st, _, _ := ss.State(now)
				if !ss.InitiatedAt.Before(first) && (status == "all" || st == status) {
					want = append(want, ss.ID)
				}
			}
			byStart := func(a, b string) int {
				ia := slices.IndexFunc(sessions, func(ss *pulse.Session) bool { return ss.ID == a })
				ib := slices.IndexFunc(sessions, func(ss *pulse.Session) bool { return ss.ID == b })
				if c := sessions[ia].InitiatedAt.Compare(sessions[ib].InitiatedAt); c != 0 {
					return c
				}
				return strings.Compare(a, b)
			}
			slices.SortFunc(want, byStart)
			for _, desc := range []bool{false, true} {
				model := slices.Clone(want)
				if desc {
					slices.Reverse(model)
				}
				for _, size := range []int{7, 25} {
					for offset := 0; offset <= len(model)+size; offset += size {
						got, err := s.SessionsPage(ctx, "acme", "alice", store.SessionQuery{Status: status, Sort: "initiated_at", Desc: desc, Offset: offset, Limit: size})
						if err != nil {
							t.Fatal(err)
						}
						var ids []string
						for _, ss := range got.Sessions {
							ids = append(ids, ss.ID)
						}
						exp := model[min(offset, len(model)):min(offset+size, len(model))]
						if got.Total != len(model) || !slices.Equal(ids, exp) {
							t.Fatalf("%s desc=%v offset %d size %d: total %d %v, want %d %v", status, desc, offset, size, got.Total, ids, len(model), exp)
						}
					}
				}
			}
		}
	}
	t.Run("imported", check)

	// Logins add to the counters; a revoke moves a session from active to ended.
	for range 3 {
		c.Add(7 * time.Hour)
		ss, _, err := s.CreateSession(ctx, store.NewSession{TenantID: "acme", UserID: "alice", ClientID: "web", IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, ss)
	}
	if err := s.RevokeSession(ctx, "acme", "alice", sessions[len(sessions)-1].ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSession(ctx, "acme", "alice", sessions[len(sessions)-1].ID)
	if err != nil {
		t.Fatal(err)
	}
	sessions[len(sessions)-1] = got
	t.Run("after logins", check)

	// Days later the oldest days have left the horizon: the totals drop with them.
	c.Add(5 * 24 * time.Hour)
	t.Run("days later", check)
}
