package engage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

const path = "/api/v1/engagement-dashboard/users/active-users"

// token creates user with roles and returns a personal access token of theirs.
func token(t *testing.T, e *apptest.Env, apiKey, user string, roles ...string) string {
	t.Helper()
	rb, _ := json.Marshal(roles)
	if r := e.Do("PUT", "/api/users/"+user, fmt.Sprintf(`{"name":%q,"type":"Member","roles":%s}`, user, rb), apptest.Key(apiKey)...); r.Status >= 300 {
		t.Fatalf("put user: %d %s", r.Status, r.Body)
	}
	r := e.Do("POST", "/api/users/"+user+"/tokens", `{"name":"dashboard"}`, apptest.Key(apiKey)...)
	if r.Status != 201 {
		t.Fatalf("create token: %d %s", r.Status, r.Body)
	}
	var tok struct {
		UserID    string `json:"userId"`
		AuthToken string `json:"authToken"`
	}
	r.JSON(t, &tok)
	if tok.UserID != user || len(tok.AuthToken) < 40 {
		t.Fatalf("token response %s", r.Body)
	}
	return tok.AuthToken
}

func as(user, tok string) []string { return []string{"X-User-Id", user, "X-Auth-Token", tok} }

const (
	loggedOut    = `{"status":"error","message":"You must be logged in to do this.","success":false,"error":"You must be logged in to do this."}` + "\n"
	noPermission = `{"success":false,"error":"User does not have the permissions required for this action [error-unauthorized]"}` + "\n"
	missingStart = `{"success":false,"error":"Match error: Missing key 'start'"}` + "\n"
	missingEnd   = `{"success":false,"error":"Match error: Missing key 'end'"}` + "\n"
	badStart     = `{"success":false,"error":"Match error: Failed Match.Where validation in field start"}` + "\n"
	badEnd       = `{"success":false,"error":"Match error: Failed Match.Where validation in field end"}` + "\n"
	empty        = `{"month":[],"success":true}` + "\n"
)

func TestChecksInOrder(t *testing.T) {
	e := apptest.New(t)
	admin := token(t, e, e.Key, "2tTEqR7ZNMJ4HGGNa", "admin")
	plain := token(t, e, e.Key, "plain", "member")
	foreign := token(t, e, e.OKey, "2tTEqR7ZNMJ4HGGNa", "admin") // same user ID, other tenant
	ok := "?start=2023-10-05T14:48:00.000Z&end=2023-10-06T14:48:00.000Z"
	for _, tc := range []struct {
		name    string
		query   string
		headers []string
		status  int
		body    string
	}{
		{"no headers", ok, nil, 401, loggedOut},
		{"no headers and no parameters", "", nil, 401, loggedOut},
		{"token without user id", ok, []string{"X-Auth-Token", admin}, 401, loggedOut},
		{"user id without token", ok, []string{"X-User-Id", "2tTEqR7ZNMJ4HGGNa"}, 401, loggedOut},
		{"unknown token", ok, as("2tTEqR7ZNMJ4HGGNa", "nope"), 401, loggedOut},
		{"token of another user", ok, as("plain", admin), 401, loggedOut},
		{"user id with key characters", ok, as("a#b", admin), 401, loggedOut},
		{"token sent twice", ok, append(as("2tTEqR7ZNMJ4HGGNa", admin), "X-Auth-Token", admin), 401, loggedOut},
		{"API key is not a login", ok, apptest.Key(e.Key), 401, loggedOut},
		{"no permission", ok, as("plain", plain), 403, noPermission},
		{"no permission, bad parameters", "?start=x", as("plain", plain), 403, noPermission},
		{"missing start", "?end=2023-10-06T14:48:00.000Z", as("2tTEqR7ZNMJ4HGGNa", admin), 400, missingStart},
		{"missing both", "", as("2tTEqR7ZNMJ4HGGNa", admin), 400, missingStart},
		{"missing end", "?start=2023-10-05T14:48:00.000Z", as("2tTEqR7ZNMJ4HGGNa", admin), 400, missingEnd},
		{"invalid start", "?start=invalid-date&end=2023-10-06T14:48:00.000Z", as("2tTEqR7ZNMJ4HGGNa", admin), 400, badStart},
		{"start without milliseconds", "?start=2023-10-05T14:48:00Z&end=2023-10-06T14:48:00.000Z", as("2tTEqR7ZNMJ4HGGNa", admin), 400, badStart},
		{"start not a real date", "?start=2023-02-30T14:48:00.000Z&end=2023-10-06T14:48:00.000Z", as("2tTEqR7ZNMJ4HGGNa", admin), 400, badStart},
		{"start with offset", "?start=2023-10-05T14:48:00.000%2B00:00&end=2023-10-06T14:48:00.000Z", as("2tTEqR7ZNMJ4HGGNa", admin), 400, badStart},
		{"start date only", "?start=2023-10-05&end=2023-10-06T14:48:00.000Z", as("2tTEqR7ZNMJ4HGGNa", admin), 400, badStart},
		{"start hour 24", "?start=2023-10-05T24:00:00.000Z&end=2023-10-06T14:48:00.000Z", as("2tTEqR7ZNMJ4HGGNa", admin), 400, badStart},
		{"start twice", "?start=2023-10-05T14:48:00.000Z&start=2023-10-05T14:48:00.000Z&end=2023-10-06T14:48:00.000Z", as("2tTEqR7ZNMJ4HGGNa", admin), 400, badStart},
		{"invalid start and missing end", "?start=nope", as("2tTEqR7ZNMJ4HGGNa", admin), 400, badStart},
		{"bad end only", "?start=2023-10-05T14:48:00.000Z&end=2023-10-06", as("2tTEqR7ZNMJ4HGGNa", admin), 400, badEnd},
		{"start after end", "?start=2023-10-06T14:48:00.000Z&end=2023-10-05T14:48:00.000Z", as("2tTEqR7ZNMJ4HGGNa", admin), 200, empty},
		{"other tenant's admin sees its own (empty) tenant", ok, as("2tTEqR7ZNMJ4HGGNa", foreign), 200, empty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.For(t)
			r := e.Do("GET", path+tc.query, "", tc.headers...)
			if r.Status != tc.status || string(r.Body) != tc.body {
				t.Errorf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.body)
			}
		})
	}
}

