package boot

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Config is Pulse's configuration, read from the environment that template.yaml sets.
type Config struct {
	Table        string
	Policy       pulse.SessionPolicy
	ActiveShards int
	GeoIPDB      string
	// OriginSecret is what the stack's CloudFront distribution sends in geo.OriginHeader, set
	// only when BEHIND_CLOUDFRONT is true: then, and only then, viewer headers place a session.
	OriginSecret string
	LogLevel     string
	// EventBus is the EventBridge bus the publisher puts Pulse's events on (EVENT_BUS_NAME);
	// set for the publisher only.
	EventBus string
	// Meter, when set, adds up DynamoDB's consumed capacity of every call (tests, benchmarks).
	Meter *store.Meter
}

// DurationBounds are the least and the most each duration setting may be, as template.yaml's
// AllowedPattern of its parameter allows (TestTemplateBoundsMatchCode holds the two together).
var DurationBounds = map[string][2]time.Duration{
	"SESSION_IDLE_TIMEOUT": {time.Minute, 24 * time.Hour},
	"SESSION_MAX_LIFETIME": {time.Minute, 400 * day},
	// At least a day: sessions are listed and counted by the day they started.
	"SESSION_RETENTION":  {day, 400 * day},
	"ACTIVITY_RETENTION": {day, 9999 * day},
	// The active index buckets last activity; an hour is far past what "active now" means.
	"ACTIVE_WINDOW":     {time.Minute, time.Hour},
	"NEW_DEVICE_WINDOW": {day, 400 * day},
	// 0s turns coalescing off; past a bucket of the active index it could not coalesce more.
	"ACTIVITY_RESOLUTION": {0, 5 * time.Minute},
}

const day = 24 * time.Hour

// NumberBounds are the least and the most each numeric setting may be, as template.yaml's
// MinValue and MaxValue of its parameter say.
var NumberBounds = map[string][2]int{
	"MAX_SESSIONS_PER_USER": {1, 10000},
	"ACTIVE_SHARDS":         {1, 16},
}

