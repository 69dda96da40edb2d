package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// The devices a user is remembered with are bounded, whatever the user does: past 20, the least
// recently seen is forgotten (and is new again when it comes back); the most recent stay known.
func TestDevicesAreBounded(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	db, table := ddbtest.New(t)
	s := store.New(db, store.Options{Table: table, Now: c.Now})
	login := func(browser string) *pulse.Session {
		t.Helper()
		ss, _, err := s.CreateSession(ctx, store.NewSession{TenantID: "acme", UserID: "u", ClientID: "web",
			Device: pulse.Device{Browser: browser, OS: "Linux"}, Location: pulse.Location{CountryCode: "US"}})
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	for i := range 25 {
		c.Add(24 * time.Hour) // a day apart: "least recently seen" counts in days
		if got := login(fmt.Sprintf("Browser %02d", i)); got.NewDevice != (i > 0) || got.NewLocation {
			t.Errorf("device %d: new_device %v new_location %v, want %v false", i, got.NewDevice, got.NewLocation, i > 0)
		}
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme#U#u"}, "sk": &types.AttributeValueMemberS{Value: "USER"}}})
	if err != nil {
		t.Fatal(err)
	}
	devices, _ := out.Item["devices"].(*types.AttributeValueMemberM)
	if devices == nil || len(devices.Value) != 20 {
		t.Fatalf("devices remembered: %v, want 20", out.Item["devices"])
	}
	c.Add(time.Hour)
	if !login("Browser 00").NewDevice {
		t.Error("the least recently seen device was not forgotten")
	}
	c.Add(time.Hour)
	if login("Browser 24").NewDevice {
		t.Error("the most recent device was forgotten")
	}
}

// A first session that told no device or country leaves nothing to compare with: the first
// session that does tell them is not "new" either, and the empty memory fails nothing.
func TestFirstKnownDeviceIsNotNew(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStore(t, c)
	for i, n := range []store.NewSession{
		{},
		{Device: pulse.Device{Browser: "Chrome", OS: "Linux"}, Location: pulse.Location{CountryCode: "US"}},
		{Device: pulse.Device{Browser: "Firefox", OS: "macOS"}, Location: pulse.Location{CountryCode: "FR"}},
	} {
		c.Add(time.Hour)
		n.TenantID, n.UserID, n.ClientID = "acme", "carol", "web"
		ss, _, err := s.CreateSession(ctx, n)
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		if want := i == 2; ss.NewDevice != want || ss.NewLocation != want {
			t.Errorf("login %d: new_device %v new_location %v, want %v", i, ss.NewDevice, ss.NewLocation, want)
		}
	}
}
