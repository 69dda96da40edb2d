package manage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

type page struct {
	PageSize    int  `json:"page_size"`
	CurrentPage int  `json:"current_page"`
	TotalCount  int  `json:"total_count"`
	HasPrevious bool `json:"has_previous"`
	HasNext     bool `json:"has_next"`
}

func listOf(t *testing.T, e *apptest.Env, query string) ([]map[string]any, page) {
	t.Helper()
	return listOfUser(t, e, "alice", query)
}

func listOfUser(t *testing.T, e *apptest.Env, user, query string) ([]map[string]any, page) {
	t.Helper()
	r := e.Do("GET", "/api/users/"+user+"/sessions"+query, "", apptest.Key(e.Key)...)
	if r.Status != 200 {
		t.Fatalf("list%s: %d %s", query, r.Status, r.Body)
	}
	var body []map[string]any
	r.JSON(t, &body)
	var p page
	if err := json.Unmarshal([]byte(r.Header.Get("X-Pagination")), &p); err != nil {
		t.Fatalf("X-Pagination %q: %v", r.Header.Get("X-Pagination"), err)
	}
	return body, p
}

func ids(list []map[string]any) string {
	var out []string
	for _, s := range list {
		out = append(out, s["session_id"].(string))
	}
	return strings.Join(out, ",")
}

func TestListSessions(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	// S0..S11, a second apart; S2 revoked; odd ones also used by the "mobile" client.
	for i := range 12 {
		body := fmt.Sprintf(`{"client_id":"web","session_id":"S%02d"}`, i)
		if r := e.Do("POST", "/api/users/alice/sessions", body, key...); r.Status != 201 {
			t.Fatal(r.Status)
		}
		if i%2 == 1 {
			e.Do("POST", fmt.Sprintf("/api/users/alice/sessions/S%02d/activity", i), `{"client_id":"mobile"}`, key...)
		}
		e.Clock.Add(time.Second)
	}
	e.Do("DELETE", "/api/users/alice/sessions/S02", "", key...)
	e.Clock.Add(time.Minute)                                           // past ACTIVITY_RESOLUTION: the heartbeat is written
	e.Do("POST", "/api/users/alice/sessions/S01/activity", "", key...) // S01 is now the latest active

	list, p := listOf(t, e, "")
	if want := (page{10, 1, 11, false, true}); p != want {
		t.Errorf("default X-Pagination %+v, want %+v", p, want)
	}
	if got := ids(list); got != "S11,S10,S09,S08,S07,S06,S05,S04,S03,S01" {
		t.Errorf("default order (initiated_at:-1, active only): %s", got)
	}
	list, p = listOf(t, e, "?page=2&size=10")
	if ids(list) != "S00" || p != (page{10, 2, 11, true, false}) {
		t.Errorf("page 2: %s %+v", ids(list), p)
	}
	list, p = listOf(t, e, "?page=5")
	if len(list) != 0 || p != (page{10, 5, 11, true, false}) {
		t.Errorf("past the end: %s %+v", ids(list), p)
	}
	list, _ = listOf(t, e, "?sort=session_id:1&size=3")
	if ids(list) != "S00,S01,S03" {
		t.Errorf("session_id:1: %s", ids(list))
	}
	list, _ = listOf(t, e, "?sort=last_updated:-1&size=2")
	if ids(list) != "S01,S11" {
		t.Errorf("last_updated:-1: %s", ids(list))
	}
	list, _ = listOf(t, e, "?sort=expires_at:1&size=2")
	if ids(list) != "S00,S03" { // S01's heartbeat slid its expiry
		t.Errorf("expires_at:1: %s", ids(list))
	}
	list, p = listOf(t, e, "?client_id=mobile&sort=initiated_at:1")
	if ids(list) != "S01,S03,S05,S07,S09,S11" || p.TotalCount != 6 {
		t.Errorf("client_id=mobile: %s (%d)", ids(list), p.TotalCount)
	}
	list, _ = listOf(t, e, "?status=ended")
	if ids(list) != "S02" || list[0]["end_reason"] != "revoked" {
		t.Errorf("status=ended: %v", list)
	}
	if _, p = listOf(t, e, "?status=all&size=100"); p.TotalCount != 12 {
		t.Errorf("status=all: %d sessions, want 12", p.TotalCount)
	}
	e.Clock.Add(e.Deps.Config.Policy.IdleTimeout)
	list, _ = listOf(t, e, "?status=all&size=100&sort=session_id:1")
	if len(list) != 12 || list[0]["end_reason"] != "idle" || list[2]["end_reason"] != "revoked" {
		t.Errorf("after the idle timeout every session reads as ended (idle), before any cleanup: %d, %v", len(list), list[0]["end_reason"])
	}
	// Until the cleanup records those ends, status=ended lists what its total counts (the ends
	// recorded), whichever the sort: the rows and total_count agree.
	for _, sort := range []string{"session_id:1", "initiated_at:1", "last_updated:1"} {
		if list, p := listOf(t, e, "?status=ended&size=100&sort="+sort); ids(list) != "S02" || p.TotalCount != 1 {
			t.Errorf("status=ended by %s before the cleanup: %s, total_count %d; want S02, 1", sort, ids(list), p.TotalCount)
		}
	}
	if _, err := e.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	list, p = listOf(t, e, "?status=ended&size=100&sort=session_id:1")
	if len(list) != 12 || p.TotalCount != 12 || list[0]["end_reason"] != "idle" {
		t.Errorf("after the cleanup every session is ended (idle): %d (total_count %d), %v", len(list), p.TotalCount, list[0]["end_reason"])
	}
	if list, _ := listOf(t, e, ""); len(list) != 0 {
		t.Errorf("active after the idle timeout: %s", ids(list))
	}
}

