package lambdahttp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// surface serves one route and writes every error as a 418 naming its code, so that the test
// sees which answers are the surface's own.
type surface struct{}

func (surface) Handler(key string) (http.Handler, bool) {
	if key != "GET /things/{id}" {
		return nil, false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "thing "+r.PathValue("id")+" via "+r.Pattern)
	}), true
}

func (surface) Errors() httpx.ErrorWriter {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		var e *pulse.Error
		errors.As(err, &e)
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, string(e.Code))
	}
}

func TestLambdaServesItsRoutesAndNothingElse(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if _, err := Lambda(log, pulse.RandomIDs{}, surface{}, "GET /other"); err == nil {
		t.Error("a handler for a route the surface does not serve: no error")
	}
	if _, err := Lambda(log, pulse.RandomIDs{}, surface{}); err == nil {
		t.Error("a handler of no route: no error")
	}
	h, err := Lambda(log, pulse.RandomIDs{}, surface{}, "GET /things/{id}")
	if err != nil {
		t.Fatal(err)
	}
	call := func(path, query string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		resp, err := h(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /things/{id}", RawPath: path, RawQueryString: query,
			RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "r1", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: path}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, c := range []struct {
		path, query string
		status      int
		body        string
	}{
		{"/things/7", "", 200, "thing 7 via GET /things/{id}"},
		{"/things/7/more", "", 418, string(pulse.ENOTFOUND)}, // not the route's pattern
		{"/things/7", "a=%zz", 418, string(pulse.EINVALID)},  // a query that does not parse
	} {
		if r := call(c.path, c.query); r.StatusCode != c.status || r.Body != c.body {
			t.Errorf("GET %s?%s: %d %q, want %d %q", c.path, c.query, r.StatusCode, r.Body, c.status, c.body)
		}
	}
}

// A request gives up a tenth of the time left before the deadline, at least 200 ms and at most
// a second, to answer in its surface's format before Lambda ends the invocation.
func TestBeforeDeadline(t *testing.T) {
	if ctx, cancel := BeforeDeadline(context.Background()); ctx != context.Background() {
		t.Error("a context without a deadline was given one")
	} else {
		cancel()
	}
	for _, c := range []struct{ left, reserve time.Duration }{
		{30 * time.Second, time.Second}, {3 * time.Second, 300 * time.Millisecond}, {time.Second, 200 * time.Millisecond},
	} {
		if got := answerReserve(c.left); got != c.reserve {
			t.Errorf("answerReserve(%s) = %s, want %s", c.left, got, c.reserve)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	parent, cancelParent := context.WithDeadline(context.Background(), deadline)
	defer cancelParent()
	ctx, cancel := BeforeDeadline(parent)
	defer cancel()
	if got, _ := ctx.Deadline(); got.After(deadline.Add(-900*time.Millisecond)) || got.Before(deadline.Add(-time.Second)) {
		t.Errorf("deadline %s before the invocation's, want a second", deadline.Sub(got))
	}
}
