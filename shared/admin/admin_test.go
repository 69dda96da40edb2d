package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/shared/admin"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

const (
	path     = "/settings/users/active-users"
	chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36"
)

// login starts a session for user from ip with ua, through the management API.
func login(t *testing.T, e *apptest.Env, user, ip, ua string) string {
	t.Helper()
	r := e.Do("POST", "/api/users/"+user+"/sessions", fmt.Sprintf(`{"client_id":"web","ip_address":%q,"user_agent":%q}`, ip, ua), apptest.Key(e.Key)...)
	if r.Status != 201 {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	var s struct {
		ID string `json:"session_id"`
	}
	r.JSON(t, &s)
	return s.ID
}

func TestSpecExample(t *testing.T) {
	e := apptest.New(t)
	e.Do("PUT", "/api/users/10000000000001", `{"name":"admin","type":"System"}`, apptest.Key(e.Key)...)
	login(t, e, "10000000000001", "10.20.41.105", chromeUA)
	e.Clock.Add(2 * time.Minute)
	r := e.Do("GET", path, "", apptest.Key(e.Key)...)
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	var got, spec map[string]any
	r.JSON(t, &got)
	data, err := os.ReadFile("testdata/admin-active-users.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	if g, w := apptest.Shape(got), apptest.Shape(spec); !reflect.DeepEqual(g, w) {
		t.Fatalf("shape\n got %v\nwant %v", g, w)
	}
	el := got["result"].([]any)[0].(map[string]any)
	want := map[string]any{"browser": "Chrome", "version": "134.0.0.0", "majorVersion": float64(134), "userAgent": chromeUA,
		"os": "Linux", "user.id": float64(10000000000001), "last.active.timestamp": float64(apptest.Start.Unix()),
		"duration": float64(0), "user.name": "admin", "user.type": "System", "remote.address": "10.20.41.105"}
	if !reflect.DeepEqual(el, want) {
		t.Errorf("element\n got %v\nwant %v", el, want)
	}
	// Key order as in the spec, and user.id written as a bare number.
	wantPrefix := `{"status":"succeed","response-code":200,"result":[{"browser":"Chrome","version":"134.0.0.0","majorVersion":134,`
	if string(r.Body[:len(wantPrefix)]) != wantPrefix {
		t.Errorf("body starts %s, want %s", r.Body[:len(wantPrefix)], wantPrefix)
	}
}

func TestSemantics(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	e.Do("PUT", "/api/users/alice", `{"name":"Alice","type":"Member"}`, key...)
	first := login(t, e, "alice", "192.0.2.1", chromeUA)
	idle := login(t, e, "idler", "192.0.2.2", chromeUA)
	revoked := login(t, e, "bob", "192.0.2.3", chromeUA)
	e.Do("DELETE", "/api/users/bob/sessions/"+revoked, "", key...)
	login(t, apptest.New(t), "stranger", "192.0.2.9", chromeUA) // another environment entirely
	otherTenant := e.Do("POST", "/api/users/eve/sessions", `{"client_id":"web"}`, apptest.Key(e.OKey)...)
	if otherTenant.Status != 201 {
		t.Fatal(otherTenant.Status)
	}
	var got struct {
		Result []map[string]any `json:"result"`
	}
	users := func() []any {
		got.Result = nil
		r := e.Do("GET", path, "", key...)
		r.JSON(t, &got)
		var ids []any
		for _, el := range got.Result {
			ids = append(ids, el["user.id"])
		}
		return ids
	}
	// The window counts whole 5-minute buckets (store.ActiveSince): at 10:06:10 a session last
	// active at 10:00 is in the bucket that holds now − 5 minutes, and still active.
	e.Clock.Add(6*time.Minute + 10*time.Second)
	if ids, want := users(), []any{"alice", "idler"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("at 10:06:10: users %v, want %v", ids, want)
	}
	e.Clock.Add(4 * time.Minute)
	second := login(t, e, "carol", "2001:db8::1", "curl/8.5.0")
	// 10:10:10: alice and idler were last active at 10:00, before the bucket of now − 5 minutes.
	if r := e.Do("POST", "/api/users/alice/sessions/"+first+"/activity", "", key...); r.Status != 204 {
		t.Fatal(r.Status)
	}
	e.Clock.Add(10 * time.Second)
	ids := users()
	if want := []any{"carol", "alice"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("users %v, want %v (newest bucket first, then newest start; idle, revoked and other tenants' left out)", ids, want)
	}
	r := e.Do("GET", path, "", key...)
	if a := got.Result[1]; a["duration"] != float64(10*60+10) || a["user.name"] != "Alice" || a["last.active.timestamp"] != float64(apptest.Start.Add(10*time.Minute+10*time.Second).Unix()) {
		t.Errorf("alice: %v", a)
	}
	if c := got.Result[0]; c["remote.address"] != "2001:db8::1" || c["browser"] != "curl" || c["user.name"] != "" {
		t.Errorf("carol: %v", c)
	}
	_ = idle
	_ = second
	if r.Header.Get("X-Total-Count") != "2" {
		t.Errorf("X-Total-Count %q, want 2", r.Header.Get("X-Total-Count"))
	}
	// Expired sessions drop out at once, before any cleanup.
	e.Clock.Add(e.Deps.Config.Policy.IdleTimeout)
	r = e.Do("GET", path, "", key...)
	if string(r.Body) != "{\"status\":\"succeed\",\"response-code\":200,\"result\":[]}\n" {
		t.Errorf("after the idle timeout: %s", r.Body)
	}
}

func TestPaging(t *testing.T) {
	e := apptest.New(t)
	for i := range 5 {
		login(t, e, fmt.Sprintf("u%d", i), "192.0.2.1", chromeUA)
		e.Clock.Add(time.Second)
	}
	r := e.Do("GET", path+"?limit=2&offset=1", "", apptest.Key(e.Key)...)
	var got struct {
		Result []map[string]any `json:"result"`
	}
	r.JSON(t, &got)
	if len(got.Result) != 2 || got.Result[0]["user.id"] != "u3" || got.Result[1]["user.id"] != "u2" || r.Header.Get("X-Total-Count") != "5" {
		t.Errorf("limit=2&offset=1: %s (total %s)", r.Body, r.Header.Get("X-Total-Count"))
	}
}

const (
	forbidden  = `{"response-code":403,"message":"Unauthorized access: Client is not allowed to access API","error.code":"MD022"}` + "\n"
	badRequest = `{"response-code":400,"status":"fail","message":"Bad request","error.code":"MD031"}` + "\n"
)

func TestErrorBodies(t *testing.T) {
	e := apptest.New(t)
	noScope := e.NewTenant("acme", pulse.ScopeSessionsRead)
	for _, tc := range []struct {
		name    string
		query   string
		headers []string
		status  int
		body    string
	}{
		{"no key", "", nil, 403, forbidden},
		{"unknown key", "", apptest.Key("pulse_nope"), 403, forbidden},
		{"unknown bearer", "", []string{"Authorization", "Bearer pulse_nope"}, 403, forbidden},
		{"basic auth", "", []string{"Authorization", "Basic " + e.Key}, 403, forbidden},
		{"key without the scope", "", apptest.Key(noScope), 403, forbidden},
		{"limit not a number", "?limit=ten", apptest.Key(e.Key), 400, badRequest},
		{"limit zero", "?limit=0", apptest.Key(e.Key), 400, badRequest},
		{"limit over the maximum", fmt.Sprintf("?limit=%d", admin.MaxLimit+1), apptest.Key(e.Key), 400, badRequest},
		{"negative offset", "?offset=-1", apptest.Key(e.Key), 400, badRequest},
		{"limit twice", "?limit=1&limit=2", apptest.Key(e.Key), 400, badRequest},
		{"limit with plus", "?limit=%2B5", apptest.Key(e.Key), 400, badRequest},
		{"bearer accepted", "", []string{"Authorization", "Bearer " + e.Key}, 200, "{\"status\":\"succeed\",\"response-code\":200,\"result\":[]}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.For(t)
			r := e.Do("GET", path+tc.query, "", tc.headers...)
			if r.Status != tc.status || string(r.Body) != tc.body {
				t.Errorf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.body)
			}
		})
	}
}

