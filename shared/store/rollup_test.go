package store_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/uuids"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Thirty days of 5,000 users a day, drawn from 10,000 with random UUIDs, over two months, at
// the worst hour (before 12:10 UTC two days are still open): the rollups store each month's
// users once and a bitmap a day, so the 30 days cost ≤ 250 RCU on AWS's rules (503 when each
// day's rollup listed its IDs, which barely compress). Every day reads back exactly its users,
// and erasing a user takes them out of every day, closed or open, and nobody else.
func TestThirtyDaysOfUUIDs(t *testing.T) {
	ctx := context.Background()
	c := newClock(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC))
	s := newStore(t, c)
	rnd := rand.New(rand.NewPCG(23, 3))
	pool := uuids.Random(rnd, 10_000)
	want := map[string][]string{}
	days := map[string][]string{}
	var all []string
	for d := range 30 {
		day := c.Now().AddDate(0, 0, -d).Format(time.DateOnly)
		all = append(all, day)
		users := slices.Clone(pool)
		rnd.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })
		users = users[:5000]
		slices.Sort(users)
		want[day] = users
		for _, u := range users {
			days[u] = append(days[u], day)
		}
	}
	if err := s.LoadHistory(ctx, "acme", days, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RollUp(ctx, "acme", all); err != nil {
		t.Fatal(err)
	}
	read := func() (map[string][]string, float64) {
		var m store.Meter
		got := map[string][]string{}
		err := s.DailyActiveUsers(store.WithMeter(ctx, &m), "acme", all[29], all[0], time.UTC, func(d store.DayUsers) error {
			got[d.Day] = d.Users
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rcu, _ := m.OnAWS()
		return got, rcu
	}
	got, rcu := read()
	t.Logf("30 days × 5,000 users of 10,000 (UUIDs), 2 days open: %.1f RCU on AWS's rules", rcu)
	if rcu > 250 {
		t.Errorf("30 days × 5,000 UUIDs read %.1f RCU on AWS's rules, want ≤ 250", rcu)
	}
	for _, day := range all {
		if !slices.Equal(got[day], want[day]) {
			t.Fatalf("%s: %d users read back, %d recorded (first %.40q / %.40q)", day, len(got[day]), len(want[day]), got[day], want[day])
		}
	}
	// Rolled up again, a day reads the same (the dictionary does not grow).
	if err := s.RollUpDay(ctx, "acme", all[5]); err != nil {
		t.Fatal(err)
	}
	victim := pool[7]
	if err := s.Import(ctx, []pulse.User{{TenantID: "acme", ID: victim}}, nil, time.UTC); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "acme", victim); err != nil {
		t.Fatal(err)
	}
	got, _ = read()
	for _, day := range all {
		w := slices.DeleteFunc(slices.Clone(want[day]), func(u string) bool { return u == victim })
		if !slices.Equal(got[day], w) {
			t.Errorf("%s after erasing %s: %d users, want %d", day, victim, len(got[day]), len(w))
		}
	}
}
