package manage_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
)

// The tests of GET /api/sessions, the search of a tenant's active sessions, over HTTP through
// the Lambda adapter (each answer checked against openapi.yaml by apptest).

type searchAnswer struct {
	Sessions []struct {
		SessionID string  `json:"session_id"`
		UserID    string  `json:"user_id"`
		IPAddress string  `json:"ip_address"`
		NewDevice bool    `json:"new_device"`
		Status    string  `json:"status"`
		EndedAt   *int64  `json:"ended_at"`
		EndReason *string `json:"end_reason"`
	} `json:"sessions"`
	Next     *string `json:"next"`
	Examined int     `json:"examined"`
}

// search follows the cursors of the search q and returns the session IDs found, sorted.
func search(t *testing.T, e *apptest.Env, key, q string) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for range 100 {
		path := "/api/sessions?" + q
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.Do("GET", path, "", apptest.Key(key)...)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		var a searchAnswer
		r.JSON(t, &a)
		for _, s := range a.Sessions {
			if !slices.Contains(ids, s.SessionID) {
				ids = append(ids, s.SessionID)
			}
		}
		if a.Next == nil {
			slices.Sort(ids)
			return ids
		}
		cursor = *a.Next
	}
	t.Fatalf("search %s does not end", q)
	return nil
}

// searchFixture logs in 30 sessions S00–S29 of users u0–u9 (S00–S14 20 minutes before the rest, then a heartbeat each),
// every third from 198.51.100.0/24, the others from 203.0.113.0/24; revokes S01; and logs in
// G1 of the other tenant. ids lists the live sessions i for which keep(i).
func searchFixture(t *testing.T, e *apptest.Env) (ids func(keep func(i int) bool) []string) {
	t.Helper()
	for i := range 30 {
		if i == 15 {
			e.Clock.Add(20 * time.Minute)
		}
		ip := fmt.Sprintf("203.0.113.%d", i)
		if i%3 == 0 {
			ip = fmt.Sprintf("198.51.100.%d", i)
		}
		body := fmt.Sprintf(`{"client_id":"web","ip_address":%q,"session_id":"S%02d","user_agent":%q}`, ip, i, chromeUA)
		if r := e.Do("POST", fmt.Sprintf("/api/users/u%d/sessions", i%10), body, apptest.Key(e.Key)...); r.Status != 201 {
			t.Fatalf("login %d: %d %s", i, r.Status, r.Body)
		}
	}
	// Keep the first ones active: a heartbeat each.
	for i := range 15 {
		if r := e.Do("POST", fmt.Sprintf("/api/users/u%d/sessions/S%02d/activity", i%10, i), "", apptest.Key(e.Key)...); r.Status != 204 && i != 1 {
			t.Fatalf("heartbeat %d: %d %s", i, r.Status, r.Body)
		}
	}
	// One ended session, and one of another tenant from the same network: neither is found.
	if r := e.Do("DELETE", "/api/users/u1/sessions/S01", "", apptest.Key(e.Key)...); r.Status != 204 {
		t.Fatal(r.Status)
	}
	login(e, e.OKey, "u1", "G1")
	return func(keep func(i int) bool) []string {
		var out []string
		for i := range 30 {
			if i != 1 && keep(i) {
				out = append(out, fmt.Sprintf("S%02d", i))
			}
		}
		return out
	}
}

func TestSearchSessions(t *testing.T) {
	e := apptest.New(t)
	ids := searchFixture(t, e)
	late := e.Clock.Now().Add(-10 * time.Minute).Unix()
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"limit=4", ids(func(int) bool { return true })},
		{"ip=198.51.100.0/24&limit=3", ids(func(i int) bool { return i%3 == 0 })},
		{"ip=203.0.113.7", ids(func(i int) bool { return i == 7 })},
		{"user_id=u4", ids(func(i int) bool { return i%10 == 4 })},
		{"user_prefix=u", ids(func(int) bool { return true })},
		{"session_id=S13&browser=chrome&os=linux&client_id=web", ids(func(i int) bool { return i == 13 })},
		{"session_id=S01", nil},
		{"browser=Firefox", nil},
		{"session_id=S13&os=Windows", nil},
		{"new_device=false&user_id=u1", ids(func(i int) bool { return i%10 == 1 })},
		{fmt.Sprintf("started_after=%d&ip=198.51.100.0/24", late), ids(func(i int) bool { return i >= 15 && i%3 == 0 })},
	} {
		if got := search(t, e, e.Key, tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.q, got, tc.want)
		}
	}
	if got := search(t, e, e.OKey, "user_id=u1"); !slices.Equal(got, []string{"G1"}) {
		t.Errorf("the other tenant's search: %q, want only its own G1", got)
	}
	// Bad input is refused in the management surface's format, and an unknown filter is not
	// ignored (it would widen the search to everything).
	for _, tc := range []struct {
		q      string
		status int
		says   string
	}{
		{"ip=203.0.113.300", 422, "CIDR"},
		{"ip=", 422, "must not be empty"},
		{"countr=DE", 422, "is not a parameter of this route"},
		{"limit=0", 422, "between 1 and 100"},
		{"limit=101", 422, "between 1 and 100"},
		{"limit=ten", 400, "whole number"},
		{"limit=1&limit=2", 400, "may be given once"},
		{"new_device=yes", 422, "true or false"},
		{"user_id=" + strings.Repeat("x", 129), 422, "at most 128"},
		{"cursor=eyJiIjoxfQ", 400, "cursor"},
		{"cursor=%ZZ", 400, ""},
	} {
		r := e.Do("GET", "/api/sessions?"+tc.q, "", apptest.Key(e.Key)...)
		if r.Status != tc.status || !strings.Contains(string(r.Body), tc.says) || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s %s, want %d naming %q", tc.q, r.Status, r.Header.Get("Content-Type"), r.Body, tc.status, tc.says)
		}
	}
}

