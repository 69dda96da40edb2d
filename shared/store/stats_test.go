package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/shared/store"
)

// The activity counters, kept as logins and heartbeats arrive, equal what a model counts from
// every user's days and hours: DAU, WAU and MAU (distinct users over the 7 and 30 days ending
// each day), users per hour and per 2-hour group, new users. A second tenant loaded with the
// same days through LoadHistory has the same DAU, WAU and MAU.
func TestCountersMatchTheModel(t *testing.T) {
	ctx := context.Background()
	zone, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Date(2026, 10, 1, 0, 0, 0, 0, zone)
	c := newClock(begin)
	s := newStore(t, c)
	rnd := rand.New(rand.NewPCG(7, 11))
	days := map[string]map[string]bool{}  // user → days active
	hours := map[string]map[string]bool{} // user → hours active (YYYY-MM-DDTHH)
	mark := func(user string, t time.Time) {
		if days[user] == nil {
			days[user], hours[user] = map[string]bool{}, map[string]bool{}
		}
		days[user][t.In(zone).Format(time.DateOnly)] = true
		hours[user][t.In(zone).Format("2006-01-02T15")] = true
	}
	const nDays = 45
	for d := range nDays {
		for u := range 6 {
			if rnd.IntN(3) != 0 {
				continue
			}
			user := fmt.Sprintf("user%d", u)
			// A session from a random time of the day, with heartbeats every 20 minutes for up
			// to three hours (across midnight sometimes).
			c.t = begin.AddDate(0, 0, d).Add(time.Duration(rnd.IntN(20*60)) * time.Minute)
			ss, _, err := s.CreateSession(ctx, store.NewSession{TenantID: "acme", UserID: user, ClientID: "web", Zone: zone})
			if err != nil {
				t.Fatal(err)
			}
			mark(user, c.Now())
			for range rnd.IntN(10) {
				c.Add(20 * time.Minute)
				if err := s.RecordActivity(ctx, store.Activity{TenantID: "acme", UserID: user, SessionID: ss.ID, Zone: zone}); err != nil {
					t.Fatal(err)
				}
				mark(user, c.Now())
			}
		}
	}
	first := begin.Format(time.DateOnly)
	last := c.Now().In(zone).Format(time.DateOnly)
	got, err := s.DailyStats(ctx, "acme", first, last, zone)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < nDays || got[0].Day != first || got[len(got)-1].Day != last {
		t.Fatalf("%d days from %s to %s, want every day from %s to %s", len(got), got[0].Day, got[len(got)-1].Day, first, last)
	}
	within := func(user, day string, span int) bool {
		for k := range span {
			if days[user][addDays(day, -k)] {
				return true
			}
		}
		return false
	}
	for _, d := range got {
		var dau, wau, mau, created int
		var hrs [24]int
		var pairs [12]int
		for user := range days {
			if within(user, d.Day, 1) {
				dau++
			}
			if within(user, d.Day, 7) {
				wau++
			}
			if within(user, d.Day, 30) {
				mau++
			}
			first := ""
			for day := range days[user] {
				if first == "" || day < first {
					first = day
				}
			}
			if first == d.Day {
				created++
			}
			for h := range 24 {
				if hours[user][fmt.Sprintf("%sT%02d", d.Day, h)] {
					hrs[h]++
				}
			}
			for p := range 12 {
				if hours[user][fmt.Sprintf("%sT%02d", d.Day, 2*p)] || hours[user][fmt.Sprintf("%sT%02d", d.Day, 2*p+1)] {
					pairs[p]++
				}
			}
		}
		if d.DAU != dau || d.WAU != wau || d.MAU != mau || d.New != created || d.Hours != hrs || d.Pairs != pairs {
			t.Errorf("%s: got dau %d wau %d mau %d new %d hours %v pairs %v\nwant dau %d wau %d mau %d new %d hours %v pairs %v",
				d.Day, d.DAU, d.WAU, d.MAU, d.New, d.Hours, d.Pairs, dau, wau, mau, created, hrs, pairs)
		}
	}

	loaded := map[string][]string{}
	for user, ds := range days {
		for d := range ds {
			loaded[user] = append(loaded[user], d)
		}
	}
	if err := s.LoadHistory(ctx, "other", loaded, nil); err != nil {
		t.Fatal(err)
	}
	again, err := s.DailyStats(ctx, "other", first, last, zone)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range again {
		if d.DAU != got[i].DAU || d.WAU != got[i].WAU || d.MAU != got[i].MAU {
			t.Errorf("%s loaded: dau %d wau %d mau %d, counted live: %d %d %d", d.Day, d.DAU, d.WAU, d.MAU, got[i].DAU, got[i].WAU, got[i].MAU)
		}
	}
}

func addDays(day string, n int) string {
	t, _ := time.Parse(time.DateOnly, day)
	return t.AddDate(0, 0, n).Format(time.DateOnly)
}
