package manage_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36"

// The README's walkthrough, step by step, through real HTTP and the Lambda adapter.
func TestWalkthrough(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)

	r := e.Do("PUT", "/api/users/alice", `{"name":"Alice","type":"Member","roles":["admin"]}`, key...)
	if r.Status != 201 {
		t.Fatalf("PUT user: %d %s, want 201", r.Status, r.Body)
	}
	var u map[string]any
	r.JSON(t, &u)
	want := map[string]any{"user_id": "alice", "name": "Alice", "type": "Member", "roles": []any{"admin"},
		"created_at": float64(apptest.Start.Unix()), "updated_at": float64(apptest.Start.Unix())}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("PUT user body = %v, want %v", u, want)
	}
	e.Clock.Add(time.Minute)
	if r := e.Do("PUT", "/api/users/alice", `{"name":"Alice B","type":"Member","roles":[]}`, key...); r.Status != 200 {
		t.Fatalf("PUT user again: %d %s, want 200", r.Status, r.Body)
	}
	if r := e.Do("GET", "/api/users/alice", "", key...); r.Status != 200 || !strings.Contains(string(r.Body), `"name":"Alice B"`) {
		t.Fatalf("GET user: %d %s", r.Status, r.Body)
	}

	r = e.Do("POST", "/api/users/alice/sessions", `{"client_id":"web","ip_address":"192.0.2.10"}`, append(key, "User-Agent", chromeUA)...)
	if r.Status != 201 {
		t.Fatalf("create session: %d %s, want 201", r.Status, r.Body)
	}
	var s map[string]any
	r.JSON(t, &s)
	id, _ := s["session_id"].(string)
	if len(id) != 32 || r.Header.Get("Location") != "/api/users/alice/sessions/"+id {
		t.Errorf("session_id %q, Location %q", id, r.Header.Get("Location"))
	}
	md := s["last_metadata"].(map[string]any)
	if md["user_agent"] != chromeUA || md["ip_address"] != "192.0.2.10" {
		t.Errorf("last_metadata = %v: want the request's User-Agent and the body's IP", md)
	}

	e.Clock.Add(30 * time.Second)
	if r := e.Do("POST", "/api/users/alice/sessions/"+id+"/activity", `{"client_id":"mobile"}`, key...); r.Status != 204 || len(r.Body) != 0 {
		t.Fatalf("activity: %d %s, want 204 and no body", r.Status, r.Body)
	}
	r = e.Do("GET", "/api/users/alice/sessions/"+id, "", key...)
	r.JSON(t, &s)
	if s["last_updated"] != float64(e.Clock.Now().Unix()) || !reflect.DeepEqual(s["client_ids"], []any{"mobile", "web"}) {
		t.Errorf("after activity: last_updated %v client_ids %v", s["last_updated"], s["client_ids"])
	}
	if _, ok := s["ended_at"]; ok {
		t.Errorf("a live session shows ended_at: %s", r.Body)
	}

	e.Clock.Add(2 * time.Minute)
	batch := fmt.Sprintf(`{"activity":[{"user_id":"alice","session_id":%q,"at":%d},{"user_id":"alice","session_id":"nope"}]}`, id, e.Clock.Now().Unix()-5)
	if r := e.Do("POST", "/api/activity", batch, key...); r.Status != 200 ||
		string(r.Body) != `{"results":[{"status":204},{"status":404,"type":"https://httpstatuses.io/404","title":"Not Found","detail":"Session nope not found."}]}`+"\n" {
		t.Fatalf("batch: %d %s", r.Status, r.Body)
	}
	r = e.Do("GET", "/api/users/alice/sessions/"+id, "", key...)
	r.JSON(t, &s)
	if s["last_updated"] != float64(e.Clock.Now().Unix()-5) {
		t.Errorf("after the batch: last_updated %v, want the entry's at", s["last_updated"])
	}

	if r := e.Do("DELETE", "/api/users/alice/sessions/"+id, "", key...); r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	r = e.Do("GET", "/api/users/alice/sessions/"+id, "", key...)
	r.JSON(t, &s)
	if s["end_reason"] != "revoked" || s["ended_at"] != float64(e.Clock.Now().Unix()) {
		t.Errorf("revoked session: end_reason %v ended_at %v", s["end_reason"], s["ended_at"])
	}
	if r := e.Do("POST", "/api/users/alice/sessions/"+id+"/activity", "", key...); r.Status != 409 {
		t.Errorf("activity on a revoked session: %d %s, want 409", r.Status, r.Body)
	}

	e.Do("POST", "/api/users/alice/sessions", `{"client_id":"web"}`, key...)
	if r := e.Do("DELETE", "/api/users/alice/sessions", "", key...); r.Status != 204 {
		t.Fatalf("revoke all: %d %s", r.Status, r.Body)
	}
	if r := e.Do("DELETE", "/api/users/alice", "", key...); r.Status != 204 {
		t.Fatalf("delete user: %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", "/api/users/alice", "", key...); r.Status != 404 {
		t.Errorf("GET deleted user: %d, want 404", r.Status)
	}
	if r := e.Do("GET", "/api/users/alice/sessions/"+id, "", key...); r.Status != 404 {
		t.Errorf("GET a deleted user's session: %d, want 404", r.Status)
	}
}