// status=ended searches the sessions whose end falls in a range: revoked ones at once, with
// their end; the range, the filters and the tenant bound it; the active search and the ended one
// never answer the same session; bad ranges are refused.
func TestSearchEndedSessions(t *testing.T) {
	e := apptest.New(t)
	searchFixture(t, e) // S01 revoked
	firstEnd := e.Clock.Now().Unix()
	e.Clock.Add(5 * time.Minute) // u4's sessions are still live
	if r := e.Do("DELETE", "/api/users/u4/sessions", "", apptest.Key(e.Key)...); r.Status != 204 {
		t.Fatalf("revoke-all of u4: %d %s", r.Status, r.Body)
	}
	later := e.Clock.Now().Unix()
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"status=ended", []string{"S01", "S04", "S14", "S24"}},
		{"status=ended&limit=1", []string{"S01", "S04", "S14", "S24"}},
		{fmt.Sprintf("status=ended&ended_after=%d", firstEnd+1), []string{"S04", "S14", "S24"}},
		{fmt.Sprintf("status=ended&ended_before=%d", later-1), []string{"S01"}},
		{fmt.Sprintf("status=ended&ended_after=%d&ended_before=%d", later, later), []string{"S04", "S14", "S24"}},
		{"status=ended&ip=198.51.100.0/24", []string{"S24"}},
		{"status=ended&user_id=u1", []string{"S01"}},
		{"status=active&user_id=u4", nil},
		{fmt.Sprintf("status=ended&ended_after=%d", later+1), nil},
	} {
		if got := search(t, e, e.Key, tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.q, got, tc.want)
		}
	}
	if got := search(t, e, e.OKey, "status=ended"); got != nil {
		t.Errorf("the other tenant's ended sessions: %q, want none", got)
	}
	r := e.Do("GET", "/api/sessions?status=ended&session_id=S14", "", apptest.Key(e.Key)...)
	var a searchAnswer
	r.JSON(t, &a)
	if len(a.Sessions) != 1 || a.Sessions[0].Status != "ended" || a.Sessions[0].EndedAt == nil || *a.Sessions[0].EndedAt != later ||
		a.Sessions[0].EndReason == nil || *a.Sessions[0].EndReason != "revoked" {
		t.Errorf("S14 ended: %s, want status ended, ended_at %d, end_reason revoked", r.Body, later)
	}
	r = e.Do("GET", "/api/sessions?session_id=S13", "", apptest.Key(e.Key)...)
	a = searchAnswer{}
	r.JSON(t, &a)
	if len(a.Sessions) != 1 || a.Sessions[0].Status != "active" || a.Sessions[0].EndedAt != nil || a.Sessions[0].EndReason != nil {
		t.Errorf("S13 active: %s, want status active, ended_at and end_reason null", r.Body)
	}
	active := e.Do("GET", "/api/sessions?limit=1", "", apptest.Key(e.Key)...)
	var first searchAnswer
	active.JSON(t, &first)
	if first.Next == nil {
		t.Fatalf("an active search of limit 1 gave no cursor: %s", active.Body)
	}
	for _, tc := range []struct {
		method, q string
		status    int
		says      string
	}{
		{"GET", "status=idle", 422, "active or ended"},
		{"GET", "ended_after=1", 422, "status=ended"},
		{"GET", "status=active&ended_before=1", 422, "status=ended"},
		{"GET", "status=ended&ended_after=soon", 422, "Unix seconds"},
		{"GET", "status=ended&ended_after=20&ended_before=10", 422, "not be before ended_after"},
		{"GET", "status=ended&cursor=" + url.QueryEscape(*first.Next), 400, "cursor"},
		{"POST", "status=ended&user_id=u1", 422, "is not a parameter of this route"},
	} {
		path := "/api/sessions?" + tc.q
		if tc.method == "POST" {
			path = "/api/sessions/revoke?" + tc.q
		}
		r := e.Do(tc.method, path, "", apptest.Key(e.Key)...)
		if r.Status != tc.status || !strings.Contains(string(r.Body), tc.says) || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %s, want %d naming %q", tc.method, tc.q, r.Status, r.Body, tc.status, tc.says)
		}
	}
}

