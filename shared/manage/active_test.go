package manage_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/pulse"
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
		"initiated_at": float64(init.Unix()), "last_updated": float64(last.Unix())}
	if !reflect.DeepEqual(rows[0], want) {
		t.Errorf("row\n got %v\nwant %v", rows[0], want)
	}
}
