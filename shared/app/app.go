package app

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"
	_ "time/tzdata" // tenants' IANA time zones, whatever the Lambda image holds

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/pulse-sessions/pulse/shared/admin"
	"github.com/pulse-sessions/pulse/shared/dashboard"
	"github.com/pulse-sessions/pulse/shared/engage"
	"github.com/pulse-sessions/pulse/shared/geo"
	"github.com/pulse-sessions/pulse/shared/manage"
	"github.com/pulse-sessions/pulse/shared/publish"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Deps is everything the endpoints share, built once per cold start.
type Deps struct {
	Config  Config
	Store   *store.Store
	Tenants *store.Tenants
	Geo     *geo.Locator
	Log     *slog.Logger
	Now     pulse.Clock
	IDs     pulse.IDs
	Manage  *manage.API
	Admin   *admin.API
	Engage  *engage.API
	// Dashboard is Pulse's own page (GET /dashboard), which reads the others with a token.
	Dashboard *dashboard.API
	// Events is the EventBridge client of the publisher (nil elsewhere): Config.EventBus is set.
	Events publish.API
}

// Load reads the configuration and builds the dependencies for a Lambda function.
//
// The SDK is configured from the environment alone: the region, and the execution role's
// credentials that Lambda puts in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN, which last as long as the execution environment. That is all a function
// needs; the SDK's config package, which also reads shared files and links SSO, STS and
// sign-in clients, added about a millisecond to every cold start. AWS_ENDPOINT_URL_DYNAMODB
// (or AWS_ENDPOINT_URL) is honoured as the SDK does: how local runs reach DynamoDB Local.
func Load(getenv func(string) string) (*Deps, error) {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return nil, err
	}
	db, err := ClientFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	d, err := Build(cfg, db, pulse.SystemClock, pulse.RandomIDs{}, NewLogger(os.Stdout, cfg.LogLevel))
	if err != nil || cfg.EventBus == "" {
		return d, err
	}
	// Only the publisher is given a bus (EVENT_BUS_NAME), and only it builds the client.
	d.Events, err = EventBridgeFromEnv(getenv)
	return d, err
}

// ClientFromEnv builds the DynamoDB client from the environment variables Lambda sets (see
// Load), with ClientOptions.
func ClientFromEnv(getenv func(string) string) (*dynamodb.Client, error) {
	region, creds, err := awsFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	o := dynamodb.Options{Region: region, Credentials: creds}
	if u := cmp.Or(getenv("AWS_ENDPOINT_URL_DYNAMODB"), getenv("AWS_ENDPOINT_URL")); u != "" {
		o.BaseEndpoint = aws.String(u)
	}
	return dynamodb.New(o, ClientOptions), nil
}

// EventBridgeFromEnv builds the EventBridge client as ClientFromEnv builds DynamoDB's:
// AWS_ENDPOINT_URL_EVENTBRIDGE (or AWS_ENDPOINT_URL) points it elsewhere, which is how local
// runs and tests reach the PutEvents stand-in (internal/eventbus).
func EventBridgeFromEnv(getenv func(string) string, optFns ...func(*eventbridge.Options)) (*eventbridge.Client, error) {
	region, creds, err := awsFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	o := eventbridge.Options{Region: region, Credentials: creds}
	if u := cmp.Or(getenv("AWS_ENDPOINT_URL_EVENTBRIDGE"), getenv("AWS_ENDPOINT_URL")); u != "" {
		o.BaseEndpoint = aws.String(u)
	}
	return eventbridge.New(o, append([]func(*eventbridge.Options){func(o *eventbridge.Options) { o.Retryer = retryer() }}, optFns...)...), nil
}

// awsFromEnv reads the region and the execution role's credentials that Lambda sets.
func awsFromEnv(getenv func(string) string) (string, aws.CredentialsProvider, error) {
	region := cmp.Or(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"))
	if region == "" {
		return "", nil, fmt.Errorf("config: AWS_REGION is not set")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return "", nil, fmt.Errorf("config: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
	}
	return region, aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))), nil
}

// ClientOptions sets how the DynamoDB client retries (retryer).
func ClientOptions(o *dynamodb.Options) { o.Retryer = retryer() }

// retryer is how Pulse's SDK clients retry: 3 attempts with jittered backoff capped at 1 second
// (the SDK's default cap is 20 seconds, longer than a function's whole timeout), so that a
// throttled or unreachable service becomes a quick 503 with Retry-After (or a reported batch
// failure), and a passing hiccup is absorbed.
func retryer() aws.Retryer {
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 3
		so.MaxBackoff = time.Second
	})
}

// Build wires the dependencies around a DynamoDB client; tests pass their own clock and IDs.
func Build(cfg Config, db store.API, now pulse.Clock, ids pulse.IDs, log *slog.Logger) (*Deps, error) {
	g, err := geo.Open(cfg.GeoIPDB, cfg.OriginSecret)
	if err != nil {
		return nil, err
	}
	s := store.New(db, store.Options{Table: cfg.Table, Now: now, IDs: ids, Policy: cfg.Policy, ActiveShards: cfg.ActiveShards, Meter: cfg.Meter})
	tenants := store.NewTenants(s)
	return &Deps{
		Config: cfg, Store: s, Tenants: tenants, Geo: g, Log: log, Now: now, IDs: ids,
		Manage:    manage.New(s, tenants, g, now, log),
		Admin:     admin.New(s, tenants, log),
		Engage:    engage.New(s, tenants, log),
		Dashboard: dashboard.New(log),
	}, nil
}

// NewLogger returns a JSON logger at level (Lambda's AWS_LAMBDA_LOG_LEVEL names; INFO default).
func NewLogger(w *os.File, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// Fatal logs a cold-start failure and exits; Lambda reports it as an init error.
func Fatal(err error) {
	slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("cold start failed", "error", err.Error())
	os.Exit(1)
}

// LambdaHandler is what a function passes to lambda.Start: an HTTP API (payload 2.0) event in,
// a response out.
type LambdaHandler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Lambda returns the endpoints of route keys (one, but for the dashboard) behind the
// aws-lambda-go-api-proxy adapter, the same adapter the local API server sends every request through.
//
// The request's context ends a little before the invocation's deadline: a DynamoDB call that
// hangs is then abandoned while there is still time to answer 503 with Retry-After in the
// surface's own format. Left to the deadline itself, Lambda would kill the process first and
// API Gateway would answer its own opaque 5xx.
func Lambda(d *Deps, keys ...string) (LambdaHandler, error) {
	proxies := map[string]func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error){}
	for _, key := range keys {
		h, err := d.Handler(key)
		if err != nil {
			return nil, err
		}
		proxies[key] = httpadapter.NewV2(h).ProxyWithContext
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("app: a Lambda handler serves at least one route")
	}
	first := proxies[keys[0]]
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		ctx, cancel := beforeDeadline(ctx)
		defer cancel()
		// A function that serves several routes (the dashboard's page and assets) picks by the
		// event's routeKey; the route's own matching then checks the path.
		proxy, ok := proxies[ev.RouteKey]
		if !ok {
			proxy = first
		}
		return proxy(ctx, ev)
	}, nil
}

// beforeDeadline returns ctx ending answerReserve before the invocation's deadline (ctx itself
// when it has none).
func beforeDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, deadline.Add(-answerReserve(time.Until(deadline))))
}

// answerReserve is how long before the deadline a request gives up on DynamoDB so that its
// answer still gets out: a tenth of the time left, at least 200 ms (writing and posting a
// response) and at most 1 second.
func answerReserve(left time.Duration) time.Duration {
	return min(max(left/10, 200*time.Millisecond), time.Second)
}