// A revoke by filter: a dry run counts without changing anything; the revoke, step by step,
// ends exactly the matching sessions (reason revoked), nobody else's and no other tenant's; a
// step repeated with its cursor ends nothing more; a revoke without a filter is refused.
func TestRevokeMatching(t *testing.T) {
	e := apptest.New(t)
	ids := searchFixture(t, e)
	late := e.Clock.Now().Add(-10 * time.Minute).Unix()
	filter := fmt.Sprintf("ip=198.51.100.0/24&started_after=%d", late)
	want := ids(func(i int) bool { return i >= 15 && i%3 == 0 })
	steps := func(q string) (matched, revoked int, cursors []string) {
		t.Helper()
		cursor := ""
		for range 50 {
			path := "/api/sessions/revoke?" + q
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			r := e.Do("POST", path, "", apptest.Key(e.Key)...)
			if r.Status != 200 {
				t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
			}
			var a struct {
				DryRun                     bool `json:"dry_run"`
				Matched, Revoked, Examined int
				Next                       *string
			}
			r.JSON(t, &a)
			matched += a.Matched
			revoked += a.Revoked
			cursors = append(cursors, cursor)
			if a.Next == nil {
				return matched, revoked, cursors
			}
			cursor = *a.Next
		}
		t.Fatalf("%s does not end", q)
		return
	}
	all := search(t, e, e.Key, "user_prefix=u")
	if m, rv, _ := steps(filter + "&dry_run=true&limit=2"); m != len(want) || rv != 0 {
		t.Errorf("dry run: matched %d, revoked %d; want %d and 0", m, rv, len(want))
	}
	if got := search(t, e, e.Key, "user_prefix=u"); !slices.Equal(got, all) {
		t.Errorf("the dry run changed the active sessions: %q, were %q", got, all)
	}
	m, rv, cursors := steps(filter + "&limit=2")
	if m != len(want) || rv != len(want) {
		t.Errorf("revoke: matched %d, revoked %d; want %d", m, rv, len(want))
	}
	left := search(t, e, e.Key, "user_prefix=u")
	for _, id := range all {
		if slices.Contains(left, id) == slices.Contains(want, id) {
			t.Errorf("session %s: active after the revoke = %v", id, slices.Contains(left, id))
		}
	}
	for _, id := range want {
		var n int
		fmt.Sscanf(id, "S%d", &n)
		r := e.Do("GET", fmt.Sprintf("/api/users/u%d/sessions/%s", n%10, id), "", apptest.Key(e.Key)...)
		var s struct {
			EndReason string `json:"end_reason"`
		}
		r.JSON(t, &s)
		if s.EndReason != "revoked" {
			t.Errorf("%s ended with reason %q, want revoked", id, s.EndReason)
		}
	}
	if got := search(t, e, e.OKey, "user_id=u1"); !slices.Equal(got, []string{"G1"}) {
		t.Errorf("the other tenant's session after the revoke: %q", got)
	}
	// A step repeated (as after a 503) finds only what is still live: nothing.
	for _, c := range cursors {
		path := "/api/sessions/revoke?" + filter + "&limit=2"
		if c != "" {
			path += "&cursor=" + url.QueryEscape(c)
		}
		if r := e.Do("POST", path, "", apptest.Key(e.Key)...); r.Status != 200 || !strings.Contains(string(r.Body), `"revoked":0`) {
			t.Errorf("the step at %q repeated: %d %s", c, r.Status, r.Body)
		}
	}
	if !strings.Contains(e.Logs.String(), `"msg":"sessions revoked by filter"`) {
		t.Error("no audit line for the revoke by filter")
	}
	for _, tc := range []struct{ q, says string }{
		{"", "at least one"},
		{"limit=5&dry_run=true", "at least one"},
		{"ip=198.51.100.0/24&dry_run=maybe", "true or false"},
		{"ip=198.51.100.0/24&started_after=-5", "Unix seconds"},
		{"ip=198.51.100.0/24&everything=1", "not a parameter"},
	} {
		r := e.Do("POST", "/api/sessions/revoke?"+tc.q, "", apptest.Key(e.Key)...)
		if r.Status != 422 || !strings.Contains(string(r.Body), tc.says) {
			t.Errorf("%q: %d %s, want 422 naming %q", tc.q, r.Status, r.Body, tc.says)
		}
	}
}
