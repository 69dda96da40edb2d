package manage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

const countsPath = "/api/analytics/active-users"

// DAU, WAU and MAU served by Pulse equal what Rocket.Chat's engagement dashboard computes in the
// browser from active-users' usersList (the users of the day; distinct users of the 7 and the
// 30 days ending that day), in a tenant on UTC and in one on India's +05:30, after weeks of
// logins and heartbeats through the API. The CSV says the same.
func TestActiveUserCountsMatchRocketChat(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	begin := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	for _, zone := range []string{"UTC", "Asia/Kolkata"} {
		t.Run(zone, func(t *testing.T) {
			id := strings.ToLower(strings.ReplaceAll(zone, "/", "-"))
			if _, err := e.Deps.Store.CreateTenant(ctx, pulse.Tenant{ID: id, Name: id, TimeZone: zone}); err != nil {
				t.Fatal(err)
			}
			key := apptest.Key(e.NewTenant(id, pulse.AllScopes...))
			e.Clock.Set(begin)
			tok := registerAdmin(t, e, key)
			rnd := rand.New(rand.NewPCG(3, uint64(len(zone))))
			const days = 50
			for d := range days {
				for u := range 8 {
					if rnd.IntN(4) != 0 || (u >= 5 && d%9 != 0) { // three users come back rarely
						continue
					}
					e.Clock.Set(begin.AddDate(0, 0, d).Add(time.Duration(rnd.IntN(22*60)) * time.Minute))
					user := fmt.Sprintf("user%d", u)
					r := e.Do("POST", "/api/users/"+user+"/sessions", `{"client_id":"web"}`, key...)
					var s struct {
						SessionID string `json:"session_id"`
					}
					r.JSON(t, &s)
					for range rnd.IntN(6) {
						e.Clock.Add(25 * time.Minute)
						e.Do("POST", "/api/users/"+user+"/sessions/"+s.SessionID+"/activity", `{}`, key...)
					}
				}
			}
			e.Clock.Set(begin.AddDate(0, 0, days).Add(12 * time.Hour))
			loc, _ := time.LoadLocation(zone)
			today := e.Clock.Now().In(loc)
			first := begin.In(loc).Format(time.DateOnly)
			last := today.Format(time.DateOnly)

			// Rocket.Chat's way: the active-users answer, then distinct users over windows.
			r := e.Do("GET", fmt.Sprintf("/api/v1/engagement-dashboard/users/active-users?start=%s&end=%s",
				begin.Add(-48*time.Hour).Format("2006-01-02T15:04:05.000Z"), e.Clock.Now().Format("2006-01-02T15:04:05.000Z")), "",
				"X-User-Id", "boss", "X-Auth-Token", tok)
			var au struct {
				Month []struct {
					UsersList        []string
					Day, Month, Year int
				}
			}
			r.JSON(t, &au)
			byDay := map[string][]string{}
			for _, d := range au.Month {
				byDay[fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)] = d.UsersList
			}
			distinct := func(day string, span int) int {
				seen := map[string]bool{}
				t0, _ := time.Parse(time.DateOnly, day)
				for k := range span {
					for _, u := range byDay[t0.AddDate(0, 0, -k).Format(time.DateOnly)] {
						seen[u] = true
					}
				}
				return len(seen)
			}

			r = e.Do("GET", countsPath+"?start="+first+"&end="+last, "", key...)
			var got struct {
				Days []struct {
					Date          string
					DAU, WAU, MAU int
				}
			}
			r.JSON(t, &got)
			if r.Status != 200 || len(got.Days) < days {
				t.Fatalf("%d %.300s", r.Status, r.Body)
			}
			csv := "Date,DAU,WAU,MAU\r\n"
			nonZero := 0
			for i, d := range got.Days {
				want := fmt.Sprintf("%s %d/%d/%d", d.Date, distinct(d.Date, 1), distinct(d.Date, 7), distinct(d.Date, 30))
				if have := fmt.Sprintf("%s %d/%d/%d", d.Date, d.DAU, d.WAU, d.MAU); have != want {
					t.Errorf("day %d: Pulse %s, Rocket.Chat's way %s", i, have, want)
				}
				csv += fmt.Sprintf("%s,%d,%d,%d\r\n", d.Date, d.DAU, d.WAU, d.MAU)
				nonZero += d.DAU
			}
			if got.Days[0].Date != first || got.Days[len(got.Days)-1].Date != last || nonZero < 50 {
				t.Errorf("days %s to %s with %d user-days, want %s to %s and activity", got.Days[0].Date, got.Days[len(got.Days)-1].Date, nonZero, first, last)
			}
			r = e.Do("GET", countsPath+"?start="+first+"&end="+last, "", append(key, "Accept", "text/csv")...)
			if r.Status != 200 || string(r.Body) != csv || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
				t.Errorf("CSV: %d %s %.200q, want the JSON's figures", r.Status, r.Header.Get("Content-Type"), r.Body)
			}
		})
	}
}

