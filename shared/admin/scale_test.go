package admin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// importActive seeds n sessions active now (last activity a minute ago) for n users.
func importActive(t *testing.T, e *apptest.Env, n int) {
	t.Helper()
	now := e.Clock.Now()
	var users []pulse.User
	var sessions []*pulse.Session
	for i := range n {
		u := fmt.Sprintf("u%05d", i)
		users = append(users, pulse.User{TenantID: "acme", ID: u, Name: "User " + u, Type: "Member", CreatedAt: now, UpdatedAt: now})
		sessions = append(sessions, &pulse.Session{TenantID: "acme", UserID: u, ID: fmt.Sprintf("s%05d", i), Key: "K",
			ClientIDs: []string{"web"}, InitiatedAt: now.Add(-time.Hour + time.Duration(i)*time.Millisecond), LastActivity: now.Add(-time.Minute),
			ExpiresAt: now.Add(29 * time.Minute), HardExpires: now.Add(23 * time.Hour), IPAddress: "192.0.2.1",
			Device: pulse.Device{UserAgent: chromeUA, Browser: "Chrome", Version: "134.0.0.0", MajorVersion: 134, OS: "Linux"}})
	}
	if err := e.Deps.Store.Import(context.Background(), users, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
}

func pageCost(t *testing.T, e *apptest.Env, query string, want int) float64 {
	t.Helper()
	e.Meter.Reset()
	r := e.Do("GET", path+query, "", apptest.Key(e.Key)...)
	var got struct {
		Result []map[string]any `json:"result"`
	}
	r.JSON(t, &got)
	if len(got.Result) != want {
		t.Fatalf("%s: %d sessions, want %d", query, len(got.Result), want)
	}
	_, rcu, _ := e.Meter.Snapshot()
	return rcu
}

// A page costs its sessions (read by key, 0.5 RCU each) plus the Active index's keys (a
// fraction of an RCU per active session): not the sessions before it, whatever the offset.
func TestActivePageCostsItsPage(t *testing.T) {
	e := apptest.New(t)
	importActive(t, e, 2000)
	small := pageCost(t, e, "?limit=20", 20)
	deep := pageCost(t, e, "?limit=20&offset=1980", 20)
	large := pageCost(t, e, "?limit=1000&offset=500", 1000)
	t.Logf("2,000 active: page of 20 at offset 0: %.1f RCU, at offset 1,980: %.1f RCU; page of 1,000: %.1f RCU", small, deep, large)
	if deep > small+0.5 {
		t.Errorf("the page at offset 1,980 costs %.1f RCU, the first %.1f: want the same", deep, small)
	}
	// 980 more sessions read by key at 0.5 RCU each, give or take the rounding of batches.
	if grew := large - small; grew < 0.5*980-5 || grew > 0.5*980+5 {
		t.Errorf("1,000 sessions cost %.1f RCU more than 20: want about 490", grew)
	}
	few := apptest.New(t)
	importActive(t, few, 20)
	alone := pageCost(t, few, "?limit=20", 20)
	// The keys of 1,980 more active sessions: well under 0.03 RCU each.
	if small-alone > 1980*0.03 {
		t.Errorf("page of 20: %.1f RCU beside 2,000 active, %.1f beside 20: the keys cost more than 0.03 RCU each", small, alone)
	}
}

// The list shows the user's name and type from the session, and a rename reaches the user's
// live sessions at once.
func TestRenameReachesLiveSessions(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	e.Do("PUT", "/api/users/alice", `{"name":"Alice","type":"Member"}`, key...)
	login(t, e, "alice", "192.0.2.1", chromeUA)
	login(t, e, "alice", "192.0.2.2", chromeUA)
	e.Do("PUT", "/api/users/alice", `{"name":"Alice Liddell","type":"Admin"}`, key...)
	var got struct {
		Result []map[string]any `json:"result"`
	}
	e.Do("GET", path, "", key...).JSON(t, &got)
	if len(got.Result) != 2 {
		t.Fatalf("%d active, want 2", len(got.Result))
	}
	for _, s := range got.Result {
		if s["user.name"] != "Alice Liddell" || s["user.type"] != "Admin" {
			t.Errorf("after the rename: %v", s)
		}
	}
}
