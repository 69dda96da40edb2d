package publish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/internal/eventbus"
	"github.com/pulse-sessions/pulse/internal/localevents"
	"github.com/pulse-sessions/pulse/shared/boot"
	"github.com/pulse-sessions/pulse/shared/publish"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

const (
	chromeLinux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36"
	firefoxMac  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0"
)

// world is a Pulse with its events published: the API, the stream, the stand-ins.
type world struct {
	*apptest.Env
	ev      *localevents.Stack
	secrets []string // every session key, API key and token the test saw: never in an event
	seen    int      // events already checked
}

func newWorld(t *testing.T, o apptest.Options) *world {
	e := apptest.NewWith(t, o)
	w := &world{Env: e, ev: e.Events(), secrets: []string{e.Key, e.OKey}}
	return w
}

// login starts a session for user from ua in country and returns its ID.
func (w *world) login(user, ua, country string) string {
	w.T.Helper()
	r := w.Do("POST", "/api/users/"+user+"/sessions", `{"client_id":"web"}`, append(apptest.Key(w.Key), "User-Agent", ua, "CloudFront-Viewer-Country", country)...)
	if r.Status != 201 {
		w.T.Fatalf("login %s: %d %s", user, r.Status, r.Body)
	}
	var s map[string]any
	r.JSON(w.T, &s)
	w.secrets = append(w.secrets, s["session_key"].(string))
	return s["session_id"].(string)
}

func (w *world) do(method, path string, want int) {
	w.T.Helper()
	if r := w.Do(method, path, "", apptest.Key(w.Key)...); r.Status != want {
		w.T.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
}

// published polls the stream and returns the events published since the last call, each as
// "<detail-type> <session or user>[ <end_reason>]", after checking what every event must hold.
func (w *world) published() []string {
	w.T.Helper()
	if err := w.ev.Poll(context.Background()); err != nil {
		w.T.Fatal(err)
	}
	all := w.ev.Bus.Events()
	var out []string
	for _, ev := range all[w.seen:] {
		out = append(out, w.check(ev))
	}
	w.seen = len(all)
	return out
}

// check verifies one event: source, bus, the detail's fields for its type, no secret, and
// returns its summary.
func (w *world) check(ev eventbus.Event) string {
	w.T.Helper()
	apptest.CheckEvent(w.T, ev.Envelope())
	raw := string(ev.Detail)
	for _, s := range w.secrets {
		if strings.Contains(raw, s) {
			w.T.Errorf("%s carries a secret: %s", ev.DetailType, raw)
		}
	}
	for _, attr := range []string{"session_key", `"skey"`, `"fp"`, "hash", "token"} {
		if strings.Contains(raw, attr) {
			w.T.Errorf("%s names %s: %s", ev.DetailType, attr, raw)
		}
	}
	if ev.Source != "pulse" || ev.Bus != "pulse-local-events" {
		w.T.Errorf("source %q bus %q", ev.Source, ev.Bus)
	}
	var d map[string]any
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		w.T.Fatal(err)
	}
	if id, _ := d["record_id"].(string); id == "" || d["tenant_id"] != "acme" || d["user_id"] == "" {
		w.T.Errorf("%s: record_id %v tenant_id %v user_id %v", ev.DetailType, d["record_id"], d["tenant_id"], d["user_id"])
	}
	if ev.DetailType == "User Erased" {
		if at, _ := d["erased_at"].(float64); at != float64(ev.Time.Unix()) || at == 0 {
			w.T.Errorf("User Erased: erased_at %v, event time %v", d["erased_at"], ev.Time)
		}
		return fmt.Sprintf("%s %s", ev.DetailType, d["user_id"])
	}
	s, _ := d["session"].(map[string]any)
	dev, _ := d["device"].(map[string]any)
	md, _ := s["last_metadata"].(map[string]any)
	if s == nil || s["session_id"] != d["session_id"] || md == nil || dev == nil {
		w.T.Fatalf("%s: want the session in the management API's shape and the device: %s", ev.DetailType, raw)
	}
	for _, k := range []string{"last_updated", "expires_at", "initiated_at", "client_ids", "new_device", "new_location"} {
		if _, ok := s[k]; !ok {
			w.T.Errorf("%s: session lacks %s: %s", ev.DetailType, k, raw)
		}
	}
	if dev["browser"] == "" || dev["os"] == "" || md["user_agent"] == "" || md["country"] == "" {
		w.T.Errorf("%s: device %v, last_metadata %v", ev.DetailType, dev, md)
	}
	summary := fmt.Sprintf("%s %s", ev.DetailType, d["session_id"])
	switch ev.DetailType {
	case "Session Started":
		if ev.Time.Unix() != int64(s["initiated_at"].(float64)) {
			w.T.Errorf("Session Started at %v, session initiated_at %v", ev.Time, s["initiated_at"])
		}
	case "Session Ended":
		if d["end_reason"] != s["end_reason"] || s["ended_at"] == nil || ev.Time.Unix() != int64(s["ended_at"].(float64)) {
			w.T.Errorf("Session Ended: end_reason %v / %v, ended_at %v, time %v", d["end_reason"], s["end_reason"], s["ended_at"], ev.Time)
		}
		summary += fmt.Sprintf(" %s", d["end_reason"])
	case "New Device Detected":
		summary += fmt.Sprintf(" device=%v location=%v", s["new_device"], s["new_location"])
	}
	return summary
}

// expect checks that the events published since the last call are want, in the order want
// gives for each session (or user): EventBridge orders nothing across sessions.
func (w *world) expect(what string, want ...string) {
	w.T.Helper()
	got := w.published()
	bySubject := func(list []string) map[string][]string {
		m := map[string][]string{}
		for _, s := range list {
			f := strings.Fields(s) // "<detail type, 2 or 3 words> <subject> [<more>]"
			i := 2
			if strings.HasPrefix(s, "New Device Detected") {
				i = 3
			}
			m[f[i]] = append(m[f[i]], s)
		}
		return m
	}
	if g, wnt := bySubject(got), bySubject(want); len(got) != len(want) || !reflect.DeepEqual(g, wnt) {
		w.T.Errorf("%s: published\n  %s\nwant (in this order for each session)\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// Every way a session starts and ends publishes exactly its events, in order, with the fields
// docs/events.md lists and no secret; heartbeats, profile writes and tokens publish nothing.
func TestSessionLifecycleEvents(t *testing.T) {
	w := newWorld(t, apptest.Options{Config: func(c *boot.Config) { c.Policy.MaxPerUser = 2 }})

	a := w.login("alice", chromeLinux, "US")
	w.expect("a login", "Session Started "+a)

	for range 5 {
		w.Clock.Add(10 * time.Minute) // within the idle timeout, crossing an hour: counters too
		w.do("POST", "/api/users/alice/sessions/"+a+"/activity", 204)
	}
	if r := w.Do("PUT", "/api/users/alice", `{"name":"Alice"}`, apptest.Key(w.Key)...); r.Status != 200 {
		t.Fatalf("PUT user: %d %s", r.Status, r.Body)
	}
	if r := w.Do("POST", "/api/users/alice/tokens", `{"name":"ci"}`, apptest.Key(w.Key)...); r.Status != 201 {
		t.Fatalf("token: %d %s", r.Status, r.Body)
	} else {
		var tok map[string]any
		r.JSON(t, &tok)
		for _, v := range tok {
			if s, ok := v.(string); ok && len(s) > 20 {
				w.secrets = append(w.secrets, s)
			}
		}
	}
	w.expect("heartbeats, a profile update and a token")

	w.do("DELETE", "/api/users/alice/sessions/"+a, 204)
	w.expect("a revoke", "Session Ended "+a+" revoked")
	w.do("DELETE", "/api/users/alice/sessions/"+a, 204) // already ended: nothing more
	w.expect("a second revoke")

	b := w.login("alice", firefoxMac, "DE")
	w.expect("a new device and country", "Session Started "+b, "New Device Detected "+b+" device=true location=true")
	w.Clock.Add(31 * time.Minute)
	if _, err := w.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.expect("an idle session ended by the cleanup", "Session Ended "+b+" idle")

	// The cap is 2: a third live session evicts the oldest.
	c1 := w.login("bob", chromeLinux, "US")
	w.Clock.Add(time.Second)
	c2 := w.login("bob", chromeLinux, "US")
	w.Clock.Add(time.Second)
	c3 := w.login("bob", chromeLinux, "US")
	w.expect("an eviction", "Session Started "+c1, "Session Started "+c2, "Session Ended "+c1+" evicted", "Session Started "+c3)

	// Erasing bob: the erasure is announced, and each of his live sessions ends.
	w.do("DELETE", "/api/users/bob", 204)
	w.expect("an erasure", "User Erased bob", "Session Ended "+c2+" erased", "Session Ended "+c3+" erased")
	// A session kept alive to its maximum lifetime ends expired.
	d := w.login("carol", chromeLinux, "US")
	for range 24 * 3 {
		w.Clock.Add(20 * time.Minute)
		if r := w.Do("POST", "/api/users/carol/sessions/"+d+"/activity", "", apptest.Key(w.Key)...); r.Status != 204 {
			break // past its maximum lifetime
		}
	}
	w.Clock.Add(time.Hour)
	if _, err := w.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.expect("a session past its maximum lifetime", "Session Started "+d, "Session Ended "+d+" expired")

	// The erasure's deletions and the sweep publish nothing more.
	if _, err := w.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.expect("the sweep after an erasure")

	ids := map[string]bool{}
	for _, ev := range w.ev.Bus.Events() {
		var d struct {
			RecordID string `json:"record_id"`
		}
		_ = json.Unmarshal(ev.Detail, &d)
		if ids[d.RecordID+ev.DetailType] {
			t.Errorf("record %s published %s twice", d.RecordID, ev.DetailType)
		}
		ids[d.RecordID+ev.DetailType] = true
	}
	if dl := w.ev.DeadLetters(); len(dl) != 0 {
		t.Errorf("dead letters: %s", dl)
	}
}

// Of the stream's records, only those the filters pass reach the function: heartbeats within
// the same hour never invoke it (the filters in template.yaml, as Lambda applies them).
func TestHeartbeatsNeverInvoke(t *testing.T) {
	// Every heartbeat written (ACTIVITY_RESOLUTION off), so that each one makes a stream record.
	w := newWorld(t, apptest.Options{Config: func(c *boot.Config) { c.Policy.ActivityResolution = 0 }})
	a := w.login("alice", chromeLinux, "US")
	w.published()
	invokes := w.ev.Mapping.Invocations()
	for range 20 {
		w.Clock.Add(time.Second)
		w.do("POST", "/api/users/alice/sessions/"+a+"/activity", 204)
	}
	for range 5 { // and in batches (POST /api/activity), from a new address each time
		w.Clock.Add(time.Second)
		body := fmt.Sprintf(`{"activity":[{"user_id":"alice","session_id":%q,"ip_address":"198.51.100.%d"}]}`, a, w.Clock.Now().Second())
		if r := w.Do("POST", "/api/activity", body, apptest.Key(w.Key)...); r.Status != 200 || !strings.Contains(string(r.Body), `{"results":[{"status":204}]}`) {
			t.Fatalf("batch: %d %s", r.Status, r.Body)
		}
	}
	w.expect("20 heartbeats and 5 batches")
	if n := w.ev.Mapping.Invocations(); n != invokes {
		t.Errorf("heartbeats invoked the publisher %d times", n-invokes)
	}
	// The same records without the filters would have invoked it: the filters did the work.
	w.ev.Mapping.Filters = nil
	w.Clock.Add(time.Second)
	w.do("POST", "/api/users/alice/sessions/"+a+"/activity", 204)
	w.expect("a heartbeat, unfiltered")
	if n := w.ev.Mapping.Invocations(); n == invokes {
		t.Error("without filters a heartbeat did not invoke the publisher either: the test tests nothing")
	}
}

// PutEvents failing some entries, or a whole call, is retried, and nothing is lost or doubled.
func TestPartialFailuresAreRetried(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	failed := 0
	w.ev.Bus.FailEntries(func(ev eventbus.Event) bool {
		if ev.DetailType == "Session Started" && failed < 2 {
			failed++
			return true
		}
		return false
	})
	w.ev.Bus.FailCalls(1)
	var want []string
	for i := range 12 { // more than one PutEvents call's 10 entries
		user := fmt.Sprintf("u%02d", i)
		want = append(want, "Session Started "+w.login(user, chromeLinux, "US"))
	}
	w.expect("12 logins through failures", want...)
	if failed != 2 {
		t.Errorf("%d entries were failed, want 2: the test tested nothing", failed)
	}
	if dl := w.ev.DeadLetters(); len(dl) != 0 {
		t.Errorf("dead letters: %s", dl)
	}
}

// A record whose event never gets through is reported failed; the mapping retries the batch
// from it a bounded number of times, then sends the on-failure record of what is left (that
// record and the one after it, which went out on the first attempt) to the dead-letter queue.
func TestFailingRecordReachesTheDeadLetterQueue(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	doomed := ""
	w.ev.Bus.FailEntries(func(ev eventbus.Event) bool { return doomed != "" && strings.Contains(string(ev.Detail), doomed) })
	a := w.login("alice", chromeLinux, "US")
	w.Clock.Add(time.Second)
	doomed = w.login("bob", chromeLinux, "US")
	w.Clock.Add(time.Second)
	c := w.login("carol", chromeLinux, "US")
	// Published once each: the failing record is retried alone, the one after it is not sent again.
	w.expect("three logins, the second never accepted", "Session Started "+a, "Session Started "+c)
	dl := w.ev.DeadLetters()
	if len(dl) != 1 {
		t.Fatalf("dead letters: %d, want 1", len(dl))
	}
	var rec struct {
		RequestContext struct {
			Condition string `json:"condition"`
			Invokes   int    `json:"approximateInvokeCount"`
		} `json:"requestContext"`
		Info struct {
			Start     string `json:"startSequenceNumber"`
			End       string `json:"endSequenceNumber"`
			BatchSize int    `json:"batchSize"`
			StreamArn string `json:"streamArn"`
		} `json:"DDBStreamBatchInfo"`
	}
	if err := json.Unmarshal(dl[0], &rec); err != nil {
		t.Fatal(err)
	}
	if rec.RequestContext.Condition != "RetryAttemptsExhausted" || rec.RequestContext.Invokes != w.ev.Mapping.MaxRetries+1 ||
		rec.Info.BatchSize != 2 || rec.Info.Start == "" || rec.Info.Start >= rec.Info.End || rec.Info.StreamArn == "" {
		t.Errorf("on-failure record: %s", dl[0])
	}
	if strings.Contains(string(dl[0]), doomed) {
		t.Errorf("the on-failure record carries the record itself: %s", dl[0])
	}
}

// recorder is a testing.TB that records failures instead of failing the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatal(...any)          { r.failed = true }

// openapi.yaml's PulseEvent, which every published event is checked against, refuses what an
// event must never be: a session_key in it, an unknown detail type, a detail missing its record ID.
func TestEventSchemaRefuses(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	w.login("alice", chromeLinux, "US")
	w.published()
	good := w.ev.Bus.Events()[0]
	apptest.CheckEvent(t, good.Envelope())
	for name, mutate := range map[string]func(env, detail, session map[string]any){
		"session_key":         func(_, _, s map[string]any) { s["session_key"] = "ABC" },
		"unknown detail type": func(e, _, _ map[string]any) { e["detail-type"] = "Session Resumed" },
		"no record_id":        func(_, d, _ map[string]any) { delete(d, "record_id") },
		"erasure shape":       func(e, _, _ map[string]any) { e["detail-type"] = "User Erased" },
		"another source":      func(e, _, _ map[string]any) { e["source"] = "aws.events" },
	} {
		var env map[string]any
		if err := json.Unmarshal(good.Envelope(), &env); err != nil {
			t.Fatal(err)
		}
		d := env["detail"].(map[string]any)
		mutate(env, d, d["session"].(map[string]any))
		b, _ := json.Marshal(env)
		r := &recorder{TB: t}
		apptest.CheckEvent(r, b)
		if !r.failed {
			t.Errorf("%s: the schema accepted %s", name, b)
		}
	}
}

// The example event of docs/events.md is one: it matches openapi.yaml's PulseEvent.
func TestDocumentedExampleEvent(t *testing.T) {
	raw, err := os.ReadFile("../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "# Events")
	j := strings.Index(s[i:], "```json\n")
	if i < 0 || j < 0 {
		t.Fatal("docs/events.md has no example under # Events")
	}
	body := s[i+j+len("```json\n"):]
	body = body[:strings.Index(body, "```")]
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("the documented example event is not JSON: %v", err)
	}
	apptest.CheckEvent(t, []byte(body))
}

// DynamoDB Local writes an empty map untyped in its stream; read as it was, the images of users
// who logged in without a country could not be decoded, and their User Erased was skipped with
// a log line (13 of 20 erasures lost). Every erasure is published, with places and without.
func TestErasuresWithAndWithoutPlaces(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	var want []string
	for i := range 6 {
		user := fmt.Sprintf("u%d", i)
		h := append(apptest.Key(w.Key), "User-Agent", chromeLinux)
		if i%2 == 0 {
			h = append(h, "CloudFront-Viewer-Country", "US")
		}
		if r := w.Do("POST", "/api/users/"+user+"/sessions", `{"client_id":"web"}`, h...); r.Status != 201 {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		w.do("DELETE", "/api/users/"+user, 204)
		want = append(want, user)
	}
	if err := w.ev.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range w.ev.Bus.Events() {
		if ev.DetailType == publish.UserErased {
			var d struct {
				UserID string `json:"user_id"`
			}
			if err := json.Unmarshal(ev.Detail, &d); err != nil {
				t.Fatal(err)
			}
			got = append(got, d.UserID)
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("User Erased for %v, want %v", got, want)
	}
	if n := len(w.ev.DeadLetters()); n != 0 {
		t.Errorf("%d batches in the dead-letter queue, want none", n)
	}
}

// A record the publisher cannot read is never skipped: the records before it are published, it
// is reported as the batch's failure (Lambda retries it, then names it in the dead-letter
// queue), and it is counted in UnreadableStreamRecords, which an alarm watches.
func TestUnreadableRecordIsAFailure(t *testing.T) {
	raw, err := os.ReadFile("../../events/publish-events.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	// The fourth record (an erasure) made unreadable as DynamoDB Local's stream once was read:
	// the user's map of places decoded as a string.
	bad := ev.Records[3]
	bad.Change.NewImage["places"] = events.NewStringAttribute("u1")
	ev.Records[3] = bad
	bus := eventbus.New("pulse-unreadable")
	defer bus.Close()
	client, err := publish.EventBridgeFromEnv(bus.ClientEnv)
	if err != nil {
		t.Fatal(err)
	}
	var metrics, logs bytes.Buffer
	p := &publish.Publisher{Bus: bus.Bus, Client: client, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Attempts: 1, Metrics: &metrics}
	resp, err := p.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != bad.Change.SequenceNumber {
		t.Errorf("failures %+v, want the unreadable record's %s", resp.BatchItemFailures, bad.Change.SequenceNumber)
	}
	var got []string
	for _, e := range bus.Events() {
		got = append(got, e.DetailType)
	}
	if strings.Join(got, ",") != publish.SessionStarted+","+publish.SessionEnded {
		t.Errorf("published %v, want the login and the revoke before the unreadable record", got)
	}
	var line struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace string
				Metrics   []struct{ Name string }
			}
		} `json:"_aws"`
		Count int `json:"UnreadableStreamRecords"`
	}
	if err := json.Unmarshal(metrics.Bytes(), &line); err != nil || line.Count != 1 || len(line.AWS.CloudWatchMetrics) != 1 ||
		line.AWS.CloudWatchMetrics[0].Namespace != "Pulse" || line.AWS.CloudWatchMetrics[0].Metrics[0].Name != "UnreadableStreamRecords" {
		t.Errorf("metric line %q (%v), want UnreadableStreamRecords 1 in namespace Pulse", metrics.String(), err)
	}
	if !strings.Contains(logs.String(), bad.Change.SequenceNumber) {
		t.Errorf("the log does not name the record: %s", logs.String())
	}
}