// The 500 and 503 bodies have the spec's shape, and name the request instead of a stack trace.
func TestServerErrorBodies(t *testing.T) {
	write := admin.ErrorWriter(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	for _, tc := range []struct {
		err    error
		status int
		msg    string
	}{
		{fmt.Errorf("dynamodb: boom at /secret/path"), 500, "Internal server exception, Possible reason: internal error"},
		{&pulse.Error{Code: pulse.EUNAVAILABLE, Message: "x", Err: fmt.Errorf("ThrottlingException")}, 503, "Service temporarily unavailable, Possible reason: the datastore is unreachable or throttled, retry later"},
	} {
		rec := httptest.NewRecorder()
		write(rec, httptest.NewRequest("GET", path, nil).WithContext(context.Background()), tc.err)
		want := fmt.Sprintf(`{"result":[{"response-code":%d,"status":"fail","message":%q,"error.code":"MD031","error":"request ID "}]}`+"\n", tc.status, tc.msg)
		if rec.Code != tc.status || rec.Body.String() != want {
			t.Errorf("%d %s, want %d %s", rec.Code, rec.Body, tc.status, want)
		}
	}
}

func TestUserID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want string
	}{
		{"10000000000001", "10000000000001"}, {"0", "0"}, {"-42", "-42"},
		{"9223372036854775807", "9223372036854775807"}, {"9223372036854775808", `"9223372036854775808"`},
		{"007", `"007"`}, {"+7", `"+7"`}, {"alice", `"alice"`}, {"1e5", `"1e5"`},
	} {
		b, _ := json.Marshal(admin.UserID(tc.id))
		if string(b) != tc.want {
			t.Errorf("UserID(%q) = %s, want %s", tc.id, b, tc.want)
		}
	}
}

