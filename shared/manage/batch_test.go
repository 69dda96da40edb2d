package manage_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/store"
)

// The tests of POST /api/activity, the batch of heartbeats, over HTTP through the Lambda adapter.

// result is one entry's answer as the batch writes it.
type result struct {
	Status     int                 `json:"status"`
	Type       string              `json:"type"`
	Title      string              `json:"title"`
	Detail     string              `json:"detail"`
	Errors     map[string][]string `json:"errors"`
	RetryAfter int                 `json:"retry_after"`
}

// postBatch sends entries (JSON objects as text) as one batch and returns the answer.
func postBatch(e *apptest.Env, key string, entries ...string) (*apptest.Response, []result) {
	e.T.Helper()
	r := e.Do("POST", "/api/activity", `{"activity":[`+strings.Join(entries, ",")+`]}`, apptest.Key(key)...)
	if r.Status != 200 {
		return r, nil
	}
	var body struct{ Results []result }
	r.JSON(e.T, &body)
	if len(body.Results) != len(entries) {
		e.T.Fatalf("%d results for %d entries: %s", len(body.Results), len(entries), r.Body)
	}
	return r, body.Results
}

// login creates session id of user through the API.
func login(e *apptest.Env, key, user, id string) {
	e.T.Helper()
	if r := e.Do("POST", "/api/users/"+user+"/sessions", `{"client_id":"web","ip_address":"192.0.2.1","session_id":"`+id+`"}`, apptest.Key(key)...); r.Status != 201 {
		e.T.Fatalf("login %s/%s: %d %s", user, id, r.Status, r.Body)
	}
}

func lastActivity(e *apptest.Env, tenant, user, id string) time.Time {
	e.T.Helper()
	s, err := e.Deps.Store.GetSession(context.Background(), tenant, user, id)
	if err != nil {
		e.T.Fatal(err)
	}
	return s.LastActivity
}

func statuses(rs []result) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Status
	}
	return out
}

// counting counts the reads a batch makes: one key check and one BatchGetItem per 100
// sessions, never a read per entry.
type counting struct {
	store.API
	gets, batchGets *atomic.Int64
}

func (c counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	return c.API.GetItem(ctx, in, o...)
}

func (c counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.batchGets.Add(1)
	return c.API.BatchGetItem(ctx, in, o...)
}

// batchReads records the BatchGetItem calls a batch makes: whether each was strongly
// consistent, and how many keys it asked for.
type batchReads struct {
	store.API
	mu    *sync.Mutex
	reads *[]string // "consistent:3", "eventual:4"
}

func (b batchReads) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	for _, ka := range in.RequestItems {
		read := "eventual"
		if aws.ToBool(ka.ConsistentRead) {
			read = "consistent"
		}
		b.mu.Lock()
		*b.reads = append(*b.reads, fmt.Sprintf("%s:%d", read, len(ka.Keys)))
		b.mu.Unlock()
	}
	return b.API.BatchGetItem(ctx, in, o...)
}

