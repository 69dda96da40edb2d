package engage_test

import (
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
)

// The Users tab's other four calls check as active-users does: authentication, then the
// permission, then the parameters, each error in Rocket.Chat's words.
func TestUsersTabChecksInOrder(t *testing.T) {
	e := apptest.New(t)
	admin := token(t, e, e.Key, "boss", "admin")
	plain := token(t, e, e.Key, "plain", "member")
	const s, end = "start=2023-10-05T14:48:00.000Z", "end=2023-10-06T14:48:00.000Z"
	for _, p := range []struct {
		path    string
		withEnd bool
	}{
		{"/api/v1/engagement-dashboard/users/new-users", true},
		{"/api/v1/engagement-dashboard/users/users-by-time-of-the-day-in-a-week", true},
		{"/api/v1/engagement-dashboard/users/chat-busier/hourly-data", false},
		{"/api/v1/engagement-dashboard/users/chat-busier/weekly-data", false},
	} {
		ok := "?" + s
		if p.withEnd {
			ok += "&" + end
		}
		cases := []struct {
			name, query string
			headers     []string
			status      int
			body        string
		}{
			{"no headers", ok, nil, 401, loggedOut},
			{"unknown token", ok, as("boss", "nope"), 401, loggedOut},
			{"API key is not a login", ok, apptest.Key(e.Key), 401, loggedOut},
			{"no permission", ok, as("plain", plain), 403, noPermission},
			{"no permission, bad parameters", "?start=x", as("plain", plain), 403, noPermission},
			{"missing start", "?" + end, as("boss", admin), 400, missingStart},
			{"invalid start", "?start=2023-02-30T14:48:00.000Z&" + end, as("boss", admin), 400, badStart},
			{"start twice", "?" + s + "&" + s + "&" + end, as("boss", admin), 400, badStart},
		}
		if p.withEnd {
			cases = append(cases,
				struct {
					name, query string
					headers     []string
					status      int
					body        string
				}{"missing end", "?" + s, as("boss", admin), 400, missingEnd},
				struct {
					name, query string
					headers     []string
					status      int
					body        string
				}{"bad end", "?" + s + "&end=2023-10-06", as("boss", admin), 400, badEnd})
		}
		for _, tc := range cases {
			t.Run(p.path[len("/api/v1/engagement-dashboard/users/"):]+"/"+tc.name, func(t *testing.T) {
				e := e.For(t)
				r := e.Do("GET", p.path+tc.query, "", tc.headers...)
				if r.Status != tc.status || string(r.Body) != tc.body {
					t.Errorf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.body)
				}
			})
		}
	}
}

// Three users, worked out by hand. Times are UTC (the tenant's zone).
//
//	carol  created Mar 8 10:00 (PUT); a session Mar 10 09:15–10:15      hours Mar 10 09, 10
//	alice  created by her login Mar 9 22:30; active to Mar 10 00:30     hours Mar 9 22, 23; Mar 10 00
//	bob    created by his login Mar 9 23:05; active to 23:45            hour  Mar 9 23
func TestUsersTabByHand(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	e.Clock.Set(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	admin := as("boss", token(t, e, e.Key, "boss", "admin")) // created Mar 1: outside every range below
	at := func(h string) { e.Clock.Set(mustTime(t, h)) }
	login := func(user string) string {
		r := e.Do("POST", "/api/users/"+user+"/sessions", `{"client_id":"web"}`, key...)
		var s struct {
			SessionID string `json:"session_id"`
		}
		r.JSON(t, &s)
		if r.Status != 201 || s.SessionID == "" {
			t.Fatalf("login %s: %d %s", user, r.Status, r.Body)
		}
		return s.SessionID
	}
	beat := func(user, id string) {
		if r := e.Do("POST", "/api/users/"+user+"/sessions/"+id+"/activity", `{}`, key...); r.Status != 204 {
			t.Fatalf("heartbeat %s: %d %s", user, r.Status, r.Body)
		}
	}
	at("2026-03-08T10:00")
	if r := e.Do("PUT", "/api/users/carol", `{"name":"Carol"}`, key...); r.Status != 201 {
		t.Fatal(r.Status)
	}
	at("2026-03-09T22:30")
	a := login("alice")
	at("2026-03-09T22:50")
	beat("alice", a)
	at("2026-03-09T23:05")
	b := login("bob")
	for _, hm := range []string{"23:10", "23:25", "23:30", "23:45", "23:50"} {
		at("2026-03-09T" + hm)
		beat("alice", a)
		beat("bob", b)
	}
	for _, hm := range []string{"00:10", "00:30"} {
		at("2026-03-10T" + hm)
		beat("alice", a)
	}
	at("2026-03-10T09:15")
	c := login("carol")
	for _, hm := range []string{"09:35", "09:55", "10:15"} {
		at("2026-03-10T" + hm)
		beat("carol", c)
	}
	at("2026-03-10T12:00")
	const base = "/api/v1/engagement-dashboard/users/"
	for _, tc := range []struct{ path, want string }{
		{base + "new-users?start=2026-03-08T00:00:00.000Z&end=2026-03-10T23:59:59.999Z",
			// 3 days asked (2.99 whole days + 1); the period before, Mar 4–7, had none; the day
			// before end (Mar 9) had 2, end's day none.
			`{"days":[{"day":"2026-03-09T00:00:00.000Z","users":2},{"day":"2026-03-08T00:00:00.000Z","users":1}],` +
				`"period":{"count":3,"variation":3},"yesterday":{"count":2,"variation":-2},"success":true}`},
		{base + "chat-busier/weekly-data?start=2026-03-10T12:00:00.000Z",
			`{"month":[{"users":2,"day":10,"month":3,"year":2026},{"users":2,"day":9,"month":3,"year":2026}],"success":true}`},
		{base + "chat-busier/hourly-data?start=2026-03-10T12:00:00.000Z",
			// 22–23 is Mar 9's (alice, bob); 0–1, 8–9 and 10–11 are Mar 10's.
			`{"hours":[{"users":2,"hour":22},{"users":0,"hour":20},{"users":0,"hour":18},{"users":0,"hour":16},` +
				`{"users":0,"hour":14},{"users":0,"hour":12},{"users":1,"hour":10},{"users":1,"hour":8},{"users":0,"hour":6},` +
				`{"users":0,"hour":4},{"users":0,"hour":2},{"users":1,"hour":0}],"success":true}`},
		{base + "chat-busier/hourly-data?start=2026-03-01T12:00:00.000Z", `{"hours":[],"success":true}`},
		{base + "users-by-time-of-the-day-in-a-week?start=2026-03-09T00:00:00.000Z&end=2026-03-10T23:59:59.999Z",
			`{"week":[{"users":1,"hour":10,"day":10,"month":3,"year":2026},{"users":1,"hour":9,"day":10,"month":3,"year":2026},` +
				`{"users":1,"hour":0,"day":10,"month":3,"year":2026},{"users":2,"hour":23,"day":9,"month":3,"year":2026},` +
				`{"users":1,"hour":22,"day":9,"month":3,"year":2026}],"success":true}`},
	} {
		r := e.Do("GET", tc.path, "", admin...)
		if r.Status != 200 || string(r.Body) != tc.want+"\n" {
			t.Errorf("GET %s:\n%d %s\nwant\n%s", tc.path, r.Status, r.Body, tc.want)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02T15:04", s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