func TestListSessionsBadInput(t *testing.T) {
	e := apptest.New(t)
	e.Do("POST", "/api/users/alice/sessions", `{"client_id":"web"}`, apptest.Key(e.Key)...)
	for _, tc := range []struct {
		query  string
		status int
		field  string
	}{
		{"?page=abc", 400, ""}, {"?size=1.5", 400, ""}, {"?page=", 400, ""}, {"?page=1&page=2", 400, ""},
		{"?sort=initiated_at", 400, ""}, {"?sort=initiated_at:up", 400, ""}, {"?sort=", 400, ""},
		{"?page=0", 422, "page"}, {"?page=-3", 422, "page"}, {"?size=0", 422, "size"}, {"?size=101", 422, "size"},
		{"?sort=name:1", 422, "sort"}, {"?sort=initiated_at:2", 422, "sort"}, {"?status=live", 422, "status"},
		{"?client_id=a%23b", 422, "client_id"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			e := e.For(t)
			r := e.Do("GET", "/api/users/alice/sessions"+tc.query, "", apptest.Key(e.Key)...)
			if r.Status != tc.status {
				t.Fatalf("%d %s, want %d", r.Status, r.Body, tc.status)
			}
			p := problemOf(t, r)
			if tc.field != "" {
				if errs, _ := p["errors"].(map[string]any); errs[tc.field] == nil {
					t.Errorf("errors %v do not name %s", p["errors"], tc.field)
				}
			}
		})
	}
	for _, tc := range []struct {
		name    string
		path    string
		headers []string
		status  int
	}{
		{"unknown user", "/api/users/bob/sessions", apptest.Key(e.Key), 404},
		{"another tenant's user", "/api/users/alice/sessions", apptest.Key(e.OKey), 404},
		{"no key", "/api/users/alice/sessions", nil, 401},
		{"no scope", "/api/users/alice/sessions", apptest.Key(e.NewTenant("acme", pulse.ScopeUsersRead)), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.For(t)
			if r := e.Do("GET", tc.path, "", tc.headers...); r.Status != tc.status {
				t.Errorf("%d %s, want %d", r.Status, r.Body, tc.status)
			}
		})
	}
}

