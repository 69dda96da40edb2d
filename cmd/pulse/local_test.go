package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/internal/template"
	"github.com/pulse-sessions/pulse/shared/boot"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

func load(t *testing.T) *template.Template {
	t.Helper()
	tpl, _, err := template.Repo()
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

// make run runs the schedule the template declares, or what the environment says.
func TestCleanupEvery(t *testing.T) {
	tpl := load(t)
	for _, tc := range []struct {
		env  map[string]string
		want time.Duration
	}{
		{nil, 5 * time.Minute}, // the template's default, rate(5 minutes)
		{map[string]string{"CLEANUP_SCHEDULE": "rate(1 hour)"}, time.Hour},
		{map[string]string{"CLEANUP_SCHEDULE": "rate(1 minute)"}, time.Minute},
		{map[string]string{"PULSE_CLEANUP_EVERY": "20s", "CLEANUP_SCHEDULE": "rate(1 hour)"}, 20 * time.Second},
	} {
		if got, err := cleanupEvery(tpl, env(tc.env)); err != nil || got != tc.want {
			t.Errorf("%v: %s, %v; want %s", tc.env, got, err, tc.want)
		}
	}
	for _, bad := range []map[string]string{{"CLEANUP_SCHEDULE": "rate(5 minute)"}, {"CLEANUP_SCHEDULE": "cron(0 * * * ? *)"}, {"PULSE_CLEANUP_EVERY": "soon"}} {
		if _, err := cleanupEvery(tpl, env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// Every variable the template gives the functions can be set for make run by its own name;
// the functions' configuration reads them (the session cap and its policy, the origin secret).
func TestLocalSettingsFromEnvironment(t *testing.T) {
	tpl := load(t)
	got, err := localSettings(tpl, "Pulse", env(map[string]string{"MAX_SESSIONS_PER_USER": "7", "SESSION_LIMIT_POLICY": "refuse",
		"BEHIND_CLOUDFRONT": "true", "ORIGIN_SECRET": "0123456789abcdef0123456789abcdef", "TABLE_NAME": "ignored"}))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := boot.LoadConfig(func(k string) string { return got[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Policy.MaxPerUser != 7 || cfg.Policy.LimitPolicy != pulse.LimitRefuse || cfg.OriginSecret == "" || cfg.Table != "Pulse" {
		t.Errorf("config %+v", cfg)
	}
	for _, k := range []string{"SESSION_IDLE_TIMEOUT", "ACTIVE_WINDOW", "NEW_DEVICE_WINDOW", "EVENT_BUS_NAME", "GEOIP_DB"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s is not among make run's settings", k)
		}
	}
}

// A restart of make run on the same data changes no count: the demo is seeded with its tenant,
// once.
func TestDemoSeededOnce(t *testing.T) {
	db, table := ddbtest.New(t)
	s := store.New(db, store.Options{Table: table})
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "local.env")
	counts := func() string {
		t.Helper()
		days, err := s.DailyStats(ctx, demoTenant, time.Now().AddDate(0, 0, -10).UTC().Format(time.DateOnly), time.Now().UTC().Format(time.DateOnly), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%+v", days)
	}
	if _, err := demoCredentials(ctx, s, path, "http://localhost:3000"); err != nil {
		t.Fatal(err)
	}
	first := counts()
	for range 2 {
		if _, err := demoCredentials(ctx, s, path, "http://localhost:3000"); err != nil {
			t.Fatal(err)
		}
	}
	if again := counts(); again != first {
		t.Errorf("counts after restarts %s, want %s", again, first)
	}
}
