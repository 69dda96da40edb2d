package engage_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
)

// recordDays makes users u000…u<n> active on each of the last days days (UTC), as imported
// history, rolled up where closed.
func recordDays(t *testing.T, e *apptest.Env, users, days int, idLen int) {
	t.Helper()
	var ds []string
	for d := range days {
		ds = append(ds, e.Clock.Now().AddDate(0, 0, -d).Format(time.DateOnly))
	}
	all := map[string][]string{}
	for u := range users {
		all[fmt.Sprintf("u%0*d", idLen-1, u)] = ds
	}
	if err := e.Deps.Store.LoadHistory(context.Background(), "acme", all, nil); err != nil {
		t.Fatal(err)
	}
}

func rangeOf(e *apptest.Env, days int) string {
	now := e.Clock.Now()
	return fmt.Sprintf("?start=%s&end=%s", now.AddDate(0, 0, -(days-1)).Format("2006-01-02")+"T00:00:00.000Z", now.Format("2006-01-02T15:04:05.000Z"))
}

// Closed days are read from their rollups: 30 days of 300 users cost a fraction of reading an
// index entry per user and day, and the cost grows with the days asked for.
func TestRollupsCostTheDays(t *testing.T) {
	e := apptest.New(t)
	tok := token(t, e, e.Key, "boss", "admin")
	recordDays(t, e, 300, 30, 7)
	measure := func() float64 {
		e.Meter.Reset()
		r := e.Do("GET", path+rangeOf(e, 30), "", as("boss", tok)...)
		var got struct{ Month []struct{ Users int } }
		r.JSON(t, &got)
		if len(got.Month) != 30 || got.Month[0].Users != 300 || got.Month[29].Users != 300 {
			t.Fatalf("%d days: %.200s", len(got.Month), r.Body)
		}
		_, rcu, _ := e.Meter.Snapshot()
		return rcu
	}
	fromIndex := measure()
	// The scheduled function rolls up every day that has ended in every time zone (here all
	// but the last two): its first run looks back 31 days.
	sum, err := e.Cleanup(context.Background())
	if err != nil || !sum.Complete || sum.DaysClosed < 28 {
		t.Fatalf("cleanup: %+v, %v; want the closed days rolled up", sum, err)
	}
	fromRollups := measure()
	t.Logf("30 days × 300 users: %.1f RCU from the Days index, %.1f RCU once the scheduled function rolled up the closed days (%d tenant-days)", fromIndex, fromRollups, sum.DaysClosed)
	if again, err := e.Cleanup(context.Background()); err != nil || again.DaysClosed != 0 {
		t.Errorf("a second run the same day: %+v, %v; want nothing more to roll up", again, err)
	}
	if fromRollups > fromIndex/4 {
		t.Errorf("with rollups %.1f RCU, from the index %.1f: want under a quarter", fromRollups, fromIndex)
	}
}

// Neither end of the range reaches past today or before the retention: a range to the year
// 9999 reads what a range to today reads.
func TestRangeClampedToToday(t *testing.T) {
	e := apptest.New(t)
	tok := token(t, e, e.Key, "boss", "admin")
	recordDays(t, e, 3, 3, 7)
	cost := func(q string) (int, float64, string) {
		e.Meter.Reset()
		r := e.Do("GET", path+q, "", as("boss", tok)...)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", q, r.Status, r.Body)
		}
		calls, rcu, _ := e.Meter.Snapshot()
		return calls, rcu, string(r.Body)
	}
	today := e.Clock.Now().Format("2006-01-02")
	cost("?start=" + today + "T00:00:00.000Z&end=" + today + "T23:59:59.999Z") // a warm container: the tenant is cached
	c1, r1, b1 := cost("?start=0001-01-01T00:00:00.000Z&end=" + today + "T23:59:59.999Z")
	c2, r2, b2 := cost("?start=0001-01-01T00:00:00.000Z&end=9999-12-31T23:59:59.999Z")
	if b1 != b2 || c2 != c1 || r2 != r1 {
		t.Errorf("to 9999: %d calls, %.1f RCU; to today: %d calls, %.1f RCU; same answer: %v", c2, r2, c1, r1, b1 == b2)
	}
	if c1 > 40 {
		t.Errorf("the retention's 14 months took %d DynamoDB calls", c1)
	}
}

