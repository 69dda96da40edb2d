// Package apptest runs Pulse for tests the way it runs in AWS, minus AWS: DynamoDB Local, the
// endpoints behind the Lambda adapter, the routes of template.yaml, and real HTTP on loopback.
// Only the clock and the IDs are pinned.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/internal/app"
	"github.com/pulse-sessions/pulse/internal/ddblocal"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/internal/iamcheck"
	"github.com/pulse-sessions/pulse/internal/localapi"
	"github.com/pulse-sessions/pulse/internal/localevents"
	"github.com/pulse-sessions/pulse/internal/template"
	"github.com/pulse-sessions/pulse/shared/boot"
	"github.com/pulse-sessions/pulse/shared/cleanup"
	"github.com/pulse-sessions/pulse/shared/geo"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Clock is a settable clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// Set sets the clock.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// IDs generates predictable IDs and secrets (random enough for distinct credentials).
type IDs struct{ n atomic.Int64 }

// NewID returns the next ID as 32 upper-case hex digits.
func (i *IDs) NewID() string { return fmt.Sprintf("%032X", i.n.Add(1)) }

// NewSecret returns n bytes that differ from call to call.
func (i *IDs) NewSecret(n int) []byte {
	b := make([]byte, n)
	v := i.n.Add(1)
	for j := range b {
		b[j] = byte(v >> (8 * (j % 8)))
		if j >= 8 {
			b[j] ^= byte(j * 31)
		}
	}
	return b
}

// OriginSecret is what the tests' CloudFront distribution sends (geo.OriginHeader).
const OriginSecret = "test-origin-secret-0123456789abcdef"

// Start is when every test's clock starts: a Tuesday, mid-morning UTC.
var Start = time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)