// A created session has exactly the keys and types of the spec's example (MonoCloud's user sessions API,
// copied into testdata) plus Pulse's documented additions new_device and new_location, with
// latitude and longitude as strings and region the continent.
func TestSessionMatchesSpecShape(t *testing.T) {
	e := apptest.New(t)
	data, err := os.ReadFile("testdata/user-sessions.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec []any
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	h := append(apptest.Key(e.Key), "CloudFront-Viewer-Country", "US", "CloudFront-Viewer-City", "Los Angeles",
		"CloudFront-Viewer-Latitude", "34.043238", "CloudFront-Viewer-Longitude", "-118.250918", "User-Agent", "The User Agent")
	r := e.Do("POST", "/api/users/u1/sessions", `{"client_id":"eCOGRJYpnNwwAAuCeReEW"}`, h...)
	if r.Status != 201 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var got any
	r.JSON(t, &got)
	shape := spec[0].(map[string]any)
	shape["new_device"], shape["new_location"] = false, false
	if g, w := apptest.Shape(got), apptest.Shape(shape); !reflect.DeepEqual(g, w) {
		t.Errorf("session shape\n got %v\nwant %v", g, w)
	}
	md := got.(map[string]any)["last_metadata"].(map[string]any)
	want := map[string]any{"country": "United States of America", "city": "Los Angeles", "latitude": "34.043238",
		"ip_address": "127.0.0.1", "region": "North America", "user_agent": "The User Agent", "longitude": "-118.250918"}
	if !reflect.DeepEqual(md, want) {
		t.Errorf("last_metadata = %v, want %v (CloudFront headers describe the caller itself)", md, want)
	}
	key := got.(map[string]any)["session_key"].(string)
	if len(key) != 64 || strings.ToUpper(key) != key {
		t.Errorf("session_key %q: want 64 upper-case hex digits as in the spec", key)
	}
}

func TestIdempotentCreate(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	body := `{"client_id":"web","session_id":"96484D319ACC21380CCE026E54807B4D","ip_address":"192.0.2.1","user_agent":"UA"}`
	r1 := e.Do("POST", "/api/users/u1/sessions", body, key...)
	e.Clock.Add(time.Second)
	r2 := e.Do("POST", "/api/users/u1/sessions", body, key...)
	if r1.Status != 201 || r2.Status != 201 || string(r1.Body) != string(r2.Body) {
		t.Fatalf("same request twice: %d %s / %d %s; want the same 201 body", r1.Status, r1.Body, r2.Status, r2.Body)
	}
	items := e.Items()
	r3 := e.Do("POST", "/api/users/u1/sessions", strings.Replace(body, `"web"`, `"mobile"`, 1), key...)
	if r3.Status != 409 {
		t.Fatalf("conflicting reuse: %d %s, want 409", r3.Status, r3.Body)
	}
	if e.Items() != items {
		t.Error("a conflicting create wrote something")
	}
}

func problemOf(t *testing.T, r *apptest.Response) map[string]any {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json (body %s)", ct, r.Body)
	}
	var p map[string]any
	r.JSON(t, &p)
	for _, k := range []string{"type", "title", "status", "detail", "instance", "traceId"} {
		if _, ok := p[k]; !ok {
			t.Errorf("problem lacks %q: %s", k, r.Body)
		}
	}
	if p["status"] != float64(r.Status) || p["title"] != http.StatusText(r.Status) || p["type"] != fmt.Sprintf("https://httpstatuses.io/%d", r.Status) && p["type"] != "https://httpstatuses.io/422#validation-error" {
		t.Errorf("problem %s does not match status %d", r.Body, r.Status)
	}
	if id, _ := p["traceId"].(string); id == "" {
		t.Errorf("problem without traceId: %s", r.Body)
	}
	return p
}