// usersPerDay asks for the users per day of the last days as boss, accepting the encodings enc,
// and checks the answer against the surface's schema.
func usersPerDay(t *testing.T, e *apptest.Env, tok string, days int, enc string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL+path+rangeOf(e, days), nil)
	req.Header.Set("X-User-Id", "boss")
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Accept-Encoding", enc) // set by hand: Go's client then leaves the body alone
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	apptest.CheckWire(t, req, resp, b)
	return resp, b
}

// An answer that would not fit in a Lambda response is a 400 in Rocket.Chat's format; gzip,
// when the client accepts it, carries answers several times larger. (The limit is lowered so
// that a few hundred users exceed it; make bench measures the real one.)
func TestAnswerSizeGuard(t *testing.T) {
	e := apptest.New(t)
	e.Deps.Engage.MaxBody = 40 << 10
	tok := token(t, e, e.Key, "boss", "admin")
	recordDays(t, e, 400, 10, 36) // about 150 KB of JSON
	get := func(enc string) (*http.Response, []byte) { return usersPerDay(t, e, tok, 10, enc) }
	resp, body := get("identity")
	if resp.StatusCode != 400 || !strings.HasPrefix(string(body), `{"success":false,"error":"The range from start to end holds more active users than one answer can carry`) {
		t.Errorf("without gzip: %d %s", resp.StatusCode, body)
	}
	resp, body = get("gzip, deflate, br")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || len(body) > 40<<10 {
		t.Fatalf("with gzip: %d %v, %d bytes", resp.StatusCode, resp.Header, len(body))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.HasPrefix(plain, []byte(`{"month":[{"usersList":["u00000000000000000000000000000000000",`)) || !bytes.HasSuffix(plain, []byte("],\"success\":true}\n")) {
		t.Errorf("gzip body: %.200s … %s", plain, plain[max(0, len(plain)-40):])
	}
	t.Logf("10 days × 400 users with 36-character IDs: %d bytes of JSON, %d gzip-compressed", len(plain), len(body))
	e.Deps.Engage.MaxBody = 2 << 10
	if resp, body = get("gzip"); resp.StatusCode != 400 || !strings.Contains(string(body), "even compressed") {
		t.Errorf("too large even compressed: %d %s", resp.StatusCode, body)
	}
}

// Compressed answers one after another, of different ranges and with one refused in between,
// each decompress to the uncompressed answer of the same range: the compressors kept from one
// answer to the next carry nothing over.
func TestGzipAnswersInARow(t *testing.T) {
	e := apptest.New(t)
	tok := token(t, e, e.Key, "boss", "admin")
	recordDays(t, e, 60, 10, 36)
	get := func(days int, enc string) (*http.Response, []byte) { return usersPerDay(t, e, tok, days, enc) }
	for _, days := range []int{10, 1, 7, 3, 10, 2} {
		if days == 3 { // a compressed answer refused half-way
			limit := e.Deps.Engage.MaxBody
			e.Deps.Engage.MaxBody = 200
			if resp, body := get(10, "gzip"); resp.StatusCode != 400 {
				t.Fatalf("refused: %d %s", resp.StatusCode, body)
			}
			e.Deps.Engage.MaxBody = limit
		}
		_, want := get(days, "identity")
		resp, body := get(days, "gzip")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%d days: %d %v", days, resp.StatusCode, resp.Header)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%d days: gzip answer %v\n%.300s\nwant\n%.300s", days, err, got, want)
		}
	}
}

// A query string read as Rocket.Chat's server reads it: "start=bogus;x" is a start that fails
// validation, not a missing one.
func TestLenientQueryLikeNode(t *testing.T) {
	e := apptest.New(t)
	tok := token(t, e, e.Key, "boss", "admin")
	for q, want := range map[string]string{
		"?start=bogus;x&end=2026-03-10T00:00:00.000Z":                    "Match error: Failed Match.Where validation in field start",
		"?start=%ZZ&end=2026-03-10T00:00:00.000Z":                        "Match error: Failed Match.Where validation in field start",
		"?start=2026-03-01T00:00:00.000Z;x&end=2026-03-10T00:00:00.000Z": "Match error: Failed Match.Where validation in field start",
		"?end=2026-03-10T00:00:00.000Z":                                  "Match error: Missing key 'start'",
	} {
		r := e.Do("GET", path+q, "", as("boss", tok)...)
		if r.Status != 400 || string(r.Body) != `{"success":false,"error":"`+want+`"}`+"\n" {
			t.Errorf("%s: %d %s, want %s", q, r.Status, r.Body, want)
		}
	}
}