// Active users with 20 active and 5,000 ended or idle sessions in the tenant cost no more than
// 1.5 × the same query with only the 20 active, + 1 RCU, as DynamoDB reports it.
func TestCostGrowsWithActiveSessionsOnly(t *testing.T) {
	measure := func(noise int) float64 {
		e := apptest.New(t)
		now := e.Clock.Now()
		if noise > 0 {
			var sessions []*pulse.Session
			for i := range noise {
				s := &pulse.Session{TenantID: "acme", UserID: fmt.Sprintf("old%d", i%500), ID: fmt.Sprintf("N%d", i),
					Key: "K", ClientIDs: []string{"web"}, IPAddress: "192.0.2.1", Device: pulse.Device{UserAgent: chromeUA}}
				if i%2 == 0 { // idle: last active 20 minutes ago, not yet expired
					s.InitiatedAt = now.Add(-time.Hour)
					s.LastActivity = now.Add(-20 * time.Minute)
					s.ExpiresAt, s.HardExpires = now.Add(10*time.Minute), now.Add(23*time.Hour)
				} else { // ended: revoked a minute ago
					s.InitiatedAt, s.LastActivity = now.Add(-2*time.Minute), now.Add(-time.Minute)
					s.ExpiresAt, s.HardExpires = now.Add(29*time.Minute), now.Add(24*time.Hour)
					s.EndReason, s.EndedAt = pulse.EndRevoked, now.Add(-time.Minute)
				}
				sessions = append(sessions, s)
			}
			if err := e.Deps.Store.Import(context.Background(), nil, sessions, time.UTC); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 20 {
			login(t, e, fmt.Sprintf("u%d", i), "192.0.2.1", chromeUA)
		}
		e.Meter.Reset()
		r := e.Do("GET", path, "", apptest.Key(e.Key)...)
		var got struct {
			Result []any `json:"result"`
		}
		r.JSON(t, &got)
		if len(got.Result) != 20 {
			t.Fatalf("with %d other sessions: %d active, want 20", noise, len(got.Result))
		}
		_, rcu, _ := e.Meter.Snapshot()
		return rcu
	}
	alone, crowded := measure(0), measure(5000)
	t.Logf("20 active alone: %.1f RCU; with 5,000 ended or idle: %.1f RCU", alone, crowded)
	apptest.CostBounded(t, alone, crowded, "with 5,000 ended or idle sessions")
}

// TestTotalIsTheRows: while 300 sessions go idle, X-Total-Count on the admin list and on
// /api/sessions/active equals the rows that paging through returns at that moment, and both are
// the sessions the window holds by its definition (store.ActiveSince). The sessions started an
// hour before and were last active across the last 10 minutes, so most of them sit in the
// bucket that straddles the window's start: the rule that counted such sessions while more than
// 200 were "in doubt" gave totals above the rows here.
func TestTotalIsTheRows(t *testing.T) {
	e := apptest.New(t)
	p := e.Deps.Config.Policy
	now := e.Clock.Now()
	var sessions []*pulse.Session
	want := map[string]time.Time{} // live session → its last activity
	for i := range 330 {
		last := now.Add(-time.Duration(i) * 2 * time.Second) // one every 2 s over 11 minutes
		init := now.Add(-time.Hour)
		if i%11 == 5 { // started over a lifetime ago, still heartbeating: past its absolute end
			init = last.Add(-p.MaxLifetime - time.Minute)
		}
		s := &pulse.Session{TenantID: "acme", UserID: fmt.Sprintf("u%d", i%40), ID: fmt.Sprintf("S%03d", i), Key: "K",
			ClientIDs: []string{"web"}, IPAddress: "192.0.2.1", Device: pulse.Device{UserAgent: chromeUA},
			InitiatedAt: init, LastActivity: last, ExpiresAt: p.Expiry(last, init.Add(p.MaxLifetime)), HardExpires: init.Add(p.MaxLifetime)}
		if i%11 == 7 { // revoked: never counted
			s.EndReason, s.EndedAt = pulse.EndRevoked, last
		}
		if i%11 != 5 && i%11 != 7 {
			want[s.ID] = last
		}
		sessions = append(sessions, s)
	}
	if len(want) != 270 {
		t.Fatalf("%d live sessions, want 270", len(want))
	}
	if err := e.Deps.Store.Import(context.Background(), nil, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
	// The management list names its sessions: check the set, not only the count.
	manage := func() (ids []string, totals []string) {
		for offset := 0; ; offset += 70 {
			r := e.Do("GET", fmt.Sprintf("/api/sessions/active?limit=70&offset=%d", offset), "", apptest.Key(e.Key)...)
			var rows []struct {
				ID string `json:"session_id"`
			}
			r.JSON(t, &rows)
			totals = append(totals, r.Header.Get("X-Total-Count"))
			for _, row := range rows {
				ids = append(ids, row.ID)
			}
			if len(rows) < 70 {
				return ids, totals
			}
		}
	}
	admin := func() (rows int, totals []string) {
		for offset := 0; ; offset += 100 {
			r := e.Do("GET", fmt.Sprintf("%s?limit=100&offset=%d", path, offset), "", apptest.Key(e.Key)...)
			var got struct {
				Result []any `json:"result"`
			}
			r.JSON(t, &got)
			totals = append(totals, r.Header.Get("X-Total-Count"))
			rows += len(got.Result)
			if len(got.Result) < 100 {
				return rows, totals
			}
		}
	}
	// Every 20 seconds for 12 minutes: the sessions go idle one by one, then bucket by bucket.
	for step := 0; step <= 36; step++ {
		at := e.Clock.Now()
		since := store.ActiveSince(at, p.ActiveWindow)
		expect := 0
		for _, last := range want {
			if !last.Before(since) {
				expect++
			}
		}
		ids, mTotals := manage()
		rows, aTotals := admin()
		for _, total := range append(mTotals, aTotals...) {
			if total != fmt.Sprint(expect) {
				t.Fatalf("at +%v: X-Total-Count %s (management %v, admin %v); rows: management %d, admin %d; want %d",
					at.Sub(now), total, mTotals, aTotals, len(ids), rows, expect)
			}
		}
		if len(ids) != expect || rows != expect {
			t.Fatalf("at +%v: management %d rows, admin %d, want %d", at.Sub(now), len(ids), rows, expect)
		}
		seen := map[string]bool{}
		for _, id := range ids {
			last, ok := want[id]
			if !ok || last.Before(since) || seen[id] {
				t.Fatalf("at +%v: row %s (live %v, last %v, since %v, twice %v)", at.Sub(now), id, ok, last, since, seen[id])
			}
			seen[id] = true
		}
		e.Clock.Add(20 * time.Second)
	}
}
