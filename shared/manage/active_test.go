package manage_test

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// A row of GET /api/sessions/active shows every field of its session: the list reads only the
// attributes its rows show (store.ActiveSessions), so a field read from an attribute it no
// longer asks for would come back empty, and this test names it.
func TestActiveListRowShowsEveryField(t *testing.T) {
	e := apptest.New(t)
	now := e.Clock.Now()
	p := e.Deps.Config.Policy
	init, last := now.Add(-10*time.Minute), now.Add(-time.Minute)
	s := &pulse.Session{TenantID: "acme", UserID: "u1", ID: "s1", Key: "K", ClientIDs: []string{"mobile", "web"},
		InitiatedAt: init, LastActivity: last, ExpiresAt: p.Expiry(last, init.Add(p.MaxLifetime)), HardExpires: init.Add(p.MaxLifetime),
		IPAddress: "192.0.2.7", Device: pulse.Device{UserAgent: "Mozilla/5.0 Firefox/133.0", Browser: "Firefox", Version: "133.0", MajorVersion: 133, OS: "Windows"},
		Location: pulse.Location{CountryCode: "DE", Country: "Germany", City: "Berlin", Continent: "Europe", Latitude: "52.52", Longitude: "13.40"}}
	u := pulse.User{TenantID: "acme", ID: "u1", Name: "Ada", Type: "Admin", CreatedAt: init, UpdatedAt: init}
	if err := e.Deps.Store.Import(context.Background(), []pulse.User{u}, []*pulse.Session{s}, time.UTC); err != nil {
		t.Fatal(err)
	}
	r := e.Do("GET", "/api/sessions/active", "", apptest.Key(e.Key)...)
	var rows []map[string]any
	r.JSON(t, &rows)
	if r.Status != 200 || len(rows) != 1 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	want := map[string]any{"session_id": "s1", "user_id": "u1", "user_name": "Ada", "user_type": "Admin",
		"browser": "Firefox", "browser_version": "133.0", "os": "Windows", "country": "Germany", "city": "Berlin",
		"ip_address": "192.0.2.7", "client_ids": []any{"mobile", "web"},
		"initiated_at": float64(init.Unix()), "last_updated": float64(last.Unix()),
		"status": "active", "ended_at": nil, "end_reason": nil}
	if !reflect.DeepEqual(rows[0], want) {
		t.Errorf("row\n got %v\nwant %v", rows[0], want)
	}
}

// From store.SnapshotFrom active sessions the list pages the scheduled run's snapshot: a session
// revoked since is still a row, counted, and says it ended, when and why (the dashboard shows
// that instead of a revoke button); the next run's snapshot leaves it out.
func TestActiveListShowsWhatEndedSinceItsSnapshot(t *testing.T) {
	e := apptest.New(t)
	now := e.Clock.Now()
	p := e.Deps.Config.Policy
	n := store.SnapshotFrom + 10 // still a snapshot's after one ends
	var sessions []*pulse.Session
	for i := range n {
		init, last := now.Add(-time.Hour+time.Duration(i)*time.Second), now.Add(-time.Minute)
		sessions = append(sessions, &pulse.Session{TenantID: "acme", UserID: fmt.Sprintf("u%04d", i), ID: fmt.Sprintf("s%04d", i), Key: "K",
			ClientIDs: []string{"web"}, InitiatedAt: init, LastActivity: last, ExpiresAt: p.Expiry(last, init.Add(p.MaxLifetime)), HardExpires: init.Add(p.MaxLifetime)})
	}
	if err := e.Deps.Store.Import(context.Background(), nil, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
	take := func() {
		t.Helper()
		if took, _, err := e.Deps.Store.TakeActiveSnapshots(context.Background(), func() bool { return false }); err != nil || took != 1 {
			t.Fatalf("the run took %d snapshots, %v; want the tenant's", took, err)
		}
	}
	take()
	e.Clock.Add(time.Minute)
	if r := e.Do("DELETE", "/api/users/u0007/sessions/s0007", "", apptest.Key(e.Key)...); r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	list := func() (map[string]map[string]any, string) {
		t.Helper()
		byID := map[string]map[string]any{}
		total := ""
		for _, offset := range []string{"0", "1000"} {
			r := e.Do("GET", "/api/sessions/active?limit=1000&offset="+offset, "", apptest.Key(e.Key)...)
			var rows []map[string]any
			r.JSON(t, &rows)
			for _, row := range rows {
				byID[row["session_id"].(string)] = row
			}
			if total != "" && r.Header.Get("X-Total-Count") != total {
				t.Fatalf("X-Total-Count %s, then %s", total, r.Header.Get("X-Total-Count"))
			}
			total = r.Header.Get("X-Total-Count")
		}
		return byID, total
	}
	rows, total := list()
	revoked := rows["s0007"]
	if total != strconv.Itoa(n) || len(rows) != n || revoked == nil {
		t.Fatalf("from the snapshot: %d rows, X-Total-Count %s, the revoked session listed %v; want %d, %d, listed", len(rows), total, revoked != nil, n, n)
	}
	if revoked["status"] != "ended" || revoked["end_reason"] != "revoked" || revoked["ended_at"] != float64(e.Clock.Now().Unix()) {
		t.Errorf("the session revoked since the snapshot: %v; want it ended, revoked, now", revoked)
	}
	if other := rows["s0008"]; other["status"] != "active" || other["ended_at"] != nil || other["end_reason"] != nil {
		t.Errorf("a session still active: %v", other)
	}
	take()
	if rows, total = list(); total != strconv.Itoa(n-1) || len(rows) != n-1 || rows["s0007"] != nil {
		t.Errorf("from the next snapshot: %d rows, X-Total-Count %s, the revoked session listed %v; want %d, %d, not listed", len(rows), total, rows["s0007"] != nil, n-1, n-1)
	}
}
