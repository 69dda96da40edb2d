package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pulse-sessions/pulse/internal/localevents"
	"github.com/pulse-sessions/pulse/internal/template"
)

const firefoxUA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0"

// eventsResult is what publishing Pulse's events adds to the writes that cause them.
type eventsResult struct {
	Steps []eventStep
	// LoginWCU: a login's write units on AWS's rules from a known device, a new one, and the
	// user's first (which starts the device memory).
	LoginKnown, LoginNew, LoginFirst float64
	// In-process time of the publisher's handler (PutEvents to the loopback stand-in), p50.
	Batch1, Batch100 time.Duration
	MaxDetail        int // bytes of the largest event detail
}

// eventStep is one request and what reached the stream, the function and the bus.
type eventStep struct {
	Label                   string
	Records, Invokes, Event int
}

// eventsCost measures, on a tenant of its own, the stream records, publisher invocations and
// events of a login, a heartbeat and a revoke (through the template's filters, as the local
// stack runs them), the login's capacity with the device memory, and the publisher's time.
func eventsCost(ctx context.Context, endpoint string, tpl *template.Template, now time.Time) (eventsResult, error) {
	var res eventsResult
	e, closeEnv, err := newEnv(ctx, endpoint, tpl, now)
	if err != nil {
		return res, err
	}
	defer closeEnv()
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ev, err := localevents.Start(ctx, e.deps, tpl, localevents.Options{Endpoint: e.endpoint, AccessKey: e.accessKey, Table: e.table, Log: quiet})
	if err != nil {
		return res, err
	}
	defer ev.Close()
	var captured []events.DynamoDBEventRecord
	inner := ev.Mapping.Handler
	ev.Mapping.Handler = func(ctx context.Context, b events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		captured = append(captured, b.Records...)
		return inner(ctx, b)
	}
	if _, err := ev.Mapping.Poll(ctx); err != nil { // the tenant's own setup
		return res, err
	}
	sessionID := ""
	step := func(label, method, path, body string, headers ...string) (float64, float64, error) {
		invokes, published := ev.Mapping.Invocations(), len(ev.Bus.Events())
		e.meter.Reset()
		resp, err := e.do("", method, path, body, headers...)
		if err != nil {
			return 0, 0, err
		}
		if resp.status >= 300 {
			return 0, 0, fmt.Errorf("events: %s: %d %s", label, resp.status, resp.body)
		}
		if method == "POST" && body != "" {
			var s struct {
				ID string `json:"session_id"`
			}
			if err := json.Unmarshal(resp.body, &s); err == nil && s.ID != "" {
				sessionID = s.ID
			}
		}
		rcu, wcu := e.meter.OnAWS()
		n, err := ev.Mapping.Poll(ctx)
		if err != nil {
			return 0, 0, err
		}
		res.Steps = append(res.Steps, eventStep{Label: label, Records: n, Invokes: ev.Mapping.Invocations() - invokes, Event: len(ev.Bus.Events()) - published})
		return rcu, wcu, nil
	}
	login := `{"client_id":"web","ip_address":"203.0.113.9"}`
	e.clock.Set(now)
	if _, res.LoginFirst, err = step("login, the user's first", "POST", "/api/users/ev1/sessions", login, "User-Agent", chromeUA); err != nil {
		return res, err
	}
	e.clock.Set(now.Add(time.Minute))
	if _, res.LoginKnown, err = step("login, a known device", "POST", "/api/users/ev1/sessions", login, "User-Agent", chromeUA); err != nil {
		return res, err
	}
	e.clock.Set(now.Add(2 * time.Minute))
	if _, res.LoginNew, err = step("login, a new device", "POST", "/api/users/ev1/sessions", login, "User-Agent", firefoxUA); err != nil {
		return res, err
	}
	e.clock.Set(now.Add(3 * time.Minute))
	if _, _, err = step("heartbeat", "POST", "/api/users/ev1/sessions/"+sessionID+"/activity", ""); err != nil {
		return res, err
	}
	if _, _, err = step("revoke", "DELETE", "/api/users/ev1/sessions/"+sessionID, ""); err != nil {
		return res, err
	}
	for _, pe := range ev.Bus.Events() {
		res.MaxDetail = max(res.MaxDetail, len(pe.Detail))
	}

	// The publisher's own time: 100 logins of different users give 100 Session Started records.
	captured = nil
	for i := range 100 {
		if _, err := e.do("", "POST", fmt.Sprintf("/api/users/evb%03d/sessions", i), login, "User-Agent", chromeUA); err != nil {
			return res, err
		}
	}
	if _, err := ev.Mapping.Poll(ctx); err != nil {
		return res, err
	}
	if len(captured) != 100 {
		return res, fmt.Errorf("events: %d records of 100 logins reached the publisher", len(captured))
	}
	var one, hundred []time.Duration
	for i := range 200 {
		t := time.Now()
		if _, err := inner(ctx, events.DynamoDBEvent{Records: captured[i%100 : i%100+1]}); err != nil {
			return res, err
		}
		one = append(one, time.Since(t))
	}
	for range 20 {
		t := time.Now()
		if _, err := inner(ctx, events.DynamoDBEvent{Records: captured}); err != nil {
			return res, err
		}
		hundred = append(hundred, time.Since(t))
	}
	res.Batch1, res.Batch100 = percentile(one, 50), percentile(hundred, 50)
	return res, nil
}

