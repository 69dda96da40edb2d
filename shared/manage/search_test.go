package manage_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/pulse-sessions/pulse/internal/apptest"
)

// The tests of GET /api/sessions, the search of a tenant's active sessions, over HTTP through
// the Lambda adapter (each answer checked against openapi.yaml by apptest).

type searchAnswer struct {
	Sessions []struct {
		SessionID string `json:"session_id"`
		UserID    string `json:"user_id"`
		IPAddress string `json:"ip_address"`
		NewDevice bool   `json:"new_device"`
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

func TestSearchSessions(t *testing.T) {
	e := apptest.New(t)
	for i := range 30 {
		ip := fmt.Sprintf("203.0.113.%d", i)
		if i%3 == 0 {
			ip = fmt.Sprintf("198.51.100.%d", i)
		}
		body := fmt.Sprintf(`{"client_id":"web","ip_address":%q,"session_id":"S%02d","user_agent":%q}`, ip, i, chromeUA)
		if r := e.Do("POST", fmt.Sprintf("/api/users/u%d/sessions", i%10), body, apptest.Key(e.Key)...); r.Status != 201 {
			t.Fatalf("login %d: %d %s", i, r.Status, r.Body)
		}
	}
	// One ended session, and one of another tenant from the same network: neither is found.
	if r := e.Do("DELETE", "/api/users/u1/sessions/S01", "", apptest.Key(e.Key)...); r.Status != 204 {
		t.Fatal(r.Status)
	}
	login(e, e.OKey, "u1", "G1")
	ids := func(keep func(i int) bool) []string {
		var out []string
		for i := range 30 {
			if i != 1 && keep(i) {
				out = append(out, fmt.Sprintf("S%02d", i))
			}
		}
		return out
	}
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
		{"countr=DE", 422, "is not a filter of this search"},
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