// LoadConfig reads the configuration through getenv (os.Getenv in production); missing
// settings take the documented defaults, malformed ones are an error.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{Table: getenv("TABLE_NAME"), Policy: pulse.DefaultSessionPolicy, ActiveShards: store.DefaultActiveShards,
		GeoIPDB: getenv("GEOIP_DB"), LogLevel: getenv("AWS_LAMBDA_LOG_LEVEL"), EventBus: getenv("EVENT_BUS_NAME")}
	if c.Table == "" {
		return c, fmt.Errorf("config: TABLE_NAME is required")
	}
	for _, d := range []struct {
		env string
		dst *time.Duration
	}{
		{"SESSION_IDLE_TIMEOUT", &c.Policy.IdleTimeout},
		{"SESSION_MAX_LIFETIME", &c.Policy.MaxLifetime},
		{"SESSION_RETENTION", &c.Policy.Retention},
		{"ACTIVITY_RETENTION", &c.Policy.ActivityKeep},
		{"ACTIVE_WINDOW", &c.Policy.ActiveWindow},
		{"NEW_DEVICE_WINDOW", &c.Policy.NewDeviceWindow},
		{"ACTIVITY_RESOLUTION", &c.Policy.ActivityResolution},
	} {
		if v := getenv(d.env); v != "" {
			dur, err := ParseDuration(v)
			if v == "0s" && DurationBounds[d.env][0] == 0 {
				dur, err = 0, nil
			}
			if err != nil {
				return c, fmt.Errorf("config: %s: %w", d.env, err)
			}
			if b := DurationBounds[d.env]; dur < b[0] || dur > b[1] {
				return c, fmt.Errorf("config: %s (%s) must be between %s and %s", d.env, v, b[0], b[1])
			}
			*d.dst = dur
		}
	}
	// Sessions are listed for the retention counted from the day they started, and each user
	// keeps a counter per listed day: a live session must fit in it, and the counters in the
	// user's item (about 17 bytes a day).
	if c.Policy.Retention < c.Policy.MaxLifetime || c.Policy.Retention > 400*24*time.Hour {
		return c, fmt.Errorf("config: SESSION_RETENTION (%s) must be between SESSION_MAX_LIFETIME (%s) and 400d", c.Policy.Retention, c.Policy.MaxLifetime)
	}
	// A day is the unit of the devices' memory; past 400 days it would outlive everything else.
	if c.Policy.NewDeviceWindow < 24*time.Hour || c.Policy.NewDeviceWindow > 400*24*time.Hour {
		return c, fmt.Errorf("config: NEW_DEVICE_WINDOW (%s) must be between 1d and 400d", c.Policy.NewDeviceWindow)
	}
	// The active list counts the window in whole 5-minute buckets (store.ActiveSince): a session
	// must still be live for a bucket past the window, or the list would count expired sessions.
	if c.Policy.IdleTimeout < c.Policy.ActiveWindow+store.ActiveBucket {
		return c, fmt.Errorf("config: SESSION_IDLE_TIMEOUT (%s) must be at least ACTIVE_WINDOW (%s) + %s", c.Policy.IdleTimeout, c.Policy.ActiveWindow, store.ActiveBucket)
	}
	if c.Policy.IdleTimeout > c.Policy.MaxLifetime {
		return c, fmt.Errorf("config: SESSION_IDLE_TIMEOUT (%s) exceeds SESSION_MAX_LIFETIME (%s)", c.Policy.IdleTimeout, c.Policy.MaxLifetime)
	}
	if v := getenv("MAX_SESSIONS_PER_USER"); v != "" {
		b := NumberBounds["MAX_SESSIONS_PER_USER"]
		n, err := strconv.Atoi(v)
		if err != nil || n < b[0] || n > b[1] {
			return c, fmt.Errorf("config: MAX_SESSIONS_PER_USER must be %d..%d, got %q", b[0], b[1], v)
		}
		c.Policy.MaxPerUser = n
	}
	if v := getenv("SESSION_LIMIT_POLICY"); v != "" {
		if v != pulse.LimitEvict && v != pulse.LimitRefuse {
			return c, fmt.Errorf("config: SESSION_LIMIT_POLICY must be evict or refuse, got %q", v)
		}
		c.Policy.LimitPolicy = v
	}
	switch getenv("BEHIND_CLOUDFRONT") {
	case "", "false":
	case "true":
		c.OriginSecret = getenv("ORIGIN_SECRET")
		if n := len(c.OriginSecret); n < 32 || n > 128 {
			return c, fmt.Errorf("config: BEHIND_CLOUDFRONT is true, so ORIGIN_SECRET must be 32 to 128 characters (it has %d)", n)
		}
	default:
		return c, fmt.Errorf("config: BEHIND_CLOUDFRONT must be true or false, got %q", getenv("BEHIND_CLOUDFRONT"))
	}
	if v := getenv("ACTIVE_SHARDS"); v != "" {
		b := NumberBounds["ACTIVE_SHARDS"]
		n, err := strconv.Atoi(v)
		if err != nil || n < b[0] || n > b[1] {
			return c, fmt.Errorf("config: ACTIVE_SHARDS must be %d..%d, got %q", b[0], b[1], v)
		}
		c.ActiveShards = n
	}
	return c, nil
}

// ParseDuration reads a positive whole number of s, m, h or d (days), as template.yaml's
// parameters allow.
func ParseDuration(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[s[len(s)-1]]
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if unit == 0 || err != nil || n <= 0 || strings.HasPrefix(s, "+") || n > int64(100*365*24*time.Hour/unit) {
		return 0, fmt.Errorf("invalid duration %q: want a positive number of s, m, h or d", s)
	}
	return time.Duration(n) * unit, nil
}
