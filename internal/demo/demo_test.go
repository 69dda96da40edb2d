package demo_test

import (
	"context"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/internal/demo"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// The keeper keeps the demo's active users active: heartbeats while their sessions live, a new
// login for each whose session ended (make run stopped for hours), and the active list shows
// them all the while.
func TestKeeperKeepsTheDemoActive(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := demo.Seed(ctx, e.Deps.Store, e.Tenant, e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	active := func() int {
		t.Helper()
		page, err := e.Deps.Store.ActiveSessions(ctx, e.Tenant, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Sessions)
	}
	seeded := active()
	k := &demo.Keeper{Store: e.Deps.Store, Tenant: e.Tenant}
	beats, logins, skipped, err := k.Beat(ctx)
	if err != nil || beats != seeded || logins != 0 || skipped != 0 {
		t.Fatalf("first beat: %d beats, %d logins, %d skipped, %v; want a heartbeat for each of the %d active", beats, logins, skipped, err, seeded)
	}
	for range 10 { // ten minutes of make run: past the 5-minute active window
		e.Clock.Add(time.Minute)
		if _, _, _, err := k.Beat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := active(); n != seeded {
		t.Errorf("after 10 minutes: %d active, want %d", n, seeded)
	}
	e.Clock.Add(5 * time.Hour) // make run was stopped: every session has gone idle
	beats, logins, _, err = k.Beat(ctx)
	if err != nil || beats != 0 || logins != seeded {
		t.Errorf("after 5 hours: %d beats, %d logins, %v; want %d logins", beats, logins, err, seeded)
	}
	if n := active(); n != seeded {
		t.Errorf("after the new logins: %d active, want %d", n, seeded)
	}
}
