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
	e.Clock.Add(3 * time.Minute)
	second := login(t, e, "carol", "2001:db8::1", "curl/8.5.0")
	e.Clock.Add(3 * time.Minute) // idle's last activity is now 6 minutes old: outside the 5-minute window
	if r := e.Do("POST", "/api/users/alice/sessions/"+first+"/activity", "", key...); r.Status != 204 {
		t.Fatal(r.Status)
	}
	e.Clock.Add(10 * time.Second)
	r := e.Do("GET", path, "", key...)
	var got struct {
		Result []map[string]any `json:"result"`
	}
	r.JSON(t, &got)
	var ids []any
	for _, el := range got.Result {
		ids = append(ids, el["user.id"])
	}
	if want := []any{"alice", "carol"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("users %v, want %v (newest activity first; idle, revoked and other tenants' left out)", ids, want)
	}
	if a := got.Result[0]; a["duration"] != float64(6*60) || a["user.name"] != "Alice" || a["last.active.timestamp"] != float64(apptest.Start.Add(6*time.Minute).Unix()) {
		t.Errorf("alice: %v", a)
	}
	if c := got.Result[1]; c["remote.address"] != "2001:db8::1" || c["browser"] != "curl" || c["user.name"] != "" {
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
