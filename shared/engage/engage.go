// Package engage is the engagement surface (Rocket.Chat's engagement dashboard API, its Users
// tab): which users were active on each day of a period, new users, and when users are active. It reproduces Rocket.Chat's engagement dashboard API, with
// two differences of substance: today counts (no one-day lag), and history is kept for the
// activity retention (400 days by default) rather than 45 days.
package engage

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pulse-sessions/pulse/shared/auth"
	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Routes are the engagement surface's endpoints. Each needs a personal access token whose user holds Perm.
var Routes = []httpx.Route[*API]{
	{Key: "GET /api/v1/engagement-dashboard/users/active-users", Perm: pulse.PermViewEngagement, Serve: (*API).ActiveUsers},
	{Key: "GET /api/v1/engagement-dashboard/users/new-users", Perm: pulse.PermViewEngagement, Serve: (*API).NewUsers},
	{Key: "GET /api/v1/engagement-dashboard/users/users-by-time-of-the-day-in-a-week", Perm: pulse.PermViewEngagement, Serve: (*API).UsersByTimeOfDay},
	{Key: "GET /api/v1/engagement-dashboard/users/chat-busier/hourly-data", Perm: pulse.PermViewEngagement, Serve: (*API).BusierHourly},
	{Key: "GET /api/v1/engagement-dashboard/users/chat-busier/weekly-data", Perm: pulse.PermViewEngagement, Serve: (*API).BusierWeekly},
}

// API holds what the engagement endpoints need.
type API struct {
	store   *store.Store
	tenants *store.Tenants
	fail    httpx.ErrorWriter
	// MaxBody is the largest answer body (httpx.MaxLambdaBody); tests lower it.
	MaxBody int
}

// New returns the engagement API.
func New(s *store.Store, tenants *store.Tenants, log *slog.Logger) *API {
	return &API{store: s, tenants: tenants, fail: ErrorWriter(log), MaxBody: httpx.MaxLambdaBody}
}

// Errors returns the surface's error writer.
func (a *API) Errors() httpx.ErrorWriter { return a.fail }

// Handler returns the endpoint of route key behind the personal-access-token check (in
// Rocket.Chat's order: authentication, then permission, then the endpoint's parameters), its
// errors in Rocket.Chat's format; false when the surface has no such route.
func (a *API) Handler(key string) (http.Handler, bool) {
	rt, ok := httpx.Find(Routes, key)
	if !ok {
		return nil, false
	}
	h := func(w http.ResponseWriter, r *http.Request) error {
		if name, bad := malformedPair(r.URL.RawQuery); bad {
			return failedWhere(name)
		}
		return rt.Serve(a, w, r)
	}
	return httpx.Handle(auth.RequireToken(a.store, a.tenants, rt.Perm, h), a.fail), true
}

// day is one element of "month", keys in the spec's order.
type day struct {
	UsersList []string `json:"usersList"`
	Users     int      `json:"users"`
	Day       int      `json:"day"`
	Month     int      `json:"month"`
	Year      int      `json:"year"`
}

// ActiveUsers serves GET /api/v1/engagement-dashboard/users/active-users?start=&end=. The
// answer is written as the days are read, newest first, gzip-compressed when the client
// accepts it; an answer that would not fit in a Lambda response is refused with a 400 as soon
// as that is known, before the rest of the range is read.
func (a *API) ActiveUsers(w http.ResponseWriter, r *http.Request) error {
	start, err := isoParam(r, "start")
	if err != nil {
		return err
	}
	end, err := isoParam(r, "end")
	if err != nil {
		return err
	}
	tenant := pulse.PrincipalFrom(r.Context()).TenantID
	out := newAnswer(httpx.AcceptsGzip(r), a.MaxBody)
	if err := out.write([]byte(`{"month":[`)); err != nil {
		return err
	}
	if !start.After(end) {
		_, loc, err := a.tenants.Get(r.Context(), tenant)
		if err != nil {
			return err
		}
		first, last := start.In(loc).Format(time.DateOnly), end.In(loc).Format(time.DateOnly)
		n := 0
		err = a.store.DailyActiveUsers(r.Context(), tenant, first, last, loc, func(d store.DayUsers) error {
			t, err := time.Parse(time.DateOnly, d.Day)
			if err != nil {
				return nil
			}
			el, err := json.Marshal(day{UsersList: d.Users, Users: len(d.Users), Day: t.Day(), Month: int(t.Month()), Year: t.Year()})
			if err != nil {
				return err
			}
			if n > 0 {
				el = append([]byte{','}, el...)
			}
			n++
			return out.write(el)
		})
		if err != nil {
			return err
		}
	}
	if err := out.write([]byte("],\"success\":true}\n")); err != nil {
		return err
	}
	return out.send(w)
}

