package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddblocal"
	"github.com/pulse-sessions/pulse/shared/store"
)

// surfaces is one read request of each API surface, for env e (which must hold user u1 with
// an admin token "dash").
func surfaces(e *apptest.Env, token string) map[string]func() *apptest.Response {
	return map[string]func() *apptest.Response{
		"management": func() *apptest.Response { return e.Do("GET", "/api/users/u1", "", apptest.Key(e.Key)...) },
		"admin": func() *apptest.Response {
			return e.Do("GET", "/settings/users/active-users", "", apptest.Key(e.Key)...)
		},
		"engagement": func() *apptest.Response {
			return e.Do("GET", "/api/v1/engagement-dashboard/users/active-users?start=2026-03-01T00:00:00.000Z&end=2026-03-10T00:00:00.000Z", "",
				"X-User-Id", "u1", "X-Auth-Token", token)
		},
	}
}

// unavailable checks a 503 in the surface's own format, with Retry-After and no internals.
func unavailable(t *testing.T, surface string, r *apptest.Response) {
	t.Helper()
	if r.Status != 503 || r.Header.Get("Retry-After") == "" {
		t.Errorf("%s: %d (Retry-After %q) %s, want 503 with Retry-After", surface, r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	var body map[string]any
	r.JSON(t, &body)
	switch surface {
	case "management":
		if body["status"] != float64(503) || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("management 503 body %s", r.Body)
		}
	case "admin":
		res, _ := body["result"].([]any)
		if len(res) != 1 || res[0].(map[string]any)["response-code"] != float64(503) {
			t.Errorf("admin 503 body %s", r.Body)
		}
	case "engagement":
		if body["success"] != false {
			t.Errorf("engagement 503 body %s", r.Body)
		}
	}
	for _, leak := range []string{"dial", "refused", "127.0.0.1", "operation error", "Exception", "goroutine", ".go:"} {
		if strings.Contains(string(r.Body), leak) {
			t.Errorf("%s: the body leaks %q: %s", surface, leak, r.Body)
		}
	}
}

func adminUser(t *testing.T, e *apptest.Env) string {
	t.Helper()
	if r := e.Do("PUT", "/api/users/u1", `{"name":"U","roles":["admin"]}`, apptest.Key(e.Key)...); r.Status != 201 {
		t.Fatalf("put user: %d %s", r.Status, r.Body)
	}
	r := e.Do("POST", "/api/users/u1/tokens", `{"name":"dash"}`, apptest.Key(e.Key)...)
	var tok struct{ AuthToken string }
	r.JSON(t, &tok)
	return tok.AuthToken
}

// DynamoDB stops in the middle of a run: every surface answers 503 in its own format, nothing
// is half-written, and service resumes when DynamoDB is back.
func TestFaultDynamoDBStops(t *testing.T) {
	ctx := context.Background()
	root, err := ddblocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	jar, err := ddblocal.Ensure(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir() // on disk: the data outlives the restart
	proc, err := ddblocal.Start(ctx, ddblocal.Options{JarDir: jar, DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { proc.Stop() }()
	e := apptest.NewWith(t, apptest.Options{Endpoint: proc.Endpoint})
	token := adminUser(t, e)
	if r := e.Do("POST", "/api/users/u1/sessions", `{"client_id":"web","session_id":"before"}`, apptest.Key(e.Key)...); r.Status != 201 {
		t.Fatalf("login before the outage: %d", r.Status)
	}

	proc.Stop()
	for name, req := range surfaces(e, token) {
		unavailable(t, name, req())
	}
	r := e.Do("POST", "/api/users/u1/sessions", `{"client_id":"web","session_id":"during"}`, apptest.Key(e.Key)...)
	unavailable(t, "management", r)

	var port int
	fmt.Sscanf(proc.Endpoint[strings.LastIndex(proc.Endpoint, ":")+1:], "%d", &port)
	if proc, err = ddblocal.Start(ctx, ddblocal.Options{JarDir: jar, DataDir: data, Port: port}); err != nil {
		t.Fatal(err)
	}
	for name, req := range surfaces(e, token) {
		if r := req(); r.Status != 200 {
			t.Errorf("%s after DynamoDB came back: %d %s", name, r.Status, r.Body)
		}
	}
	if r := e.Do("GET", "/api/users/u1/sessions/during", "", apptest.Key(e.Key)...); r.Status != 404 {
		t.Errorf("the login refused during the outage: %d %s, want 404 (nothing half-written)", r.Status, r.Body)
	}
	if r := e.Do("GET", "/api/users/u1/sessions/before", "", apptest.Key(e.Key)...); r.Status != 200 {
		t.Errorf("the session from before the outage: %d", r.Status)
	}
}

// faultyTransport answers some DynamoDB calls itself, as DynamoDB would under load.
type faultyTransport struct {
	throttle  atomic.Int64 // how many more calls to refuse with throttling
	code      string       // the throttling error's type
	calls     atomic.Int64
	partial   atomic.Bool // BatchWriteItem/BatchGetItem process only half of what they are sent
	withheld  atomic.Int64
	transport http.RoundTripper
}

func (f *faultyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if f.throttle.Add(-1) >= 0 {
		body := fmt.Sprintf(`{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"Rate of requests exceeds the allowed throughput."}`, f.code)
		return &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Errortype": {f.code}},
			Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
	}
	target := req.Header.Get("X-Amz-Target")
	if f.partial.Load() && (strings.HasSuffix(target, ".BatchWriteItem") || strings.HasSuffix(target, ".BatchGetItem")) {
		return f.half(req, strings.HasSuffix(target, ".BatchWriteItem"))
	}
	return f.transport.RoundTrip(req)
}

// half sends DynamoDB the first half of a batch and answers the rest as unprocessed.
func (f *faultyTransport) half(req *http.Request, write bool) (*http.Response, error) {
	raw, _ := io.ReadAll(req.Body)
	var in map[string]json.RawMessage
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	var items map[string]json.RawMessage
	_ = json.Unmarshal(in["RequestItems"], &items)
	kept, rest := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	for table, v := range items {
		if write {
			var reqs []json.RawMessage
			_ = json.Unmarshal(v, &reqs)
			n := (len(reqs) + 1) / 2
			kept[table], _ = json.Marshal(reqs[:n])
			if len(reqs[n:]) > 0 {
				rest[table], _ = json.Marshal(reqs[n:])
				f.withheld.Add(int64(len(reqs[n:])))
			}
		} else {
			var ka struct {
				Keys []json.RawMessage `json:"Keys"`
			}
			_ = json.Unmarshal(v, &ka)
			n := (len(ka.Keys) + 1) / 2
			kept[table], _ = json.Marshal(map[string]any{"Keys": ka.Keys[:n]})
			if len(ka.Keys[n:]) > 0 {
				rest[table], _ = json.Marshal(map[string]any{"Keys": ka.Keys[n:]})
				f.withheld.Add(int64(len(ka.Keys[n:])))
			}
		}
	}
	in["RequestItems"], _ = json.Marshal(kept)
	body, _ := json.Marshal(in)
	out := req.Clone(req.Context())
	out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	resp, err := f.transport.RoundTrip(out)
	if err != nil || resp.StatusCode != 200 || len(rest) == 0 {
		return resp, err
	}
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got map[string]json.RawMessage
	if err := json.Unmarshal(respBody, &got); err != nil {
		return nil, err
	}
	field := "UnprocessedKeys"
	if write {
		field = "UnprocessedItems"
	}
	got[field], _ = json.Marshal(rest)
	merged, _ := json.Marshal(got)
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(merged)), int64(len(merged))
	resp.Header.Del("X-Amz-Crc32") // the body changed
	return resp, nil
}

func faulty() (*faultyTransport, func(*dynamodb.Options)) {
	f := &faultyTransport{transport: http.DefaultTransport.(*http.Transport).Clone()}
	return f, func(o *dynamodb.Options) { o.HTTPClient = &http.Client{Transport: f} }
}

// Throttling: the SDK retries with backoff and the request succeeds; throttling that does not
// stop is 503 in every surface's format.
func TestFaultThrottling(t *testing.T) {
	for _, code := range []string{"ProvisionedThroughputExceededException", "ThrottlingException"} {
		t.Run(code, func(t *testing.T) {
			f, opt := faulty()
			f.code = code
			e := apptest.NewWith(t, apptest.Options{Client: opt})
			token := adminUser(t, e)
			f.calls.Store(0)
			f.throttle.Store(2) // the first call is refused twice, then let through
			if r := e.Do("GET", "/api/users/u1", "", apptest.Key(e.Key)...); r.Status != 200 {
				t.Fatalf("throttled twice: %d %s, want 200 after the SDK's retries", r.Status, r.Body)
			}
			if n := f.calls.Load(); n != 4 { // 3 attempts of the key lookup, then the user
				t.Errorf("%d HTTP calls to DynamoDB, want 4 (two retries)", n)
			}
			for name, req := range surfaces(e, token) {
				f.throttle.Store(1 << 30)
				unavailable(t, name, req())
			}
			f.throttle.Store(0)
			if r := e.Do("GET", "/api/users/u1", "", apptest.Key(e.Key)...); r.Status != 200 {
				t.Errorf("after the throttling: %d", r.Status)
			}
		})
	}
}

// Batches that DynamoDB leaves partly unprocessed are retried until everything is done.
func TestFaultUnprocessedBatchItems(t *testing.T) {
	f, opt := faulty()
	e := apptest.NewWith(t, apptest.Options{Client: opt})
	key := apptest.Key(e.Key)
	sweep := func() {
		if _, err := e.Cleanup(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	sweep() // the scheduled function's own items (rollups of ended days) before the baseline
	baseline := e.ItemsBesideCounters()
	for i := range 30 {
		if r := e.Do("POST", "/api/users/u1/sessions", fmt.Sprintf(`{"client_id":"web","session_id":"S%02d"}`, i), key...); r.Status != 201 {
			t.Fatalf("login: %d", r.Status)
		}
	}
	f.partial.Store(true)
	r := e.Do("GET", "/settings/users/active-users", "", key...)
	var active struct{ Result []any }
	r.JSON(t, &active)
	if len(active.Result) != 30 {
		t.Errorf("active users with half of each BatchGetItem unprocessed: %d, want 30", len(active.Result))
	}
	if r := e.Do("DELETE", "/api/users/u1", "", key...); r.Status != 204 {
		t.Fatalf("delete user: %d %s", r.Status, r.Body)
	}
	// The erasure's tombstone goes at the scheduled function's next run after its grace.
	e.Clock.Add(10 * time.Minute)
	sweep()
	if f.withheld.Load() == 0 {
		t.Fatal("no batch item was ever withheld: the test tested nothing")
	}
	f.partial.Store(false)
	if n := e.ItemsBesideCounters(); n != baseline {
		t.Errorf("%d items left after deleting the user with half of each batch unprocessed, want %d as before", n, baseline)
	}
}

// panicky makes every DynamoDB call panic while armed: a bug on a request path.
type panicky struct {
	store.API
	armed *atomic.Bool
}

func (p panicky) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if p.armed.Load() {
		panic("injected: a bug deep in a handler")
	}
	return p.API.GetItem(ctx, in, o...)
}

// A handler panic is the surface's 500, logged with the request ID, and the next request is served.
func TestFaultHandlerPanic(t *testing.T) {
	var armed atomic.Bool
	e := apptest.NewWith(t, apptest.Options{WrapDB: func(api store.API) store.API { return panicky{api, &armed} }})
	token := adminUser(t, e)
	want := map[string]string{
		"management": `"status":500`,
		"admin":      `"response-code":500`,
		"engagement": `{"success":false,"error":"Internal server error"}`,
	}
	for name, req := range surfaces(e, token) {
		armed.Store(true)
		r := req()
		armed.Store(false)
		if r.Status != 500 || !strings.Contains(string(r.Body), want[name]) || strings.Contains(string(r.Body), "injected") {
			t.Errorf("%s: %d %s, want its own 500 without internals", name, r.Status, r.Body)
		}
		if r := req(); r.Status != 200 {
			t.Errorf("%s: the next request: %d", name, r.Status)
		}
	}
	var panics int
	for _, line := range strings.Split(e.Logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "panic" {
			panics++
			if id, _ := m["request_id"].(string); id == "" || !strings.Contains(fmt.Sprint(m["panic"]), "injected") {
				t.Errorf("panic log without request ID or cause: %s", line)
			}
		}
	}
	if panics != 3 {
		t.Errorf("%d panics logged, want 3", panics)
	}
}