// eventsSection writes what publishing adds per login and per ended session, and to the month of
// section 5.
func (r *Report) eventsSection(p func(string, ...any)) {
	ev := r.Events
	p("")
	p("## 6. Events")
	p("")
	p("What publishing Pulse's events (docs/events.md) adds. Measured on a tenant of its own: each request's")
	p("stream records as DynamoDB Local's stream holds them, the publisher invocations that reach the")
	p("function through template.yaml's filters (the event source mapping stand-in applies them as Lambda")
	p("does), and the events put on the bus (the PutEvents stand-in, on loopback).")
	p("")
	p("| request | stream records | publisher invocations | events |")
	p("| --- | ---: | ---: | ---: |")
	for _, s := range ev.Steps {
		p("| %s | %d | %d | %d |", s.Label, s.Records, s.Invokes, s.Event)
	}
	p("")
	p("The largest event detail is %s bytes: every event is one PutEvents unit (64 KB).", count(ev.MaxDetail))
	p("")
	p("**The login's own capacity, with the device memory** (AWS's rules): the user's first login %.1f WCU", ev.LoginFirst)
	p("(it creates the user and starts the memory in the user item), a login from a known device %.1f WCU,", ev.LoginKnown)
	p("from a new device %.1f WCU. The memory lives in the user item that the login reads and writes anyway:", ev.LoginNew)
	p("no call and no read is added, only the maps' bytes (about 40 per device or country) to the item's size.")
	p("")
	p("The publisher's handler, in process, p50: %s ms for a batch of 1 record, %s ms for a batch of 100", ms(ev.Batch1), ms(ev.Batch100))
	p("(each PutEvents call crosses loopback here; on AWS a call to EventBridge takes longer, so treat the")
	p("Lambda time as a floor and the per-request price as what dominates).")
	p("")
	// Lambda reading DynamoDB Streams is free; each event is one PutEvents unit.
	lambda := func(d time.Duration) float64 {
		return priceLambdaRequest + float64(max(d.Milliseconds(), 1))/1000*lambdaMemoryGB*priceLambdaGBSecond
	}
	quiet, busy := lambda(ev.Batch1), lambda(ev.Batch100)/100
	perLogin := func(invoke float64, events int) float64 { return invoke + float64(events)*pricePutEvent }
	p("Prices: PutEvents $%.2f per million events (custom events, 64 KB each); DynamoDB Streams reads", pricePutEvent*1e6)
	p("by a Lambda trigger are free; Lambda as in section 5. At quiet times each change is an invocation of")
	p("its own; busy, the mapping batches up to 100 records (1-second window) into one.")
	p("")
	p("| per million | quiet (1 record an invocation) | busy (100 an invocation) |")
	p("| --- | ---: | ---: |")
	p("| logins (Session Started) | $%.2f | $%.2f |", perLogin(quiet, 1)*1e6, perLogin(busy, 1)*1e6)
	p("| logins from a new device (+ New Device Detected) | $%.2f | $%.2f |", perLogin(quiet, 2)*1e6, perLogin(busy, 2)*1e6)
	p("| ended sessions (Session Ended) | $%.2f | $%.2f |", perLogin(quiet, 1)*1e6, perLogin(busy, 1)*1e6)
	p("| heartbeats | $0.00 | $0.00 |")
	p("")
	logins := 3000000.0 // section 5's month: every session starts once and ends once
	p("Section 5's month (3,000,000 sessions, each started and ended once) adds **$%.2f to $%.2f** (quiet to busy),", 2*logins*perLogin(quiet, 1), 2*logins*perLogin(busy, 1))
	p("plus $%.2f per million new devices and the device memory's bytes in the login's write (%+.1f WCU a", pricePutEvent*1e6, ev.LoginNew-ev.LoginKnown)
	p("login from a new device against a known one).")
	p("")
}