// answer is a JSON answer written piece by piece, compressed or not, that refuses to grow past
// what a Lambda response can carry.
type answer struct {
	gzip    bool
	buf     bytes.Buffer
	zw      *gzip.Writer
	escaped int // the body's size once escaped into the Lambda response's JSON
	max     int
}

// gzipWriters keeps compressors from one answer to the next: a new gzip.Writer allocates and
// clears about 1 MB of state, which a CPU profile of the users-per-day answer showed as a third
// of Pulse's own time in it (0.34 ms of 0.9). A warm Lambda container reuses its one.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
	return zw
}}

func newAnswer(gz bool, max int) *answer {
	a := &answer{gzip: gz, max: max}
	if gz {
		a.zw = gzipWriters.Get().(*gzip.Writer)
		a.zw.Reset(&a.buf)
	}
	return a
}

// write adds p to the answer, or returns the error that the range is too large.
func (a *answer) write(p []byte) error {
	if !a.gzip {
		// In the Lambda response the body is a JSON string: each quote and newline takes two bytes.
		a.escaped += len(p) + bytes.Count(p, []byte{'"'}) + bytes.Count(p, []byte{'\n'})
		if a.escaped > a.max {
			return rangeTooLarge(false)
		}
		a.buf.Write(p)
		return nil
	}
	if _, err := a.zw.Write(p); err != nil {
		return err
	}
	// What is compressed so far, in base64 (how the Lambda response carries a binary body).
	if (a.buf.Len()+2)/3*4 > a.max {
		return rangeTooLarge(true)
	}
	return nil
}

func (a *answer) send(w http.ResponseWriter) error {
	if a.gzip {
		if err := a.zw.Close(); err != nil {
			return err
		}
		// Pointed away from this answer's buffer before it is pooled: a pooled writer that still
		// wrote into the buffer would keep it alive while the adapter copies and encodes the
		// body, and a 30-day answer's function peaked 10 MB higher (41-49 MB against 32-38,
		// 6 invocations each). The reset clears the compressor's tables: 7 µs. An answer
		// refused before this point leaves its writer to the garbage collector.
		a.zw.Reset(io.Discard)
		gzipWriters.Put(a.zw)
		a.zw = nil
		if (a.buf.Len()+2)/3*4 > a.max {
			return rangeTooLarge(true)
		}
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Vary", "Accept-Encoding")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.buf.Bytes())
	return nil
}

// ChecksQuery says that this surface refuses a query string that does not parse itself: in
// Rocket.Chat's order, after the token and the permission, and in Rocket.Chat's words (package
// app refuses it for the other surfaces before their handlers).
func (a *API) ChecksQuery() bool { return true }

// malformedPair finds the first pair of a raw query string that does not parse strictly (a bad
// %-escape, or a ';', which Node's parser would keep inside the value) and returns its name as
// Node would read it: such a parameter is one that fails its check, whether or not the route
// reads it.
func malformedPair(raw string) (string, bool) {
	for _, pair := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(pair, "=")
		_, kerr := url.QueryUnescape(k)
		_, verr := url.QueryUnescape(v)
		if kerr != nil || verr != nil || strings.Contains(pair, ";") {
			name, _, _ := strings.Cut(k, ";")
			if u, err := url.QueryUnescape(name); err == nil {
				name = u
			}
			return name, true
		}
	}
	return "", false
}

// toISOString is the exact form of JavaScript's Date.prototype.toISOString for years 0–9999.
var toISOString = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// isoParam reads a required query parameter in toISOString form naming a real instant, with
// Rocket.Chat's check(…) messages: a missing key, or a failed Match.Where for anything else
// (a second value included: API Gateway would join the two with a comma).
func isoParam(r *http.Request, name string) (time.Time, error) {
	vs, ok := httpx.LenientQuery(r)[name]
	if !ok {
		return time.Time{}, missingKey(name)
	}
	invalid := failedWhere(name)
	if len(vs) != 1 || !toISOString.MatchString(vs[0]) {
		return time.Time{}, invalid
	}
	t, err := time.Parse("2006-01-02T15:04:05.000Z", vs[0])
	if err != nil { // 2023-02-30, 24:00, minute 60: not a real instant
		return time.Time{}, invalid
	}
	return t, nil
}