// Env is a running Pulse.
type Env struct {
	T      testing.TB
	URL    string
	Deps   *app.Deps
	Clock  *Clock
	Logs   *SyncBuffer
	Tenant string // "acme"
	Key    string // acme's API key with every scope
	Other  string // "globex", another tenant
	OKey   string // globex's API key with every scope
	DB     *dynamodb.Client
	Table  string
	Meter  *store.Meter // every DynamoDB call the endpoints make
	// AccessKey names the test's database in DynamoDB Local (at ddbtest.Endpoint()).
	AccessKey string
	// IAM holds every call a function's handler makes to its template policy (iamcheck).
	IAM      *iamcheck.Recorder
	endpoint string
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers (the logs).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Options bend the environment for fault and load tests. The zero value is the usual one.
type Options struct {
	Endpoint string                    // a DynamoDB Local of the test's own (default: the shared one)
	Client   func(*dynamodb.Options)   // changes to the SDK client (an HTTP transport that injects faults)
	WrapDB   func(store.API) store.API // wraps what the store calls (a panic switch)
	Now      func() time.Time          // the clock (default: Clock, pinned at Start)
	Config   func(*boot.Config)        // changes to the configuration template.yaml gives
	// Timeout holds every request to this deadline, as Lambda holds a function to its template
	// Timeout (default: no deadline, see localapi.Options).
	Timeout time.Duration
	// IAM records and checks the functions' calls against policies of the test's own (a
	// template with an action removed); the test then reads its denials itself. Default: the
	// policies of template.yaml, and any call they do not grant fails the test.
	IAM *iamcheck.Recorder
}

// The names the template's resources have in tests: the table is called by its logical ID;
// localevents names the bus.
var names = map[string]string{ddbtest.Table: ddbtest.Table, "PulseEventBus": localevents.BusName}

var (
	policiesOnce sync.Once
	policies     iamcheck.Policies
	policiesErr  error
)

// Policies returns template.yaml's function policies, resolved with the names resources have
// in tests, read once.
func Policies() (iamcheck.Policies, error) {
	policiesOnce.Do(func() {
		root, err := ddblocal.RepoRoot()
		if err != nil {
			policiesErr = err
			return
		}
		policies, policiesErr = iamcheck.Load(filepath.Join(root, "template.yaml"), names)
	})
	return policies, policiesErr
}

// PoliciesOf resolves the policies of template text as tests name the resources.
func PoliciesOf(raw []byte) (iamcheck.Policies, error) { return iamcheck.Parse(raw, names) }

// New starts Pulse on a fresh database with two tenants, each with an all-scopes key.
func New(t testing.TB) *Env { return NewWith(t, Options{}) }

// NewWith is New with options.
func NewWith(t testing.TB, o Options) *Env {
	t.Helper()
	endpoint := o.Endpoint
	if endpoint == "" {
		endpoint = ddbtest.Endpoint()
	}
	accessKey := ddbtest.NewKey()
	rec := o.IAM
	if rec == nil {
		p, err := Policies()
		if err != nil {
			t.Fatal(err)
		}
		rec = iamcheck.New(p)
		rec.Persist = true // template.yaml's policies: its calls count for pulse iam
		// Every call a handler made that its function's policy lacks: AccessDenied on AWS.
		t.Cleanup(func() {
			for _, c := range rec.Denied() {
				t.Errorf("IAM: %s is not granted by template.yaml (AccessDenied on AWS)", c)
			}
		})
	}
	fns := []func(*dynamodb.Options){boot.ClientOptions, rec.DynamoDB} // production's retry policy
	if o.Client != nil {
		fns = append(fns, o.Client)
	}
	db := ddbtest.NewClient(endpoint, accessKey, fns...)
	table := ddbtest.Table
	if err := ddbtest.CreateTable(context.Background(), ddbtest.NewClient(endpoint, accessKey), table); err != nil {
		t.Fatal(err)
	}
	tpl, _, err := template.Repo()
	if err != nil {
		t.Fatal(err)
	}
	env, err := tpl.Environment(tpl.Functions()[0], map[string]string{ddbtest.Table: table})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := boot.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	// The tests' stack is behind CloudFront (Do sends the origin secret with viewer headers, as
	// CloudFront would); a test of a stack without it sets OriginSecret to "".
	cfg.OriginSecret = OriginSecret
	if o.Config != nil {
		o.Config(&cfg)
	}
	meter := &store.Meter{}
	cfg.Meter = meter
	clock := &Clock{t: Start}
	logs := &SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	now := clock.Now
	if o.Now != nil {
		now = o.Now
	}
	var api store.API = db
	if o.WrapDB != nil {
		api = o.WrapDB(db)
	}
	deps, err := app.Build(cfg, api, now, &IDs{}, log)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := localapi.PulseWith(deps, tpl, localapi.Options{Deadlines: o.Timeout > 0, Timeout: o.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e := &Env{T: t, URL: hs.URL, Deps: deps, Clock: clock, Logs: logs, Tenant: "acme", Other: "globex", DB: db, Table: table, Meter: meter, AccessKey: accessKey, IAM: rec, endpoint: endpoint}
	e.Key = e.NewTenant("acme", pulse.AllScopes...)
	e.OKey = e.NewTenant("globex", pulse.AllScopes...)
	return e
}

// For returns the environment bound to t, a subtest's own: its helpers then fail t, never the
// test that made the environment (the testing package forbids a subtest to stop its parent).
func (e *Env) For(t testing.TB) *Env {
	c := *e
	c.T = t
	return &c
}

// NewTenant creates a tenant (if new) and returns a new API key of it with scopes.
func (e *Env) NewTenant(id string, scopes ...pulse.Scope) string {
	e.T.Helper()
	ctx := context.Background()
	if _, err := e.Deps.Store.CreateTenant(ctx, pulse.Tenant{ID: id, Name: id}); err != nil && pulse.ErrorCode(err) != pulse.ECONFLICT {
		e.T.Fatal(err)
	}
	secret, _, err := e.Deps.Store.CreateAPIKey(ctx, id, "test", scopes)
	if err != nil {
		e.T.Fatal(err)
	}
	return secret
}

// Response is what came back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it is not JSON.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response body is not JSON (%v): %s", err, r.Body)
	}
}

// Do sends a request; headers are name, value pairs.
func (e *Env) Do(method, path, body string, headers ...string) *Response {
	e.T.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	viewer := false
	for i := 0; i+1 < len(headers); i += 2 {
		viewer = viewer || strings.HasPrefix(http.CanonicalHeaderKey(headers[i]), "Cloudfront-Viewer-")
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	// Viewer headers come from CloudFront, which adds the origin secret; a test that sends its
	// own (or a wrong one) keeps it.
	if _, set := req.Header[http.CanonicalHeaderKey(geo.OriginHeader)]; viewer && !set {
		req.Header.Set(geo.OriginHeader, OriginSecret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Fatal(err)
	}
	CheckWire(e.T, req, resp, b)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Items returns how many items the table holds: a Scan, which only tests may use, to show that
// a rejected request wrote nothing.
func (e *Env) Items() int {
	e.T.Helper()
	return e.count(&dynamodb.ScanInput{TableName: &e.Table, Select: types.SelectCount})
}

// ItemsBesideCounters is Items less the tenants' activity counters (partition keys
// T#<tenant>#ST#<shard>): aggregate numbers that outlive a user's erasure by design.
func (e *Env) ItemsBesideCounters() int {
	e.T.Helper()
	return e.count(&dynamodb.ScanInput{TableName: &e.Table, Select: types.SelectCount,
		FilterExpression:          aws.String("NOT contains(pk, :st)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":st": &types.AttributeValueMemberS{Value: "#ST#"}}})
}

// count runs a counting Scan to the end.
func (e *Env) count(in *dynamodb.ScanInput) int {
	e.T.Helper()
	n := 0
	p := dynamodb.NewScanPaginator(e.DB, in)
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			e.T.Fatal(err)
		}
		n += int(out.Count)
	}
	return n
}

// Key returns the header pair that authenticates with key.
func Key(key string) []string { return []string{"X-API-KEY", key} }

// Shape describes JSON by key and type (lists by their first element): what a client decoding
// it depends on. Golden tests compare the shape of Pulse's answers with the specs' examples.
func Shape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, val := range x {
			m[k] = Shape(val)
		}
		return m
	case []any:
		if len(x) == 0 {
			return []any{}
		}
		return []any{Shape(x[0])}
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// CostBounded checks DESIGN.md's cost bound between two runs of one request: beside much more
// data (large) it costs at most 1.5 × what it costs beside little (small) + 1 RCU, so its cost
// grows with its answer, not with the table. beside names the larger data in the failure.
func CostBounded(t testing.TB, small, large float64, beside string) {
	t.Helper()
	if small == 0 {
		t.Fatal("no capacity reported")
	}
	if large > 1.5*small+1 {
		t.Errorf("%s: %.1f RCU, want ≤ 1.5 × %.1f + 1", beside, large, small)
	}
}

var (
	specOnce sync.Once
	spec     validator.Validator
	specErr  error
	// eventSchema is openapi.yaml's PulseEvent, what CheckEvent validates against.
	eventSchema *base.Schema
)

// openAPI is the repository's openapi.yaml as a validator, read once.
func openAPI() (validator.Validator, error) {
	specOnce.Do(func() {
		root, err := ddblocal.RepoRoot()
		if err != nil {
			specErr = err
			return
		}
		raw, err := os.ReadFile(filepath.Join(root, "openapi.yaml"))
		if err != nil {
			specErr = err
			return
		}
		doc, err := libopenapi.NewDocument(raw)
		if err != nil {
			specErr = err
			return
		}
		model, err := doc.BuildV3Model()
		if err != nil {
			specErr = err
			return
		}
		if eventSchema = model.Model.Components.Schemas.GetOrZero("PulseEvent").Schema(); eventSchema == nil {
			specErr = fmt.Errorf("openapi.yaml has no PulseEvent schema")
			return
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			specErr = fmt.Errorf("openapi.yaml: %v", errs)
			return
		}
		spec = v
	})
	return spec, specErr
}

// CheckWire fails t when a response Pulse sent does not match openapi.yaml: every response the
// suite receives through Do is checked, so the document cannot drift from the wire. API
// Gateway's own answers for routes that do not exist ({"message":"Not Found"}) are not Pulse's
// and are left alone.
func CheckWire(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode == http.StatusNotFound && bytes.HasPrefix(body, []byte(`{"message":`)) {
		return
	}
	v, err := openAPI()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Encoding") != "" {
		return // compressed by the client's own choice; the plain form is checked elsewhere
	}
	check := *resp
	check.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := v.ValidateHttpResponse(req, &check); !ok {
		for _, e := range errs {
			detail := e.Reason
			for _, s := range e.SchemaValidationErrors {
				detail += "; " + strings.Join(s.InstancePath, "/") + ": " + s.Reason
			}
			t.Errorf("%s %s answered %d, which openapi.yaml does not describe: %s (%s)", req.Method, req.URL.Path, resp.StatusCode, e.Message, detail)
		}
	}
}

// CheckEvent fails t when an event, as EventBridge delivers it (eventbus.Event.Envelope), does
// not match openapi.yaml's PulseEvent (the webhook's body).
func CheckEvent(t testing.TB, envelope []byte) {
	t.Helper()
	if _, err := openAPI(); err != nil {
		t.Fatal(err)
	}
	if ok, verrs := schema_validation.NewSchemaValidator().ValidateSchemaBytes(eventSchema, envelope); !ok {
		for _, e := range verrs {
			detail := e.Reason
			for _, s := range e.SchemaValidationErrors {
				detail += "; " + strings.Join(s.InstancePath, "/") + ": " + s.Reason
			}
			t.Errorf("event %.300s does not match openapi.yaml's PulseEvent: %s (%s)", envelope, e.Message, detail)
		}
	}
}

// Events starts Pulse's event publishing on e's table (internal/localevents): the stream read
// by the event source mapping stand-in, the publisher, the PutEvents stand-in. Poll it after
// the writes whose events a test wants.
func (e *Env) Events() *localevents.Stack {
	e.T.Helper()
	tpl, _, err := template.Repo()
	if err != nil {
		e.T.Fatal(err)
	}
	s, err := localevents.Start(context.Background(), e.Deps, tpl, localevents.Options{
		Endpoint: e.endpoint, AccessKey: e.AccessKey, Table: e.Table, Log: e.Deps.Log, IAM: e.IAM})
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(s.Close)
	return s
}

// CleanupFunction is the scheduled function's logical ID.
const CleanupFunction = "CleanupExpiredSessionsFunction"

// Cleanup runs the scheduled cleanup once, as CleanupExpiredSessionsFunction: its calls are
// held to that function's policy.
func (e *Env) Cleanup(ctx context.Context) (cleanup.Summary, error) {
	return (&cleanup.Cleaner{Store: e.Deps.Store, Now: e.Clock.Now}).Run(iamcheck.WithFunction(ctx, CleanupFunction))
}