func TestGrantedRoleAndRevokedToken(t *testing.T) {
	e := apptest.New(t)
	tok := token(t, e, e.Key, "ana", "analyst")
	q := "?start=2026-03-01T00:00:00.000Z&end=2026-03-10T00:00:00.000Z"
	if r := e.Do("GET", path+q, "", as("ana", tok)...); r.Status != 403 {
		t.Fatalf("before the grant: %d, want 403", r.Status)
	}
	if err := e.Deps.Store.Grant(context.Background(), "acme", "analyst", pulse.PermViewEngagement); err != nil {
		t.Fatal(err)
	}
	e.Clock.Add(2 * time.Minute) // the tenant cache holds grants for a minute
	if r := e.Do("GET", path+q, "", as("ana", tok)...); r.Status != 200 {
		t.Fatalf("after the grant: %d %s, want 200", r.Status, r.Body)
	}
	if r := e.Do("DELETE", "/api/users/ana/tokens/dashboard", "", apptest.Key(e.Key)...); r.Status != 204 {
		t.Fatalf("revoke token: %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", path+q, "", as("ana", tok)...); r.Status != 401 {
		t.Errorf("revoked token: %d, want 401 at once", r.Status)
	}
}

// The spec's example, reproduced from the activity it describes: same days, newest first,
// same users per day, users == len(usersList). (The order within a day's usersList is not
// specified; Pulse sorts by user ID.)
func TestSpecExample(t *testing.T) {
	e := apptest.New(t)
	admin := token(t, e, e.Key, "2tTEqR7ZNMJ4HGGNa", "admin")
	data, err := os.ReadFile("testdata/engagement-active-users.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Month []struct {
			UsersList []string `json:"usersList"`
			Users     int      `json:"users"`
			Day       int      `json:"day"`
			Month     int      `json:"month"`
			Year      int      `json:"year"`
		} `json:"month"`
		Success bool `json:"success"`
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	e.Clock.Set(time.Date(2023, 5, 6, 12, 0, 0, 0, time.UTC))
	byUser := map[string][]string{}
	for _, d := range spec.Month {
		for _, u := range d.UsersList {
			byUser[u] = append(byUser[u], fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day))
		}
	}
	if err := e.Deps.Store.LoadHistory(context.Background(), "acme", byUser, nil); err != nil {
		t.Fatal(err)
	}
	r := e.Do("GET", path+"?start=2023-04-15T00:00:00.000Z&end=2023-05-05T23:59:59.999Z", "", as("2tTEqR7ZNMJ4HGGNa", admin)...)
	var got, want map[string]any
	r.JSON(t, &got)
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]any{got, want} {
		for _, d := range m["month"].([]any) {
			l := d.(map[string]any)["usersList"].([]any)
			sort.Slice(l, func(i, j int) bool { return l[i].(string) < l[j].(string) })
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %s\nwant the spec's example", r.Body)
	}
	wantPrefix := `{"month":[{"usersList":["rYhzFRd2QZjNwAAXX"],"users":1,"day":5,"month":5,"year":2023},`
	if string(r.Body[:len(wantPrefix)]) != wantPrefix {
		t.Errorf("body starts %s, want %s (the spec's key order)", r.Body[:len(wantPrefix)], wantPrefix)
	}
}