func TestAuthErrors(t *testing.T) {
	e := apptest.New(t)
	readOnly := e.NewTenant("acme", pulse.ScopeUsersRead)
	e.Do("PUT", "/api/users/alice", `{"name":"A"}`, apptest.Key(e.Key)...)
	items := e.Items()
	for _, tc := range []struct {
		name, method, path string
		headers            []string
		status             int
	}{
		{"no key", "GET", "/api/users/alice", nil, 401},
		{"unknown key", "GET", "/api/users/alice", apptest.Key("pulse_notakey"), 401},
		{"key without prefix", "GET", "/api/users/alice", apptest.Key("hunter2"), 401},
		{"bearer is not accepted here", "GET", "/api/users/alice", []string{"Authorization", "Bearer " + e.Key}, 401},
		{"key sent twice", "GET", "/api/users/alice", []string{"X-API-KEY", e.Key, "X-API-KEY", e.Key}, 401},
		{"missing scope", "PUT", "/api/users/alice", apptest.Key(readOnly), 403},
		{"missing scope for sessions", "POST", "/api/users/alice/sessions", apptest.Key(readOnly), 403},
		{"another tenant's user", "GET", "/api/users/alice", apptest.Key(e.OKey), 404},
		{"another tenant's user, delete", "DELETE", "/api/users/alice", apptest.Key(e.OKey), 404},
		{"scope granted", "GET", "/api/users/alice", apptest.Key(readOnly), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.For(t)
			body := ""
			if tc.method != "GET" && tc.method != "DELETE" {
				body = `{"name":"Mallory","client_id":"web"}`
			}
			r := e.Do(tc.method, tc.path, body, tc.headers...)
			if r.Status != tc.status {
				t.Fatalf("%d %s, want %d", r.Status, r.Body, tc.status)
			}
			if tc.status >= 400 {
				problemOf(t, r)
			}
		})
	}
	if e.Items() != items {
		t.Error("a refused request wrote something")
	}
}