// registerAdmin creates the tenant's admin user "boss" and returns a personal access token.
func registerAdmin(t *testing.T, e *apptest.Env, key []string) string {
	t.Helper()
	if r := e.Do("PUT", "/api/users/boss", `{"name":"Boss","roles":["admin"]}`, key...); r.Status >= 300 {
		t.Fatalf("put admin: %d %s", r.Status, r.Body)
	}
	r := e.Do("POST", "/api/users/boss/tokens", `{"name":"dashboard"}`, key...)
	var tok struct{ AuthToken string }
	r.JSON(t, &tok)
	if r.Status != 201 {
		t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	return tok.AuthToken
}

// Bad input is a problem+json naming what is wrong, and reads nothing.
func TestActiveUserCountsInput(t *testing.T) {
	e := apptest.New(t) // the clock reads 2026-03-10
	key := apptest.Key(e.Key)
	noScope := apptest.Key(e.NewTenant("acme", pulse.ScopeUsersRead))
	for _, tc := range []struct {
		name, query string
		headers     []string
		status      int
		detail      string
	}{
		{"no key", "?start=2026-03-01&end=2026-03-10", nil, 401, "Invalid or missing API key."},
		{"key without the scope", "?start=2026-03-01&end=2026-03-10", noScope, 403, "The API key lacks the active-users:read scope."},
		{"missing both", "", key, 422, `"start":["is required."]`},
		{"not a date", "?start=2026-02-30&end=2026-03-10", key, 422, `"start":["must be a date, YYYY-MM-DD."]`},
		{"a time, not a date", "?start=2026-03-01T00:00:00Z&end=2026-03-10", key, 422, `"start":["must be a date, YYYY-MM-DD."]`},
		{"end in the future", "?start=2026-03-01&end=2026-03-11", key, 422, `"end":["must not be after today, 2026-03-10."]`},
		{"before the retention", "?start=2025-01-01&end=2026-03-10", key, 422, `"start":["must not be before 2025-02-03`},
		{"end before start", "?start=2026-03-05&end=2026-03-01", key, 422, `"end":["must not be before start."]`},
		{"start twice", "?start=2026-03-01&start=2026-03-02&end=2026-03-10", key, 400, "The start parameter may be given once."},
		{"bad escape", "?start=%zz", key, 400, "The query string cannot be parsed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.For(t)
			e.Meter.Reset()
			r := e.Do("GET", countsPath+tc.query, "", tc.headers...)
			if r.Status != tc.status || !strings.Contains(string(r.Body), tc.detail) || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%d %s %s, want %d containing %s", r.Status, r.Header.Get("Content-Type"), r.Body, tc.status, tc.detail)
			}
			if calls, _, _ := e.Meter.Snapshot(); tc.status == 422 && calls > 2 { // the key, the tenant
				t.Errorf("%d DynamoDB calls for refused input", calls)
			}
		})
	}
	// A whole retention's range is fine, zeros included; the answer is JSON unless CSV is asked for.
	r := e.Do("GET", countsPath+"?start=2025-02-04&end=2026-03-10", "", append(key, "Accept", "application/json, text/csv;q=0.5")...)
	var body struct{ Days []json.RawMessage }
	r.JSON(t, &body)
	if r.Status != 200 || len(body.Days) != 400 || string(body.Days[0]) != `{"date":"2025-02-04","dau":0,"wau":0,"mau":0}` {
		t.Errorf("%d, %d days, first %s", r.Status, len(body.Days), body.Days[0])
	}
}