// A batch of good entries: every one 204, every session's activity where its entry put it
// (now, or its "at"), its address and client as sent; one key check and one read of the
// sessions for the whole batch.
func TestBatchAllGood(t *testing.T) {
	var gets, batchGets atomic.Int64
	e := apptest.NewWith(t, apptest.Options{WrapDB: func(api store.API) store.API { return counting{api, &gets, &batchGets} }})
	const n = 60
	for i := range n {
		login(e, e.Key, fmt.Sprintf("u%d", i%20), fmt.Sprintf("S%02d", i))
	}
	e.Clock.Add(5 * time.Minute)
	now := e.Clock.Now()
	var entries []string
	for i := range n {
		entry := fmt.Sprintf(`{"user_id":"u%d","session_id":"S%02d"`, i%20, i)
		switch i % 3 {
		case 1:
			entry += fmt.Sprintf(`,"at":%d`, now.Add(-90*time.Second).Unix())
		case 2:
			entry += `,"client_id":"ios","ip_address":"198.51.100.7","user_agent":"` + chromeUA + `"`
		}
		entries = append(entries, entry+"}")
	}
	gets.Store(0)
	batchGets.Store(0)
	_, results := postBatch(e, e.Key, entries...)
	for i, r := range results {
		if r.Status != 204 || !reflect.DeepEqual(r, result{Status: 204}) {
			t.Errorf("entry %d: %+v, want {status: 204} alone", i, r)
		}
	}
	if g, b := gets.Load(), batchGets.Load(); g > 2 || b != 1 {
		t.Errorf("%d GetItem and %d BatchGetItem calls for %d entries: want the key (and tenant) and one batch read", g, b, n)
	}
	for i := range n {
		s, err := e.Deps.Store.GetSession(context.Background(), "acme", fmt.Sprintf("u%d", i%20), fmt.Sprintf("S%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		want := now
		if i%3 == 1 {
			want = now.Add(-90 * time.Second)
		}
		if !s.LastActivity.Equal(want) || !s.ExpiresAt.Equal(want.Add(e.Deps.Store.Policy().IdleTimeout)) {
			t.Errorf("S%02d: last activity %v, expires %v; want %v and the idle timeout after it", i, s.LastActivity, s.ExpiresAt, want)
		}
		if i%3 == 2 && (s.IPAddress != "198.51.100.7" || s.Device.Browser != "Chrome" || !reflect.DeepEqual(slices.Sorted(slices.Values(s.ClientIDs)), []string{"ios", "web"})) {
			t.Errorf("S%02d: %s %s %v; want the entry's address, browser and client added", i, s.IPAddress, s.Device.Browser, s.ClientIDs)
		}
	}
}

// Mixed entries are answered one by one, in order, each as the single route would answer it;
// another tenant's session is missing, not forbidden, and is left as it was. The sessions are
// read once, eventually consistent; the ones that read shows missing or ended (here nope, S2
// and G1) are read again, strongly consistent, before they are answered so.
func TestBatchMixedAnswersInOrder(t *testing.T) {
	var mu sync.Mutex
	var reads []string
	e := apptest.NewWith(t, apptest.Options{WrapDB: func(api store.API) store.API { return batchReads{api, &mu, &reads} }})
	login(e, e.Key, "u1", "S1")
	login(e, e.Key, "u1", "S2")
	login(e, e.OKey, "u9", "G1")
	if r := e.Do("DELETE", "/api/users/u1/sessions/S2", "", apptest.Key(e.Key)...); r.Status != 204 {
		t.Fatal(r.Status)
	}
	foreign := lastActivity(e, "globex", "u9", "G1")
	e.Clock.Add(2 * time.Minute)
	now := e.Clock.Now().Unix()
	mu.Lock()
	reads = nil
	mu.Unlock()
	_, results := postBatch(e, e.Key,
		`{"user_id":"u1","session_id":"S1"}`,
		`{"user_id":"u1","session_id":"nope"}`,
		`{"user_id":"u1","session_id":"S2"}`,
		`{"user_id":"a b","session_id":"S1"}`,
		fmt.Sprintf(`{"user_id":"u1","session_id":"S1","at":%d}`, now+1),
		`{"user_id":"u9","session_id":"G1"}`,
		fmt.Sprintf(`{"user_id":"u1","session_id":"S1","at":%d}`, now-31*60),
		`{"session_id":"S1","at":1.5}`,
		`{"user_id":5,"session_id":"S1"}`,
		`{"user_id":"u1","session_id":"S1","client_id":"ios"}`,
	)
	want := []int{204, 404, 409, 422, 422, 404, 422, 422, 422, 204}
	if got := statuses(results); !reflect.DeepEqual(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if want := []string{"eventual:4", "consistent:3"}; !reflect.DeepEqual(reads, want) {
		t.Errorf("batch reads %v, want %v", reads, want)
	}
	for i, w := range map[int]result{
		1: {Status: 404, Type: "https://httpstatuses.io/404", Title: "Not Found", Detail: "Session nope not found."},
		2: {Status: 409, Type: "https://httpstatuses.io/409", Title: "Conflict", Detail: "Session S2 has ended."},
		3: {Status: 422, Type: "https://httpstatuses.io/422#validation-error", Title: "Unprocessable Entity", Detail: "One or more validation errors occurred.",
			Errors: map[string][]string{"user_id": {"must use only letters, digits and _-.@+: characters."}}},
		4: {Status: 422, Type: "https://httpstatuses.io/422#validation-error", Title: "Unprocessable Entity", Detail: "One or more validation errors occurred.",
			Errors: map[string][]string{"at": {"must not be in the future."}}},
		5: {Status: 404, Type: "https://httpstatuses.io/404", Title: "Not Found", Detail: "Session G1 not found."},
		6: {Status: 422, Type: "https://httpstatuses.io/422#validation-error", Title: "Unprocessable Entity", Detail: "One or more validation errors occurred.",
			Errors: map[string][]string{"at": {"must be at most SESSION_IDLE_TIMEOUT (1800 seconds) in the past."}}},
		7: {Status: 422, Type: "https://httpstatuses.io/422#validation-error", Title: "Unprocessable Entity", Detail: "One or more validation errors occurred.",
			Errors: map[string][]string{"user_id": {"is required."}, "at": {"must be a whole number of seconds since 1970 (Unix time)."}}},
		8: {Status: 422, Type: "https://httpstatuses.io/422#validation-error", Title: "Unprocessable Entity", Detail: "One or more validation errors occurred.",
			Errors: map[string][]string{"user_id": {"must be a string."}}},
	} {
		if !reflect.DeepEqual(results[i], w) {
			t.Errorf("entry %d: %+v, want %+v", i, results[i], w)
		}
	}
	s, err := e.Deps.Store.GetSession(context.Background(), "acme", "u1", "S1")
	if err != nil {
		t.Fatal(err)
	}
	if !s.LastActivity.Equal(e.Clock.Now()) || !reflect.DeepEqual(slices.Sorted(slices.Values(s.ClientIDs)), []string{"ios", "web"}) {
		t.Errorf("S1: last activity %v, clients %v; want now and the last entry's client", s.LastActivity, s.ClientIDs)
	}
	if got := lastActivity(e, "globex", "u9", "G1"); !got.Equal(foreign) {
		t.Errorf("globex's session moved from %v to %v through acme's key", foreign, got)
	}
	if !strings.Contains(e.Logs.String(), `"msg":"batch entries refused"`) {
		t.Error("the refused entries are not in the log")
	}
}

// A body that is not a batch, or one too large, is refused whole in the management surface's
// problem format, and nothing changes, not even its good entries.
func TestBatchRefusedWhole(t *testing.T) {
	e := apptest.New(t)
	login(e, e.Key, "u1", "S1")
	e.Clock.Add(2 * time.Minute)
	good := `{"user_id":"u1","session_id":"S1"}`
	many := strings.TrimSuffix(strings.Repeat(good+",", 1001), ",")
	huge := `{"user_id":"u1","session_id":"S1","user_agent":"` + strings.Repeat("x", 2<<20) + `"}`
	before, items := lastActivity(e, "acme", "u1", "S1"), e.Items()
	for _, tc := range []struct {
		name, body, contentType string
		status                  int
		detail                  string
		errors                  map[string][]string
	}{
		{"1,001 entries", `{"activity":[` + many + `]}`, "", 413, "The batch holds 1001 entries; at most 1000 are taken in one request.", nil},
		{"over 2 MiB", `{"activity":[` + good + `,` + huge + `]}`, "", 413, "The request body is larger than 2097152 bytes.", nil},
		{"no activity", `{"entries":[` + good + `]}`, "", 422, "One or more validation errors occurred.", map[string][]string{"activity": {"is required."}}},
		{"activity not an array", `{"activity":` + good + `}`, "", 422, "One or more validation errors occurred.", map[string][]string{"activity": {"must be an array."}}},
		{"an entry not an object", `{"activity":[` + good + `,"S1"]}`, "", 422, "One or more validation errors occurred.", map[string][]string{"activity[1]": {"must be an object."}}},
		{"an entry null", `{"activity":[null,` + good + `]}`, "", 422, "One or more validation errors occurred.", map[string][]string{"activity[0]": {"must be an object."}}},
		{"not JSON", `{"activity":[` + good, "", 400, "The request body is not valid JSON.", nil},
		{"a key twice", `{"activity":[{"user_id":"u1","user_id":"u2","session_id":"S1"}]}`, "", 400, `The request body names "user_id" twice in one object.`, nil},
		{"not declared JSON", `{"activity":[` + good + `]}`, "text/plain", 415, "The request body must be application/json (Content-Type).", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.For(t)
			headers := apptest.Key(e.Key)
			if tc.contentType != "" {
				headers = append(headers, "Content-Type", "")
				headers = append(headers, "Content-Type", tc.contentType)
			}
			r := e.Do("POST", "/api/activity", tc.body, headers...)
			var p struct {
				Status int
				Detail string
				Errors map[string][]string
			}
			r.JSON(t, &p)
			if r.Status != tc.status || p.Status != tc.status || p.Detail != tc.detail || !reflect.DeepEqual(p.Errors, tc.errors) ||
				r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%d %s\nwant %d %q %v", r.Status, r.Body, tc.status, tc.detail, tc.errors)
			}
			if got := lastActivity(e, "acme", "u1", "S1"); !got.Equal(before) || e.Items() != items {
				t.Errorf("the refused batch changed the session (%v → %v) or the table (%d → %d items)", before, got, items, e.Items())
			}
		})
	}
}

// slowUpdates holds every session write whose key names a "slow-" session until the request's
// context ends, while armed: a stand-in for a network or a table that stops answering.
type slowUpdates struct {
	store.API
	armed *atomic.Bool
}

func (s slowUpdates) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if sk, ok := in.Key["sk"].(*types.AttributeValueMemberS); ok && s.armed.Load() && strings.HasPrefix(sk.Value, "S#slow-") {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.API.UpdateItem(ctx, in, o...)
}

// Entries the function's deadline cuts — in flight, or not yet started — are answered 503 with
// retry_after (and the response's Retry-After), never dropped; the others are recorded, and the
// answer comes before the deadline. Sent again, the cut entries are recorded.
func TestBatchEntryPastTheDeadline(t *testing.T) {
	var armed atomic.Bool
	// 3 s: the request's context ends 300 ms before (lambdahttp.BeforeDeadline), time enough to answer
	// under the race detector on a busy machine.
	e := apptest.NewWith(t, apptest.Options{Timeout: 3 * time.Second, WrapDB: func(api store.API) store.API { return slowUpdates{api, &armed} }})
	var fast, slow []string
	for i := range 5 {
		login(e, e.Key, "u1", fmt.Sprintf("fast-%d", i))
		fast = append(fast, fmt.Sprintf(`{"user_id":"u1","session_id":"fast-%d"}`, i))
	}
	for i := range 40 { // more than the batch writes at once: some are cut before they start
		login(e, e.Key, fmt.Sprintf("u%d", i), fmt.Sprintf("slow-%d", i))
		slow = append(slow, fmt.Sprintf(`{"user_id":"u%d","session_id":"slow-%d"}`, i, i))
	}
	e.Clock.Add(2 * time.Minute) // past the activity resolution: every entry must be written
	armed.Store(true)
	start := time.Now()
	r, results := postBatch(e, e.Key, append(fast, slow...)...)
	took := time.Since(start)
	if r.Status != 200 || took > 3*time.Second {
		t.Fatalf("%d after %v, want 200 before the 3 s deadline: %s", r.Status, took, r.Body)
	}
	for i, res := range results {
		want := result{Status: 204}
		if i >= len(fast) {
			want = result{Status: 503, Type: "https://httpstatuses.io/503", Title: "Service Unavailable", Detail: "The service is temporarily unavailable.", RetryAfter: 1}
		}
		if !reflect.DeepEqual(res, want) {
			t.Errorf("entry %d: %+v, want %+v", i, res, want)
		}
	}
	if r.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", r.Header.Get("Retry-After"))
	}
	armed.Store(false)
	_, again := postBatch(e, e.Key, slow...)
	for i, res := range again {
		if res.Status != 204 {
			t.Errorf("slow-%d sent again: %+v, want 204", i, res)
		}
	}
	if got := lastActivity(e, "acme", "u7", "slow-7"); !got.Equal(e.Clock.Now()) {
		t.Errorf("slow-7's last activity %v, want %v", got, e.Clock.Now())
	}
}

