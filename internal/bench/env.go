// Package bench measures what Pulse costs per request (DynamoDB capacity as DynamoDB reports
// it), how fast it answers (through the local API server, against the DynamoDB time inside each
// request), and how fast each built function starts (under the Lambda Runtime API harness),
// and writes BENCHMARKS.md. make bench runs it; -quick is a smaller run for a smoke test.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/pulse-sessions/pulse/internal/app"
	"github.com/pulse-sessions/pulse/internal/localapi"
	"github.com/pulse-sessions/pulse/internal/template"
	"github.com/pulse-sessions/pulse/shared/boot"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

const tenant = "bench"

// measuredAt is the instant capacity and scale points are measured at, whatever the time of the
// run: their figures depend on the clock (the engagement reads' open days, the UTC days a user's
// sessions started on, the months a range touches), so a clock that followed the run would move
// them from run to run (users per day over 30 days with UUIDs: 131.5 RCU at 19:10 UTC, 216 at
// 06:40). A Tuesday at 09:00 UTC: yesterday is not closed yet (store.CloseDays closes a day
// at 12:10 UTC the day after), the engagement reads' dearest hours; a 30-day range touches two
// months.
var measuredAt = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// clock is settable: capacity scenarios pin time, latency runs follow the real clock.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	real bool
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real {
		return time.Now()
	}
	return c.t
}

func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t, c.real = t, false; c.mu.Unlock() }

// env is one Pulse on its own DynamoDB Local database.
type env struct {
	db        *dynamodb.Client
	deps      *app.Deps
	meter     *store.Meter
	clock     *clock
	url       string
	key       string
	accessKey string
	endpoint  string
	table     string

	mu      sync.Mutex
	samples map[string][]sample
}

type sample struct{ server, ddb time.Duration }

var envSeq atomic.Int64

func newEnv(ctx context.Context, endpoint string, tpl *template.Template, now time.Time) (*env, func(), error) {
	return newEnvWith(ctx, endpoint, tpl, now, nil)
}

// newEnvWith is newEnv with the configuration template.yaml gives changed by change.
func newEnvWith(ctx context.Context, endpoint string, tpl *template.Template, now time.Time, change func(*boot.Config)) (*env, func(), error) {
	accessKey := fmt.Sprintf("bench%d", envSeq.Add(1))
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, "local", "")})
	in, err := tpl.CreateTableInput("PulseTable", "Pulse")
	if err != nil {
		return nil, nil, err
	}
	if _, err := db.CreateTable(ctx, in); err != nil {
		return nil, nil, err
	}
	envVars, err := tpl.Environment(tpl.Functions()[0], map[string]string{"PulseTable": "Pulse"})
	if err != nil {
		return nil, nil, err
	}
	cfg, err := boot.LoadConfig(func(k string) string { return envVars[k] })
	if err != nil {
		return nil, nil, err
	}
	if change != nil {
		change(&cfg)
	}
	e := &env{db: db, meter: &store.Meter{}, clock: &clock{t: now}, accessKey: accessKey, endpoint: endpoint, table: "Pulse", samples: map[string][]sample{}}
	cfg.Meter = e.meter
	e.deps, err = app.Build(cfg, timedDB{db}, e.clock.Now, pulse.RandomIDs{}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		return nil, nil, err
	}
	srv, err := localapi.Pulse(e.deps, tpl)
	if err != nil {
		return nil, nil, err
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ddb ddbClock
		start := time.Now()
		srv.ServeHTTP(w, r.WithContext(withDDBTime(r.Context(), &ddb)))
		if label := r.Header.Get("X-Bench"); label != "" {
			e.mu.Lock()
			e.samples[label] = append(e.samples[label], sample{server: time.Since(start), ddb: ddb.Total()})
			e.mu.Unlock()
		}
	}))
	e.url = hs.URL
	if _, err := e.deps.Store.CreateTenant(ctx, pulse.Tenant{ID: tenant, Name: "Bench"}); err != nil {
		hs.Close()
		return nil, nil, err
	}
	if e.key, _, err = e.deps.Store.CreateAPIKey(ctx, tenant, "bench", pulse.AllScopes); err != nil {
		hs.Close()
		return nil, nil, err
	}
	return e, hs.Close, nil
}

// response is one request's outcome.
type response struct {
	status int
	body   []byte
	client time.Duration
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

func (e *env) do(label, method, path, body string, headers ...string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("X-API-KEY", e.key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if label != "" {
		req.Header.Set("X-Bench", label)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: b, client: time.Since(start)}, err
}

// percentile returns the p-th percentile (0..100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }
