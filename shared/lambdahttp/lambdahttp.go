// Package lambdahttp puts one HTTP surface behind the Lambda adapter: route matching as API
// Gateway does it, the common middleware, the invocation's deadline, the JSON logger. It
// depends on no store and no AWS SDK client, so that a function serving only what it holds
// (the dashboard's page and assets) links neither: package boot builds the Base of the
// functions that read DynamoDB and serves their surfaces through this one.
package lambdahttp

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// Surface is what an HTTP function serves: one API surface's endpoints by route key and its
// error writer.
type Surface interface {
	Handler(key string) (http.Handler, bool)
	Errors() httpx.ErrorWriter
}

// Handler returns route key's endpoint of s as one http.Handler: matched on the route's pattern
// segment by segment as API Gateway does (httpx.Match: never cleaned or redirected), wrapped in
// the common middleware, anything else answered as not found in the surface's format.
func Handler(log *slog.Logger, ids pulse.IDs, s Surface, key string) (http.Handler, error) {
	h, ok := s.Handler(key)
	if !ok {
		return nil, fmt.Errorf("lambdahttp: the surface does not serve the route %q", key)
	}
	writeErr := s.Errors()
	checks := checksQuery(s)
	return httpx.Middleware(log, ids, writeErr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !httpx.Match(key, r) {
			writeErr(w, r, pulse.NotFound("route", pulse.EntityRoute, r.Method+" "+r.URL.Path))
			return
		}
		// A query string that does not parse (a bad %-escape, a ';') is refused on every route,
		// whether or not it reads a parameter: what a route ignores today it may read tomorrow,
		// and a client should learn of its mistake either way. The engagement surface does it
		// itself, after authentication, as Rocket.Chat orders its checks.
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil && !checks {
			writeErr(w, r, pulse.QueryUnparseable("parse query"))
			return
		}
		r.Pattern = key
		h.ServeHTTP(w, r)
	})), nil
}

// checksQuery reports whether a surface refuses malformed query strings itself.
func checksQuery(s Surface) bool {
	q, ok := s.(interface{ ChecksQuery() bool })
	return ok && q.ChecksQuery()
}

// LambdaHandler is what an HTTP function passes to lambda.Start: an HTTP API (payload 2.0)
// event in, a response out.
type LambdaHandler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Lambda returns the endpoints of route keys of s (one, but for the dashboard) behind the
// aws-lambda-go-api-proxy adapter, the same adapter the local API server sends every request
// through.
//
// The request's context ends a little before the invocation's deadline: a DynamoDB call that
// hangs is then abandoned while there is still time to answer 503 with Retry-After in the
// surface's own format. Left to the deadline itself, Lambda would kill the process first and
// API Gateway would answer its own opaque 5xx.
func Lambda(log *slog.Logger, ids pulse.IDs, s Surface, keys ...string) (LambdaHandler, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("lambdahttp: a Lambda handler serves at least one route")
	}
	proxies := map[string]func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error){}
	for _, key := range keys {
		h, err := Handler(log, ids, s, key)
		if err != nil {
			return nil, err
		}
		proxies[key] = httpadapter.NewV2(h).ProxyWithContext
	}
	first := proxies[keys[0]]
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		ctx, cancel := BeforeDeadline(ctx)
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

// BeforeDeadline returns ctx ending answerReserve before the invocation's deadline (ctx itself
// when it has none): what a function keeps to answer, or to report what it did not finish.
func BeforeDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
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

// Serve is the whole main of an HTTP function whose surface needs nothing but a logger (no
// configuration, no DynamoDB client): it opens the surface and starts serving route keys,
// exiting with a logged init error when a step fails.
func Serve[S Surface](open func(*slog.Logger) (S, error), keys ...string) {
	log := NewLogger(os.Stdout, os.Getenv("AWS_LAMBDA_LOG_LEVEL"))
	s, err := open(log)
	if err != nil {
		Fatal(err)
	}
	Start(log, pulse.RandomIDs{}, s, keys...)
}

// Start serves route keys of s (Lambda) for as long as Lambda runs the process, exiting with a
// logged init error when they cannot be served.
func Start(log *slog.Logger, ids pulse.IDs, s Surface, keys ...string) {
	h, err := Lambda(log, ids, s, keys...)
	if err != nil {
		Fatal(err)
	}
	lambda.Start(h)
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