// With ACTIVITY_RESOLUTION (60 s, the template's default), a batch's second heartbeat inside
// the resolution writes nothing: the batch's read decides. Outside it, every session is written
// as before. The read is one eventually consistent read per session (0.5 RCU under 4 KB)
// beside the key's.
func TestBatchCoalesces(t *testing.T) {
	e := apptest.New(t)
	const n = 50
	var entries []string
	for i := range n {
		login(e, e.Key, fmt.Sprintf("u%d", i), fmt.Sprintf("S%d", i))
		entries = append(entries, fmt.Sprintf(`{"user_id":"u%d","session_id":"S%d","client_id":"web"}`, i, i))
	}
	cost := func(step time.Duration) (float64, float64) {
		e.Clock.Add(step)
		e.Meter.Reset()
		_, results := postBatch(e, e.Key, entries...)
		for i, r := range results {
			if r.Status != 204 {
				t.Fatalf("entry %d: %+v", i, r)
			}
		}
		return e.Meter.OnAWS()
	}
	rcu, wcu := cost(30 * time.Second)
	if wcu != 0 || rcu > n/2+2 {
		t.Errorf("inside the resolution: %.1f RCU, %.1f WCU; want no write and %.1f RCU of reads (+ the key's)", rcu, wcu, n/2.0)
	}
	rcu, wcu = cost(40 * time.Second)
	if wcu < n || rcu > n/2+2 {
		t.Errorf("outside the resolution: %.1f RCU, %.1f WCU; want a write a session (%d WCU at least)", rcu, wcu, n)
	}
	if got := lastActivity(e, "acme", "u3", "S3"); !got.Equal(e.Clock.Now()) {
		t.Errorf("last activity %v, want %v", got, e.Clock.Now())
	}
}

