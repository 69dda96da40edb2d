package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// uuidOf is a random-looking lowercase UUID drawn from r: real tenants' IDs, which the
// snapshot's chunks pack in 16 bytes each.
func uuidOf(r *rand.Rand) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
}

// activeIDs lists every session of the tenant's active list, in its order, limit at a time,
// and checks that the rows paging returns are as many as each page's total says.
func activeIDs(t *testing.T, s *store.Store, limit int) []string {
	t.Helper()
	var ids []string
	total := -1
	for offset := 0; total < 0 || offset < total; offset += limit {
		page, err := s.ActiveSessions(context.Background(), "acme", offset, limit)
		if err != nil {
			t.Fatal(err)
		}
		if total >= 0 && page.Total != total {
			t.Fatalf("the total went from %d to %d while paging", total, page.Total)
		}
		total = page.Total
		for _, ss := range page.Sessions {
			ids = append(ids, ss.UserID+"/"+ss.ID)
		}
	}
	if len(ids) != max(total, 0) {
		t.Fatalf("paging returned %d rows, the total says %d", len(ids), total)
	}
	return ids
}

// With a snapshot taken, a page of the active list costs its page, at any offset: the
// snapshot's item, the chunks that hold the page and its sessions by key. At 4,000 active
// sessions with UUIDs a page of 10 costs what it costs at 1,200, within 20 RCU, and a page of
// 1,000 within 600, where reading the window's keys alone costs about 64 RCU at 4,000 (and
// 310 at 20,000: BENCHMARKS.md, section 1b). The snapshot lists what the index lists, in the
// same order.
func TestActivePageFromItsSnapshot(t *testing.T) {
	ctx := context.Background()
	type costs struct{ first, middle, large, keys float64 }
	cost := func(n int) costs {
		c := newClock(start)
		s := newStore(t, c)
		if _, err := s.CreateTenant(ctx, pulse.Tenant{ID: "acme"}); err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(uint64(n), 7))
		searchTenant(t, s, c.Now(), n, func(int) *pulse.Session {
			return &pulse.Session{UserID: uuidOf(r), ID: uuidOf(r), IPAddress: "203.0.113.7", Device: pulse.Device{Browser: "Chrome", OS: "Linux"}}
		})
		// Before any run there is no snapshot: a page reads the index's keys.
		var m store.Meter
		direct, err := s.ActiveSessions(store.WithMeter(ctx, &m), "acme", 0, 10)
		if err != nil || direct.Total != n {
			t.Fatalf("%d active, before any snapshot: %+v, %v", n, direct, err)
		}
		keys, _ := m.OnAWS()
		want := activeIDs(t, s, 2*n) // one page: the index's order
		c.Add(time.Second)
		if took, done, err := s.TakeActiveSnapshots(ctx, func() bool { return false }); err != nil || took != 1 || !done {
			t.Fatalf("snapshots: %d taken, done %v, %v; want the tenant's", took, done, err)
		}
		if got := activeIDs(t, s, 700); !slices.Equal(got, want) {
			t.Fatalf("%d active: the snapshot pages %d sessions, not the index's %d in its order", n, len(got), len(want))
		}
		page := func(offset, limit int) float64 {
			var m store.Meter
			p, err := s.ActiveSessions(store.WithMeter(ctx, &m), "acme", offset, limit)
			if err != nil || p.Total != n || len(p.Sessions) != min(limit, n-offset) {
				t.Fatalf("%d active, page at %d of %d: %d rows of %d, %v", n, offset, limit, len(p.Sessions), p.Total, err)
			}
			rcu, _ := m.OnAWS()
			return rcu
		}
		return costs{first: page(0, 10), middle: page(n/2+55, 10), large: page(n/2-500, 1000), keys: keys}
	}
	small, large := cost(1200), cost(4000)
	t.Logf("page of 10 at offset 0 / the middle, page of 1,000 (RCU, AWS's rules): %.1f / %.1f, %.1f at 1,200 active; %.1f / %.1f, %.1f at 4,000 (the index's keys and the page: %.1f)",
		small.first, small.middle, small.large, large.first, large.middle, large.large, large.keys)
	for _, c := range []struct {
		what         string
		small, large float64
		bound        float64
	}{
		{"a page of 10 at offset 0", small.first, large.first, 20},
		{"a page of 10 in the middle", small.middle, large.middle, 20},
		{"a page of 1,000 in the middle", small.large, large.large, 600},
	} {
		if c.large > c.bound || c.large > 1.5*c.small {
			t.Errorf("%s: %.1f RCU at 4,000 active, %.1f at 1,200: want ≤ %.0f and ≤ 1.5×", c.what, c.large, c.small, c.bound)
		}
	}
	if large.first*3 > large.keys {
		t.Errorf("a page of 10 from the snapshot costs %.1f RCU, reading the index's keys %.1f: the snapshot should save most of it", large.first, large.keys)
	}
}

// A snapshot's list is the sessions active when it was taken, shown as they are now, and its
// total is the rows paging returns: a login since is listed from the next run, a session
// revoked since stays until then, and an erased user's session goes at once, from the rows and
// the total alike. A snapshot older than SnapshotMaxAge is not used, and neither is one of a
// list below SnapshotFrom: the list is then exact to the moment.
func TestSnapshotListIsItsMoment(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStore(t, c)
	if _, err := s.CreateTenant(ctx, pulse.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	n := store.SnapshotFrom + 20
	searchTenant(t, s, c.Now(), n, func(i int) *pulse.Session {
		return &pulse.Session{UserID: fmt.Sprintf("u%05d", i), ID: fmt.Sprintf("s%05d", i)}
	})
	take := func() {
		t.Helper()
		if _, _, err := s.TakeActiveSnapshots(ctx, func() bool { return false }); err != nil {
			t.Fatal(err)
		}
	}
	if got := activeIDs(t, s, 500); len(got) != n {
		t.Fatalf("%d active before the snapshot, want %d", len(got), n)
	}
	take()
	c.Add(30 * time.Second)
	if _, _, err := s.CreateSession(ctx, newSession("newcomer", "S-new")); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "acme", "u00001", "s00001"); err != nil {
		t.Fatal(err)
	}
	got := activeIDs(t, s, 300)
	if len(got) != n || slices.Contains(got, "newcomer/S-new") || !slices.Contains(got, "u00001/s00001") {
		t.Fatalf("from the snapshot: %d rows (want %d), newcomer listed %v (want not yet), revoked listed %v (want still)",
			len(got), n, slices.Contains(got, "newcomer/S-new"), slices.Contains(got, "u00001/s00001"))
	}
	// An erasure: the list is the index's at once (the newcomer in, the revoked and erased out),
	// and the next run's snapshot leaves the erased user out.
	if err := s.DeleteUser(ctx, "acme", "u00002"); err != nil {
		t.Fatal(err)
	}
	for _, when := range []string{"after the erasure", "from the next snapshot"} {
		got = activeIDs(t, s, 300)
		if len(got) != n-1 || !slices.Contains(got, "newcomer/S-new") || slices.Contains(got, "u00001/s00001") || slices.Contains(got, "u00002/s00002") {
			t.Fatalf("%s: %d rows (want %d), newcomer listed %v (want), revoked listed %v (want not), erased listed %v (want not)", when,
				len(got), n-1, slices.Contains(got, "newcomer/S-new"), slices.Contains(got, "u00001/s00001"), slices.Contains(got, "u00002/s00002"))
		}
		c.Add(30 * time.Second)
		take()
	}
	// That snapshot is paged (a login after it waits for the next), without the erased user.
	if _, _, err := s.CreateSession(ctx, newSession("between", "S-between")); err != nil {
		t.Fatal(err)
	}
	if got = activeIDs(t, s, 300); len(got) != n-1 || slices.Contains(got, "between/S-between") || slices.Contains(got, "u00002/s00002") {
		t.Fatalf("from the snapshot after the erasure: %d rows (want %d), a login since listed %v (want not yet), erased listed %v (want not)",
			len(got), n-1, slices.Contains(got, "between/S-between"), slices.Contains(got, "u00002/s00002"))
	}
	// No run since: past its age the snapshot is not used, and the list is the index's now.
	c.Add(store.SnapshotMaxAge + time.Second)
	if _, _, err := s.CreateSession(ctx, newSession("late", "S-late")); err != nil {
		t.Fatal(err)
	}
	if got := activeIDs(t, s, 300); !slices.Equal(got, []string{"late/S-late"}) { // "between" went idle
		t.Fatalf("past the snapshot's age: %d rows (%.3v), want the one login still active", len(got), got)
	}
	// The list is below SnapshotFrom now: a run names no chunks, and a login shows at once.
	take()
	c.Add(time.Second)
	if _, _, err := s.CreateSession(ctx, newSession("later", "S-later")); err != nil {
		t.Fatal(err)
	}
	if got := activeIDs(t, s, 300); !slices.Equal(got, []string{"later/S-later", "late/S-late"}) {
		t.Fatalf("below SnapshotFrom: %v, want both logins at once", got)
	}
}

// Runs take snapshots of the lists of SnapshotFrom active sessions or more, found by a probe
// of one shard: a small tenant costs a run that probe, not its keys.
func TestSnapshotsOnlyOfLargeLists(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStore(t, c)
	for _, id := range []string{"acme", "small"} {
		if _, err := s.CreateTenant(ctx, pulse.Tenant{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		ns := newSession(fmt.Sprintf("u%02d", i), fmt.Sprintf("S%02d", i))
		ns.TenantID = "small"
		if _, _, err := s.CreateSession(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	never := func() bool { return false }
	var m store.Meter
	if took, done, err := s.TakeActiveSnapshots(store.WithMeter(ctx, &m), never); err != nil || took != 0 || !done {
		t.Fatalf("no large list: %d snapshots, done %v, %v; want none", took, done, err)
	}
	probes, _ := m.OnAWS()
	searchTenant(t, s, c.Now(), store.SnapshotFrom, func(i int) *pulse.Session {
		return &pulse.Session{UserID: fmt.Sprintf("u%05d", i), ID: fmt.Sprintf("s%05d", i)}
	})
	if took, _, err := s.TakeActiveSnapshots(ctx, never); err != nil || took != 1 {
		t.Fatalf("one list of %d: %d snapshots, %v; want 1", store.SnapshotFrom, took, err)
	}
	if took, done, err := s.TakeActiveSnapshots(ctx, func() bool { return true }); err != nil || took != 0 || done {
		t.Fatalf("out of time: %d, done %v, %v; want none taken, not done", took, done, err)
	}
	// Two tenants, one with 50 active sessions: the snapshot items' and the registry's Queries,
	// and a probe of the window's first shard each (0.5 RCU a bucket).
	if probes > 4 {
		t.Errorf("a run over two small tenants read %.1f RCU; want the probes alone, ≤ 4", probes)
	}
}
