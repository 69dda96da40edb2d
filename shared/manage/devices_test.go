package manage_test

import (
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/boot"
	"github.com/pulse-sessions/pulse/shared/geo"
)

const (
	firefoxMacUA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0"
	chromeNewUA  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"
)

// A login compares its browser family and OS, and its country, with what the user was seen with
// over NEW_DEVICE_WINDOW (90 days by default): the first session is new on neither count; a new
// device or a new country flags the session, in the created body and in every later read of it;
// the same device again does not, nor does a newer version of the same browser; a device unseen
// for longer than the window is new again.
func TestNewDeviceAndLocation(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	login := func(ua, country string) (string, bool, bool) {
		t.Helper()
		h := append(key, "User-Agent", ua)
		if country != "" {
			h = append(h, "CloudFront-Viewer-Country", country)
		}
		r := e.Do("POST", "/api/users/alice/sessions", `{"client_id":"web"}`, h...)
		if r.Status != 201 {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		var s map[string]any
		r.JSON(t, &s)
		id := s["session_id"].(string)
		// What the login answered is stored: a later read shows the same flags.
		var again map[string]any
		e.Do("GET", "/api/users/alice/sessions/"+id, "", key...).JSON(t, &again)
		if again["new_device"] != s["new_device"] || again["new_location"] != s["new_location"] {
			t.Errorf("GET %s: new_device %v new_location %v, created with %v %v", id, again["new_device"], again["new_location"], s["new_device"], s["new_location"])
		}
		return id, s["new_device"].(bool), s["new_location"].(bool)
	}
	steps := []struct {
		what        string
		ua, country string
		after       time.Duration
		dev, loc    bool
	}{
		{"first session of a new user", chromeUA, "US", 0, false, false},
		{"same device, same country", chromeUA, "US", time.Hour, false, false},
		{"same browser family and OS, newer version", chromeNewUA, "US", time.Hour, false, false},
		{"new browser and OS", firefoxMacUA, "US", time.Hour, true, false},
		{"that device again", firefoxMacUA, "US", time.Hour, false, false},
		{"new country, known device", chromeUA, "DE", time.Hour, false, true},
		{"no country known: never a new location", chromeUA, "", time.Hour, false, false},
		{"89 days later, both still known", firefoxMacUA, "DE", 89 * 24 * time.Hour, false, false},
		// Chrome on Linux and the US were last seen 89 days and 3 hours ago: 2 more days
		// and they are past the window.
		{"past the window, the old device and country are new again", chromeUA, "US", 2 * 24 * time.Hour, true, true},
		{"and known once more", chromeUA, "US", time.Hour, false, false},
	}
	for _, s := range steps {
		e.Clock.Add(s.after)
		id, dev, loc := login(s.ua, s.country)
		if dev != s.dev || loc != s.loc {
			t.Errorf("%s (%s): new_device %v new_location %v, want %v %v", s.what, id, dev, loc, s.dev, s.loc)
		}
	}
}

// A user created by PUT before their first login has no devices yet: that first login is not
// "new" either.
func TestFirstLoginOfAProfileIsNotNew(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	if r := e.Do("PUT", "/api/users/bob", `{"name":"Bob"}`, key...); r.Status != 201 {
		t.Fatalf("PUT: %d %s", r.Status, r.Body)
	}
	r := e.Do("POST", "/api/users/bob/sessions", `{"client_id":"web"}`, append(key, "User-Agent", chromeUA, "CloudFront-Viewer-Country", "FR")...)
	var s map[string]any
	r.JSON(t, &s)
	if r.Status != 201 || s["new_device"] != false || s["new_location"] != false {
		t.Errorf("first login of a profile: %d new_device %v new_location %v, want 201 false false", r.Status, s["new_device"], s["new_location"])
	}
}

// What a client sends becomes a key of the user's device memory: a user agent or a viewer
// country shaped like a document path ("a.b", "x[1]") is stored and recognised like any other,
// never a failed write.
func TestDeviceKeysFromHostileInput(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	for i, h := range [][]string{
		{"User-Agent", chromeUA, "CloudFront-Viewer-Country", "US"},
		{"User-Agent", "we.ird[0]/1.0 (x.y[1]; #:name)", "CloudFront-Viewer-Country", "[1"},
		{"User-Agent", "we.ird[0]/1.0 (x.y[1]; #:name)", "CloudFront-Viewer-Country", "[1"},
		{"User-Agent", "a.b.c/2", "CloudFront-Viewer-Country", "]."},
	} {
		e.Clock.Add(time.Minute)
		r := e.Do("POST", "/api/users/mallory/sessions", `{"client_id":"web"}`, append(key, h...)...)
		if r.Status != 201 {
			t.Fatalf("login %d: %d %s", i, r.Status, r.Body)
		}
		var s map[string]any
		r.JSON(t, &s)
		if want := i == 1 || i == 3; s["new_device"] != want || s["new_location"] != want {
			t.Errorf("login %d: new_device %v new_location %v, want %v", i, s["new_device"], s["new_location"], want)
		}
	}
}

// CloudFront-Viewer-* headers are anyone's to set unless CloudFront stands in front and proves
// it with the origin secret: on a stack not behind CloudFront, or on a request without the
// secret, a login that claims France stores no place at all.
func TestViewerHeadersNeedCloudFront(t *testing.T) {
	country := func(e *apptest.Env, user string, extra ...string) any {
		h := append(apptest.Key(e.Key), append([]string{"CloudFront-Viewer-Country", "FR", "CloudFront-Viewer-City", "Paris"}, extra...)...)
		if r := e.Do("POST", "/api/users/"+user+"/sessions", `{"client_id":"web","session_id":"S-`+user+`"}`, h...); r.Status != 201 {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		r := e.Do("GET", "/api/users/"+user+"/sessions/S-"+user, "", apptest.Key(e.Key)...)
		var s struct {
			Metadata map[string]any `json:"last_metadata"`
		}
		r.JSON(t, &s)
		if loc, ok := s.Metadata["location"].(map[string]any); ok {
			return loc["country"]
		}
		return s.Metadata["country"]
	}
	direct := apptest.NewWith(t, apptest.Options{Config: func(c *boot.Config) { c.OriginSecret = "" }})
	if got := country(direct, "bob"); got != nil && got != "" {
		t.Errorf("not behind CloudFront: stored country %v, want none", got)
	}
	behind := apptest.New(t)
	if got := country(behind, "eve", geo.OriginHeader, "not-the-secret"); got != nil && got != "" {
		t.Errorf("behind CloudFront, a caller without the secret: stored country %v, want none", got)
	}
	if got := country(behind, "ann"); got != "France" {
		t.Errorf("behind CloudFront, through it: stored country %v, want France", got)
	}
}
