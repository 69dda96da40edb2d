// Package demo fills a tenant with realistic data: users on varied browsers, OSes and
// countries, sessions active now and ended ones, and 30 days of activity. make run shows it,
// and the events/ files (and the tests that replay them) refer to it.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/pulse-sessions/pulse/shared/geo"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
	"github.com/pulse-sessions/pulse/shared/useragent"
)

// Admin is the demo tenant's admin user (the ID of the admin API's own example). Their live
// session is LiveSession; EndedSession is one of their ended ones.
const (
	Admin        = "10000000000001"
	LiveSession  = "demo-10000000000001-0"
	EndedSession = "demo-10000000000001-1"
)

// Real User-Agents of the browsers most traffic comes from.
var demoAgents = []string{
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.135 Mobile Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/116.0.0.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/323.0.647062479 Mobile/15E148 Safari/604.1",
}

// Cities to place demo users in: country code, city, latitude, longitude.
var demoPlaces = [][4]string{
	{"US", "Los Angeles", "34.043238", "-118.250918"}, {"US", "New York", "40.712776", "-74.005974"},
	{"DE", "Berlin", "52.520008", "13.404954"}, {"GB", "London", "51.507351", "-0.127758"},
	{"IN", "Bengaluru", "12.971599", "77.594566"}, {"BR", "São Paulo", "-23.550520", "-46.633308"},
	{"JP", "Tokyo", "35.689487", "139.691711"}, {"AU", "Sydney", "-33.868820", "151.209290"},
	{"ZA", "Cape Town", "-33.924870", "18.424055"}, {"CA", "Toronto", "43.653225", "-79.383186"},
}

