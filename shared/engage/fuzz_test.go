package engage

import (
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/shared/pulse"
)

// A date is accepted only in toISOString's exact form, and then means exactly what it says;
// anything else is Rocket.Chat's Match error for that field.
func FuzzISOParam(f *testing.F) {
	for _, s := range []string{"2023-10-05T14:48:00.000Z", "2023-02-30T14:48:00.000Z", "2023-10-05T14:48:00Z", "invalid-date",
		"2023-10-05T24:00:00.000Z", "+012023-10-05T14:48:00.000Z", "2023-10-05T14:48:00.000+00:00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest("GET", "/x?start="+url.QueryEscape(s), nil)
		got, err := isoParam(r, "start")
		if err != nil {
			if pulse.ErrorCode(err) != pulse.EINVALID || pulse.ErrorMessage(err) != "Match error: Failed Match.Where validation in field start" {
				t.Fatalf("isoParam(%q): %v", s, err)
			}
			return
		}
		if back := got.UTC().Format("2006-01-02T15:04:05.000Z"); back != s {
			t.Fatalf("isoParam accepted %q as %s", s, back)
		}
		if got.Location() != time.UTC {
			t.Fatalf("isoParam(%q) is not UTC", s)
		}
	})
}