// Page 1 (size 10) of a user with 500 sessions costs the same whether the tenant has 10 or
// 5,000 other users.
func TestListCostIgnoresOtherUsers(t *testing.T) {
	measure := func(others int) float64 {
		e := apptest.New(t)
		now := e.Clock.Now()
		mk := func(user string, i int) *pulse.Session {
			return &pulse.Session{TenantID: "acme", UserID: user, ID: fmt.Sprintf("%s-%04d", user, i), Key: strings.Repeat("A", 64),
				ClientIDs: []string{"web"}, InitiatedAt: now.Add(-time.Duration(i) * time.Minute), LastActivity: now,
				ExpiresAt: now.Add(30 * time.Minute), HardExpires: now.Add(time.Hour), IPAddress: "192.0.2.1",
				Device: pulse.Device{UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/134.0.0.0", Browser: "Chrome", Version: "134.0.0.0", MajorVersion: 134, OS: "Linux"}}
		}
		users := []pulse.User{{TenantID: "acme", ID: "alice", CreatedAt: now, UpdatedAt: now}}
		var sessions []*pulse.Session
		for i := range 500 {
			sessions = append(sessions, mk("alice", i))
		}
		for u := range others {
			id := fmt.Sprintf("other%05d", u)
			users = append(users, pulse.User{TenantID: "acme", ID: id, CreatedAt: now, UpdatedAt: now})
			sessions = append(sessions, mk(id, 0), mk(id, 1))
		}
		if err := e.Deps.Store.Import(context.Background(), users, sessions, time.UTC); err != nil {
			t.Fatal(err)
		}
		e.Meter.Reset()
		list, p := listOf(t, e, "?page=1&size=10")
		if len(list) != 10 || p.TotalCount != 500 {
			t.Fatalf("%d sessions of %d", len(list), p.TotalCount)
		}
		_, rcu, _ := e.Meter.Snapshot()
		return rcu
	}
	few, many := measure(10), measure(5000)
	t.Logf("page 1 of 500 sessions: %.1f RCU beside 10 other users, %.1f RCU beside 5,000", few, many)
	if few == 0 || few != many {
		t.Errorf("cost %.1f RCU beside 10 users, %.1f beside 5,000: want equal and non-zero", few, many)
	}
}

func TestTokens(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	if r := e.Do("POST", "/api/users/alice/tokens", `{"name":"dash"}`, key...); r.Status != 404 {
		t.Errorf("token for an unknown user: %d, want 404", r.Status)
	}
	e.Do("PUT", "/api/users/alice", `{"name":"Alice"}`, key...)
	items := e.Items()
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`{}`, 422}, {`{"name":""}`, 422}, {`{"name":"a#b"}`, 422}, {`{"name":5}`, 422},
		{`{"name":"x","expires_in":5}`, 422}, {`{"name":"x","expires_in":"soon"}`, 422}, {`{"name":`, 400},
	} {
		if r := e.Do("POST", "/api/users/alice/tokens", tc.body, key...); r.Status != tc.status {
			t.Errorf("POST tokens %s: %d %s, want %d", tc.body, r.Status, r.Body, tc.status)
		}
	}
	if e.Items() != items {
		t.Error("a refused token request wrote something")
	}
	r := e.Do("POST", "/api/users/alice/tokens", `{"name":"dash","expires_in":3600}`, key...)
	var body map[string]any
	r.JSON(t, &body)
	if r.Status != 201 || len(body) != 2 || body["userId"] != "alice" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create token: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", "/api/users/alice/tokens", `{"name":"dash"}`, key...); r.Status != 409 {
		t.Errorf("same name again: %d, want 409", r.Status)
	}
	if r := e.Do("DELETE", "/api/users/alice/tokens/dash", "", apptest.Key(e.OKey)...); r.Status != 404 {
		t.Errorf("revoke from another tenant: %d, want 404", r.Status)
	}
	if r := e.Do("DELETE", "/api/users/alice/tokens/dash", "", key...); r.Status != 204 {
		t.Errorf("revoke: %d, want 204", r.Status)
	}
	if r := e.Do("DELETE", "/api/users/alice/tokens/dash", "", key...); r.Status != 404 {
		t.Errorf("revoke again: %d, want 404", r.Status)
	}
	// Deleting the user deletes their tokens: nothing of alice is left.
	e.Do("POST", "/api/users/alice/tokens", `{"name":"other"}`, key...)
	sweep := func() {
		if _, err := e.Cleanup(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	sweep() // the scheduled function's own items (the rollups of ended days) first
	before := e.Items()
	e.Do("DELETE", "/api/users/alice", "", key...)
	// The tombstone stays until the scheduled sweep, a few minutes later.
	e.Clock.Add(10 * time.Minute)
	sweep()
	if got := e.Items(); got != before-3 { // profile, token reference, token
		t.Errorf("after deleting the user: %d items, want %d", got, before-3)
	}
}

// GET /api/users/{id}/tokens/{name} shows a token without its secret, and answers 404 for one
// of another tenant, one revoked, one expired (before TTL removes it) and one of a user being
// erased.
func TestGetToken(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	e.Do("PUT", "/api/users/alice", `{"name":"Alice"}`, key...)
	created := e.Do("POST", "/api/users/alice/tokens", `{"name":"dash","expires_in":3600}`, key...)
	var secret struct {
		AuthToken string `json:"authToken"`
	}
	created.JSON(t, &secret)
	e.Do("POST", "/api/users/alice/tokens", `{"name":"forever"}`, key...)
	r := e.Do("GET", "/api/users/alice/tokens/dash", "", key...)
	want := fmt.Sprintf(`{"name":"dash","user_id":"alice","created_at":%d,"expires_at":%d}`+"\n", apptest.Start.Unix(), apptest.Start.Add(time.Hour).Unix())
	if r.Status != 200 || string(r.Body) != want || strings.Contains(string(r.Body), secret.AuthToken) {
		t.Errorf("get token: %d %s, want %s", r.Status, r.Body, want)
	}
	if r := e.Do("GET", "/api/users/alice/tokens/forever", "", key...); r.Status != 200 || !strings.Contains(string(r.Body), `"expires_at":null`) {
		t.Errorf("a token without expiry: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct {
		name, path string
		headers    []string
	}{
		{"another tenant's", "/api/users/alice/tokens/dash", apptest.Key(e.OKey)},
		{"an unknown name", "/api/users/alice/tokens/nope", key},
		{"an unknown user", "/api/users/bob/tokens/dash", key},
	} {
		if r := e.Do("GET", tc.path, "", tc.headers...); r.Status != 404 {
			t.Errorf("%s: %d %s, want 404", tc.name, r.Status, r.Body)
		}
	}
	e.Clock.Add(time.Hour)
	if r := e.Do("GET", "/api/users/alice/tokens/dash", "", key...); r.Status != 404 {
		t.Errorf("expired: %d, want 404", r.Status)
	}
	e.Do("DELETE", "/api/users/alice/tokens/forever", "", key...)
	if r := e.Do("GET", "/api/users/alice/tokens/forever", "", key...); r.Status != 404 {
		t.Errorf("revoked: %d, want 404", r.Status)
	}
	e.Do("POST", "/api/users/alice/tokens", `{"name":"last"}`, key...)
	e.Do("DELETE", "/api/users/alice", "", key...)
	if r := e.Do("GET", "/api/users/alice/tokens/last", "", key...); r.Status != 404 {
		t.Errorf("a user being erased: %d, want 404", r.Status)
	}
}
