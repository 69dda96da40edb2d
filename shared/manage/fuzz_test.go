package manage

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pulse-sessions/pulse/shared/geo"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// rejected fails the test unless err is one of the answers a decoder may give to a client.
func rejected(t *testing.T, what string, err error) {
	t.Helper()
	switch pulse.ErrorCode(err) {
	case pulse.EINVALID, pulse.ETOOLARGE, pulse.EUNSUPPORTED:
	default:
		t.Fatalf("%s: %v (a client's mistake must be a 4xx)", what, err)
	}
}

// The session list's query: page, size, sort, client_id and status are accepted only in range.
func FuzzListQuery(f *testing.F) {
	for _, q := range []string{"", "page=1&size=10", "page=0", "size=101", "sort=initiated_at:-1", "sort=name:1", "sort=:", "sort=expires_at:+1",
		"page=abc", "page=1&page=2", "status=all", "client_id=a%23b", "size=9999999999999999999999"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest("GET", "/api/users/u/sessions", nil)
		r.URL.RawQuery = query
		q, err := parseListQuery(r)
		if err != nil {
			rejected(t, query, err)
			return
		}
		if q.page < 1 || q.size < 1 || q.size > maxSize || !sortKeys[q.sortKey] {
			t.Fatalf("parseListQuery(%q) = %+v", query, q)
		}
		if q.status != pulse.StatusActive && q.status != pulse.StatusEnded && q.status != "all" {
			t.Fatalf("parseListQuery(%q): status %q", query, q.status)
		}
		if q.clientID != "" && pulse.ValidID(q.clientID) != nil {
			t.Fatalf("parseListQuery(%q): client_id %q", query, q.clientID)
		}
	})
}

// Every request body: decoded and validated, or refused with a 4xx code; what is accepted is
// valid (IDs, the IP address, bounded text).
func FuzzBodies(f *testing.F) {
	for _, b := range []string{
		`{"client_id":"web"}`, `{"client_id":"web","ip_address":"192.0.2.1","user_agent":"UA","session_id":"S1"}`,
		`{"client_id":"a#b"}`, `{"client_id":7}`, `{"ip_address":"::ffff:1.2.3.4","client_id":"w"}`, `{"ip_address":"fe80::1%eth0","client_id":"w"}`,
		`{"name":"A","type":"T","roles":["admin"]}`, `{"roles":"x"}`, `{"name":"dash","expires_in":3600}`, `{"expires_in":1e30}`,
		`{`, `[]`, `null`, `{"client_id":"w"}{}`, "\xff", ``,
		`{"activity":[{"user_id":"u","session_id":"s","at":1773136800}]}`, `{"activity":[{"user_id":"u","session_id":"s","at":1.5},{"user_id":5}]}`,
		`{"activity":[null]}`, `{"activity":{}}`, `{"activity":[{"session_id":"s","at":"1773136800","ip_address":"x"}]}`,
	} {
		f.Add([]byte(b), "application/json", "curl/8.5.0")
	}
	f.Add([]byte(`{"client_id":"w"}`), "text/plain", "")
	f.Add([]byte(`{"client_id":"w"}`), "", "")
	f.Add([]byte(`{"client_id":"w","client_id":"x"}`), "application/json", "")
	f.Add([]byte("{\"name\":\"\xff\"}"), "application/json", "")
	a := &API{geo: &geo.Locator{}}
	f.Fuzz(func(t *testing.T, body []byte, contentType, ua string) {
		newReq := func() *httptestRequest { return newRequest(body, contentType, ua) }
		// What any decoder accepts is one JSON object in UTF-8, declared JSON (an empty body
		// aside, where the route allows none); duplicate keys are the table test's
		// (httpx.TestDecodeJSONIsStrict).
		accepted := func(what string) {
			if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 &&
				(!utf8.Valid(body) || !json.Valid(body) || trimmed[0] != '{' || !strings.Contains(strings.ToLower(contentType), "json")) { // media types are case-insensitive
				t.Fatalf("%s accepted %q as %q", what, body, contentType)
			}
		}
		if s, err := a.decodeNewSession(newReq().r); err != nil {
			rejected(t, "new session", err)
		} else {
			accepted("new session")
			if pulse.ValidID(s.ClientID) != nil || (s.SessionID != "" && pulse.ValidID(s.SessionID) != nil) {
				t.Fatalf("accepted IDs %q %q", s.ClientID, s.SessionID)
			}
			if ip, err := netip.ParseAddr(s.IP); s.IP != "" && (err != nil || ip.Zone() != "") {
				t.Fatalf("accepted IP %q", s.IP)
			}
		}
		if act, err := a.decodeActivity(newReq().r); err != nil {
			rejected(t, "activity", err)
		} else if accepted("activity"); act.ClientID != "" && pulse.ValidID(act.ClientID) != nil {
			t.Fatalf("accepted client_id %q", act.ClientID)
		}
		now := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
		if acts, errs, err := a.decodeActivities(newReq().r, now, now.Add(-30*time.Minute)); err != nil {
			rejected(t, "batch", err)
		} else {
			accepted("batch")
			if len(acts) != len(errs) || len(acts) > MaxActivityBatch {
				t.Fatalf("batch: %d entries, %d answers", len(acts), len(errs))
			}
			for i, act := range acts {
				switch {
				case errs[i] != nil && pulse.ErrorFields(errs[i]) == nil:
					t.Fatalf("batch entry %d: %v, want field errors", i, errs[i])
				case errs[i] == nil && (pulse.ValidID(act.UserID) != nil || pulse.ValidID(act.SessionID) != nil ||
					act.ClientID != "" && pulse.ValidID(act.ClientID) != nil):
					t.Fatalf("batch entry %d: accepted IDs %q %q %q", i, act.UserID, act.SessionID, act.ClientID)
				case errs[i] == nil && !act.At.IsZero() && (act.At.After(now) || act.At.Before(now.Add(-30*time.Minute-time.Second))):
					t.Fatalf("batch entry %d: accepted at %v", i, act.At)
				}
			}
		}
		if u, err := decodeUser(newReq().r); err != nil {
			rejected(t, "user", err)
		} else {
			accepted("user")
			if len(u.Name) > 256 || len(u.Type) > 64 || len(u.Roles) > 50 {
				t.Fatalf("accepted user %+v", u)
			}
			for _, r := range u.Roles {
				if pulse.ValidID(r) != nil {
					t.Fatalf("accepted role %q", r)
				}
			}
		}
		if name, ttl, err := decodeToken(newReq().r); err != nil {
			rejected(t, "token", err)
		} else if accepted("token"); pulse.ValidID(name) != nil || ttl < 0 {
			t.Fatalf("accepted token %q %v", name, ttl)
		}
	})
}

type httptestRequest struct{ r *http.Request }

func newRequest(body []byte, contentType, ua string) *httptestRequest {
	r := httptest.NewRequest("POST", "/api/users/u/sessions", bytes.NewReader(body))
	r.RemoteAddr = "203.0.113.7:4567"
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Header.Set("User-Agent", ua)
	return &httptestRequest{r: r}
}