// Golden bodies of the errors whose text Pulse chooses: everything but traceId is fixed.
func TestErrorBodiesGolden(t *testing.T) {
	e := apptest.New(t)
	for _, tc := range []struct {
		name, method, path, body string
		headers                  []string
		want                     string
	}{
		{"401", "GET", "/api/users/alice", "", nil,
			`{"type":"https://httpstatuses.io/401","title":"Unauthorized","status":401,"detail":"Invalid or missing API key.","instance":"/api/users/alice"}`},
		{"404", "GET", "/api/users/alice", "", apptest.Key(e.Key),
			`{"type":"https://httpstatuses.io/404","title":"Not Found","status":404,"detail":"User alice not found.","instance":"/api/users/alice"}`},
		{"422", "POST", "/api/users/alice/sessions", `{"client_id":7}`, apptest.Key(e.Key),
			`{"type":"https://httpstatuses.io/422#validation-error","title":"Unprocessable Entity","status":422,"detail":"One or more validation errors occurred.","instance":"/api/users/alice/sessions","errors":{"client_id":["must be a string."]}}`},
		{"400", "POST", "/api/users/alice/sessions", `{"client_id":`, apptest.Key(e.Key),
			`{"type":"https://httpstatuses.io/400","title":"Bad Request","status":400,"detail":"The request body is not valid JSON.","instance":"/api/users/alice/sessions"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.For(t)
			r := e.Do(tc.method, tc.path, tc.body, tc.headers...)
			var got map[string]any
			r.JSON(t, &got)
			if id, _ := got["traceId"].(string); id == "" {
				t.Errorf("no traceId in %s", r.Body)
			}
			delete(got, "traceId")
			b, _ := json.Marshal(got)
			var want map[string]any
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			wb, _ := json.Marshal(want)
			if string(b) != string(wb) {
				t.Errorf("body\n got %s\nwant %s", b, wb)
			}
		})
	}
}

// Every endpoint refuses bad input with a 4xx problem+json and writes nothing.
func TestBadInputWritesNothing(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	r := e.Do("POST", "/api/users/alice/sessions", `{"client_id":"web","session_id":"S1"}`, key...)
	if r.Status != 201 {
		t.Fatalf("setup: %d %s", r.Status, r.Body)
	}
	items := e.Items()
	long := strings.Repeat("a", 300)
	big := `{"client_id":"web","user_agent":"` + strings.Repeat("x", 20<<10) + `"}`
	type req struct{ method, path, body, contentType string }
	endpoints := []req{
		{"PUT", "/api/users/%s", `{"name":"N"}`, ""},
		{"GET", "/api/users/%s", "", ""},
		{"DELETE", "/api/users/%s", "", ""},
		{"POST", "/api/users/%s/sessions", `{"client_id":"web"}`, ""},
		{"GET", "/api/users/alice/sessions/%s", "", ""},
		{"POST", "/api/users/alice/sessions/%s/activity", `{}`, ""},
		{"DELETE", "/api/users/alice/sessions/%s", "", ""},
		{"DELETE", "/api/users/%s/sessions", "", ""},
	}
	for _, ep := range endpoints {
		for _, bad := range []string{"a%23b", "a%2Fb", long, "%C3%A9", "a%00b", "a%20b"} {
			name := fmt.Sprintf("%s %s id=%.12s", ep.method, ep.path, bad)
			t.Run(name, func(t *testing.T) {
				e := e.For(t)
				r := e.Do(ep.method, fmt.Sprintf(ep.path, bad), ep.body, key...)
				if r.Status != 400 {
					t.Fatalf("%d %s, want 400", r.Status, r.Body)
				}
				if p := problemOf(t, r); strings.ContainsAny(p["instance"].(string), "\x00 #") {
					t.Errorf("instance %q echoes the raw path", p["instance"])
				}
			})
		}
	}
	for _, tc := range []struct {
		name, method, path, body, contentType string
		status                                int
		field                                 string
	}{
		{"malformed JSON", "POST", "/api/users/bob/sessions", `{"client_id":"web"`, "", 400, ""},
		{"not an object", "POST", "/api/users/bob/sessions", `["web"]`, "", 400, ""},
		{"two objects", "POST", "/api/users/bob/sessions", `{"client_id":"web"}{}`, "", 400, ""},
		{"empty body", "POST", "/api/users/bob/sessions", "", "", 400, ""},
		{"oversize body", "POST", "/api/users/bob/sessions", big, "", 413, ""},
		{"wrong content type", "POST", "/api/users/bob/sessions", `{"client_id":"web"}`, "text/plain", 415, ""},
		{"client_id missing", "POST", "/api/users/bob/sessions", `{}`, "", 422, "client_id"},
		{"client_id empty", "POST", "/api/users/bob/sessions", `{"client_id":""}`, "", 422, "client_id"},
		{"client_id with #", "POST", "/api/users/bob/sessions", `{"client_id":"a#b"}`, "", 422, "client_id"},
		{"client_id wrong type", "POST", "/api/users/bob/sessions", `{"client_id":["web"]}`, "", 422, "client_id"},
		{"session_id with /", "POST", "/api/users/bob/sessions", `{"client_id":"web","session_id":"a/b"}`, "", 422, "session_id"},
		{"session_id 300 chars", "POST", "/api/users/bob/sessions", `{"client_id":"web","session_id":"` + long + `"}`, "", 422, "session_id"},
		{"bad IP", "POST", "/api/users/bob/sessions", `{"client_id":"web","ip_address":"999.1.1.1"}`, "", 422, "ip_address"},
		{"IP wrong type", "POST", "/api/users/bob/sessions", `{"client_id":"web","ip_address":17}`, "", 422, "ip_address"},
		{"user_agent too long", "POST", "/api/users/bob/sessions", `{"client_id":"web","user_agent":"` + strings.Repeat("x", 2000) + `"}`, "", 422, "user_agent"},
		{"user name wrong type", "PUT", "/api/users/bob", `{"name":5}`, "", 422, "name"},
		{"user roles wrong type", "PUT", "/api/users/bob", `{"roles":"admin"}`, "", 422, "roles"},
		{"user role with #", "PUT", "/api/users/bob", `{"roles":["a#b"]}`, "", 422, "roles"},
		{"user name with control character", "PUT", "/api/users/bob", `{"name":"a\u0007b"}`, "", 422, "name"},
		{"user malformed", "PUT", "/api/users/bob", `{"name":`, "", 400, ""},
		{"activity bad IP", "POST", "/api/users/alice/sessions/S1/activity", `{"ip_address":"nope"}`, "", 422, "ip_address"},
		{"activity client_id wrong type", "POST", "/api/users/alice/sessions/S1/activity", `{"client_id":1}`, "", 422, "client_id"},
		{"activity malformed", "POST", "/api/users/alice/sessions/S1/activity", `{`, "", 400, ""},
		{"activity unknown session", "POST", "/api/users/alice/sessions/S2/activity", `{}`, "", 404, ""},
		{"activity unknown user", "POST", "/api/users/bob/sessions/S1/activity", `{}`, "", 404, ""},
		{"revoke unknown", "DELETE", "/api/users/alice/sessions/S2", "", "", 404, ""},
		{"revoke all unknown user", "DELETE", "/api/users/bob/sessions", "", "", 404, ""},
		{"delete unknown user", "DELETE", "/api/users/bob", "", "", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.For(t)
			h := key
			if tc.contentType != "" {
				h = append(append([]string{}, key...), "Content-Type", "")
				h = append(h, "Content-Type", tc.contentType)
			}
			r := e.Do(tc.method, tc.path, tc.body, h...)
			if r.Status != tc.status {
				t.Fatalf("%d %s, want %d", r.Status, r.Body, tc.status)
			}
			p := problemOf(t, r)
			if tc.field != "" {
				errs, _ := p["errors"].(map[string]any)
				if _, ok := errs[tc.field]; !ok {
					t.Errorf("errors %v do not name %s", errs, tc.field)
				}
			}
		})
	}
	if got := e.Items(); got != items {
		t.Errorf("table holds %d items after bad requests, want %d: something was written", got, items)
	}
}

func TestUnknownRouteIsGatewayNotFound(t *testing.T) {
	e := apptest.New(t)
	for _, path := range []string{"/api/users", "/api/users/", "/nope", "/api/users/a/b/c/d"} {
		r := e.Do("GET", path, "", apptest.Key(e.Key)...)
		if r.Status != 404 || string(r.Body) != `{"message":"Not Found"}` {
			t.Errorf("GET %s: %d %s, want API Gateway's 404", path, r.Status, r.Body)
		}
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	e := apptest.New(t)
	e.Do("POST", "/api/users/u1/sessions", `{"client_id":"web"}`, apptest.Key(e.Key)...)
	e.Do("GET", "/api/users/u1", "", apptest.Key(e.Key+"x")...)
	logs := e.Logs.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Fatalf("no request logs captured: %q", logs)
	}
	for _, secret := range []string{e.Key, e.OKey, strings.TrimPrefix(e.Key, "pulse_")} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain an API key")
		}
	}
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	sort.Strings(lines)
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("log line is not JSON: %s", l)
		} else if m["msg"] == "request" && m["request_id"] == "" {
			t.Errorf("request log without request_id: %s", l)
		}
	}
}