var demoNames = []string{"Ava", "Ben", "Chloé", "Dmitri", "Emeka", "Fatima", "Gustavo", "Hana", "Ines", "Jonas",
	"Kenji", "Leila", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Viktor"}

// Seed fills tenant as of now: the admin user, users with sessions from varied browsers, OSes
// and countries (most active right now, each with ended ones), and 30 days of activity.
// Seeding again refreshes the live sessions and overwrites the rest with the same data.
func Seed(ctx context.Context, s *store.Store, tenant string, now time.Time) error {
	now = now.Truncate(time.Second)
	rnd := rand.New(rand.NewPCG(42, 7)) // the same demo every time
	users := []pulse.User{{TenantID: tenant, ID: Admin, Name: "admin", Type: "System", Roles: []string{pulse.AdminRole},
		CreatedAt: now.AddDate(0, 0, -30), UpdatedAt: now}}
	for i, n := range demoNames {
		id := userID(i, n)
		typ := "Member"
		if i%5 == 0 {
			typ = "Guest"
		}
		users = append(users, pulse.User{TenantID: tenant, ID: id, Name: n, Type: typ, Roles: []string{"member"},
			CreatedAt: now.AddDate(0, 0, -30), UpdatedAt: now})
	}
	var sessions []*pulse.Session
	session := func(u pulse.User, n int, start, last time.Time) *pulse.Session {
		ua := demoAgents[rnd.IntN(len(demoAgents))]
		place := demoPlaces[rnd.IntN(len(demoPlaces))]
		country, continent, _ := geo.Country(place[0])
		return &pulse.Session{
			TenantID: tenant, UserID: u.ID, ID: fmt.Sprintf("demo-%s-%d", u.ID, n), Key: fmt.Sprintf("%016X%016X%016X%016X", rnd.Uint64(), rnd.Uint64(), rnd.Uint64(), rnd.Uint64()),
			ClientIDs: []string{"web"}, InitiatedAt: start, LastActivity: last, HardExpires: start.Add(24 * time.Hour),
			ExpiresAt: minTime(last.Add(30*time.Minute), start.Add(24*time.Hour)),
			IPAddress: fmt.Sprintf("203.0.113.%d", 1+rnd.IntN(254)), Device: useragent.Parse(ua),
			Location: pulse.Location{CountryCode: place[0], Country: country, City: place[1], Continent: continent, Latitude: place[2], Longitude: place[3]},
		}
	}
	// What each user did: days (and a block of hours on each) since the user was created, plus
	// the days and hours of their sessions, loaded at once (LoadHistory wants a user's whole
	// history) so that every card of the engagement dashboard's Users tab has something to show.
	days, hours := map[string][]string{}, map[string][]string{}
	span := func(u string, from, to time.Time) {
		for t := from; ; t = t.Add(30 * time.Minute) {
			if t.After(to) {
				t = to
			}
			days[u] = append(days[u], t.UTC().Format(time.DateOnly))
			hours[u] = append(hours[u], t.UTC().Format("2006-01-02T15"))
			if !t.Before(to) {
				return
			}
		}
	}
	for i := range users {
		u := &users[i]
		if i > 0 { // users joined over the last six weeks; the admin was first
			u.CreatedAt = now.AddDate(0, 0, -rnd.IntN(42)).Add(-time.Duration(rnd.IntN(12)) * time.Hour)
		}
		for d := range 30 {
			day := now.AddDate(0, 0, -d)
			if day.Before(u.CreatedAt) || (d > 0 && rnd.IntN(3) == 0) {
				continue
			}
			from := time.Date(day.Year(), day.Month(), day.Day(), 7+rnd.IntN(12), rnd.IntN(60), 0, 0, time.UTC)
			if d == 0 && from.After(now) {
				from = now.Add(-time.Hour)
			}
			span(u.ID, from, minTime(from.Add(time.Duration(20+rnd.IntN(150))*time.Minute), now))
		}
		for n := 1; n <= 2; n++ { // two ended sessions in the past weeks
			start := now.Add(-time.Duration(24*(3+rnd.IntN(25))+rnd.IntN(20)) * time.Hour)
			old := session(*u, n, start, start.Add(time.Duration(5+rnd.IntN(120))*time.Minute))
			if n == 1 {
				old.EndReason, old.EndedAt = pulse.EndRevoked, old.LastActivity
			} else {
				old.EndReason, old.EndedAt = pulse.EndIdle, old.ExpiresAt
			}
			sessions = append(sessions, old)
			span(u.ID, old.InitiatedAt, old.LastActivity)
			if old.InitiatedAt.Before(u.CreatedAt) {
				u.CreatedAt = old.InitiatedAt.Add(-time.Hour)
			}
		}
		if activeNow(i) { // most users are active right now, on a session a few hours old
			live := session(*u, 0, now.Add(-time.Duration(10+rnd.IntN(300))*time.Minute), now.Add(-time.Duration(rnd.IntN(240))*time.Second))
			sessions = append(sessions, live)
			span(u.ID, live.InitiatedAt, live.LastActivity)
		}
	}
	if err := s.Import(ctx, users, sessions, time.UTC); err != nil {
		return err
	}
	if err := s.LoadHistory(ctx, tenant, days, hours); err != nil {
		return err
	}
	var all []string
	for d := range 30 {
		all = append(all, now.AddDate(0, 0, -d).UTC().Format(time.DateOnly))
	}
	return s.RollUp(ctx, tenant, all) // the closed days, as the scheduled function would
}

// userID is the ID of the demo's i-th named user: ASCII (pulse.ValidID), and numeric for some,
// as some tenants' IDs are (the admin API shows those as numbers).
func userID(i int, name string) string {
	if i%3 == 0 {
		return fmt.Sprint(10000000000100 + i)
	}
	return strings.ToLower(strings.ReplaceAll(name, "é", "e"))
}

// activeNow reports whether the demo's user i (0: the admin) is active right now.
func activeNow(i int) bool { return i == 0 || i%4 != 3 }

// Keeper keeps the demo's active users active while make run runs, as their browsers would:
// a heartbeat on each one's live session, and a new login for a user whose session has ended
// (idle while make run was stopped, revoked from the dashboard, or evicted).
type Keeper struct {
	Store  *store.Store
	Tenant string

	sessions map[string]string // user → their live session
}

// Beat records one heartbeat for each of the demo's active users, logging in again those whose
// session ended. It returns the heartbeats and the logins it made; a user it could do neither
// for (erased meanwhile) is counted in skipped.
func (k *Keeper) Beat(ctx context.Context) (beats, logins, skipped int, err error) {
	if k.sessions == nil {
		k.sessions = map[string]string{}
	}
	users := []string{Admin}
	for i, n := range demoNames {
		if activeNow(i + 1) {
			users = append(users, userID(i, n))
		}
	}
	for i, u := range users {
		sid, ok := k.sessions[u]
		if !ok {
			sid = fmt.Sprintf("demo-%s-0", u)
		}
		err := k.Store.RecordActivity(ctx, store.Activity{TenantID: k.Tenant, UserID: u, SessionID: sid, ClientID: "web"})
		switch code := pulse.ErrorCode(err); {
		case err == nil:
			beats++
			k.sessions[u] = sid
			continue
		case code != pulse.ECONFLICT && code != pulse.ENOTFOUND:
			return beats, logins, skipped, err
		}
		s, _, err := k.Store.CreateSession(ctx, store.NewSession{TenantID: k.Tenant, UserID: u, ClientID: "web",
			IP: fmt.Sprintf("203.0.113.%d", 1+i), Device: useragent.Parse(demoAgents[i%len(demoAgents)])})
		switch code := pulse.ErrorCode(err); {
		case err == nil:
			logins++
			k.sessions[u] = s.ID
		case code == pulse.ECONFLICT: // being erased
			skipped++
		default:
			return beats, logins, skipped, err
		}
	}
	return beats, logins, skipped, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