// A batch across midnight moves each session's day as its own route would: an entry on the
// new day makes its user active that day (a user-day item), one whose "at" is still the old
// day does not.
func TestBatchAcrossMidnight(t *testing.T) {
	e := apptest.New(t)
	evening := time.Date(2026, 3, 10, 23, 59, 0, 0, time.UTC)
	e.Clock.Set(evening)
	login(e, e.Key, "u1", "S1")
	login(e, e.Key, "u2", "S2")
	e.Clock.Set(evening.Add(90 * time.Second)) // 00:00:30 on the 11th
	_, results := postBatch(e, e.Key,
		`{"user_id":"u1","session_id":"S1"}`,
		fmt.Sprintf(`{"user_id":"u2","session_id":"S2","at":%d}`, evening.Add(50*time.Second).Unix()),
	)
	if got := statuses(results); !reflect.DeepEqual(got, []int{204, 204}) {
		t.Fatalf("statuses %v", got)
	}
	days := map[string][]string{}
	if err := e.Deps.Store.DailyActiveUsers(context.Background(), "acme", "2026-03-10", "2026-03-11", time.UTC, func(d store.DayUsers) error {
		days[d.Day] = d.Users
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"2026-03-10": {"u1", "u2"}, "2026-03-11": {"u1"}}; !reflect.DeepEqual(days, want) {
		t.Errorf("users per day %v, want %v", days, want)
	}
}