// Activity across a month boundary and today (which counts), counted by calendar day in the
// tenant's time zone, each user once a day however many sessions they had.
func TestDaysAcrossMonthsAndZones(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if _, err := e.Deps.Store.CreateTenant(ctx, pulse.Tenant{ID: "nyc", Name: "NYC", TimeZone: "America/New_York"}); err != nil {
		t.Fatal(err)
	}
	nycKey := e.NewTenant("nyc", pulse.AllScopes...)
	for _, tenant := range []struct{ key, admin string }{{e.Key, "boss"}, {nycKey, "boss"}} {
		tok := token(t, e, tenant.key, tenant.admin, "admin")
		e.Clock.Set(time.Date(2026, 2, 28, 23, 30, 0, 0, time.UTC))
		for _, u := range []string{"u1", "u2", "u1"} { // u1 twice: counted once
			if r := e.Do("POST", "/api/users/"+u+"/sessions", `{"client_id":"web"}`, apptest.Key(tenant.key)...); r.Status != 201 {
				t.Fatal(r.Status)
			}
		}
		e.Clock.Set(time.Date(2026, 3, 1, 4, 30, 0, 0, time.UTC)) // 23:30 on Feb 28 in New York
		if r := e.Do("POST", "/api/users/u3/sessions", `{"client_id":"web"}`, apptest.Key(tenant.key)...); r.Status != 201 {
			t.Fatal(r.Status)
		}
		r := e.Do("GET", path+"?start=2026-02-27T00:00:00.000Z&end=2026-03-01T10:00:00.000Z", "", as(tenant.admin, tok)...)
		var got struct {
			Month []struct {
				UsersList []string
				Users     int
				Day       int
				Month     int
			}
		}
		r.JSON(t, &got)
		var summary []string
		for _, d := range got.Month {
			if d.Users != len(d.UsersList) {
				t.Errorf("users %d != len(usersList) %d", d.Users, len(d.UsersList))
			}
			summary = append(summary, fmt.Sprintf("%d/%d:%v", d.Month, d.Day, d.UsersList))
		}
		want := []string{"3/1:[u3]", "2/28:[u1 u2]"} // UTC: today, Mar 1, counts
		if tenant.key == nycKey {
			// New York: 23:30 UTC on Feb 28 is 18:30 there; 04:30 UTC on Mar 1 is still Feb 28.
			// The range's ends are local days too: Feb 26 19:00 to Mar 1 05:00.
			want = []string{"2/28:[u1 u2 u3]"}
		}
		if !reflect.DeepEqual(summary, want) {
			t.Errorf("tenant %s: days %v, want %v", map[bool]string{true: "nyc", false: "acme"}[tenant.key == nycKey], summary, want)
		}
	}
}

// A 7-day query over a year of history for 200 users costs within 1.5 × what the same 7 days
// cost alone, + 1 RCU per month touched. The users are active every day of the last 60 (the
// month read, and the two before it, which a time zone's edges come nearest), then once a week
// back to a year: a query that read those older months would read 44 days of 200 users beside
// the range's 7, and loading them weekly rather than daily keeps the load at 20,800 user-days
// instead of 73,000 (which took most of this package's time in CI).
func TestCostGrowsWithUserDaysInRange(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a year of history")
	}
	end := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	measure := func(historyDays int) float64 {
		e := apptest.New(t)
		e.Clock.Set(end)
		admin := token(t, e, e.Key, "boss", "admin")
		all := map[string][]string{}
		for u := range 200 {
			days := make([]string, 0, historyDays)
			for d := range historyDays {
				if d < 60 || d%7 == 0 {
					days = append(days, end.AddDate(0, 0, -d).Format(time.DateOnly))
				}
			}
			all[fmt.Sprintf("user%03d", u)] = days
		}
		if err := e.Deps.Store.LoadHistory(context.Background(), "acme", all, nil); err != nil {
			t.Fatal(err)
		}
		e.Meter.Reset()
		// Mar 1 to Mar 7: one month touched.
		r := e.Do("GET", path+"?start=2026-03-01T00:00:00.000Z&end=2026-03-07T23:59:59.999Z", "", as("boss", admin)...)
		var got struct {
			Month []struct{ Users int }
		}
		r.JSON(t, &got)
		if len(got.Month) != 7 || got.Month[0].Users != 200 {
			t.Fatalf("with %d days of history: %s", historyDays, r.Body[:min(200, len(r.Body))])
		}
		_, rcu, _ := e.Meter.Snapshot()
		return rcu
	}
	alone, year := measure(10), measure(365)
	t.Logf("7 days × 200 users: %.1f RCU with 10 days of history, %.1f RCU with a year", alone, year)
	apptest.CostBounded(t, alone, year, "over a year of history")
}
