package localapi

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pulse-sessions/pulse/internal/app"
	"github.com/pulse-sessions/pulse/internal/iamcheck"
	"github.com/pulse-sessions/pulse/internal/template"
)

// Options change how Pulse serves.
type Options struct {
	// Deadlines holds every request to its function's template Timeout, as Lambda does: the
	// handler sees the deadline (and answers 503 before it), and a handler still running at it
	// is answered as API Gateway answers a timed-out function (500). make run sets it; the
	// tests hold the built functions to their timeouts under AWS's emulator instead, since the
	// race detector slows the in-process handlers several times over.
	Deadlines bool
	// Timeout, when set, replaces every function's template Timeout under Deadlines: a test
	// that holds a handler to a deadline it can reach in a second or two.
	Timeout time.Duration
}

// Pulse returns the local API server for the template's routes, each served by its function's
// handler exactly as lambda.Start would call it. It lives here rather than in package app so
// that the functions' binaries do not carry the template parser and its YAML library.
func Pulse(d *app.Deps, tpl *template.Template) (*Server, error) { return PulseWith(d, tpl, Options{}) }

// PulseWith is Pulse with options.
func PulseWith(d *app.Deps, tpl *template.Template, o Options) (*Server, error) {
	keys := map[string][]string{} // a function's routes (the dashboard's function has two)
	for _, rt := range tpl.Routes() {
		keys[rt.Function] = append(keys[rt.Function], rt.Key())
	}
	functions := map[string]Invoke{}
	for fn, ks := range keys {
		h, err := app.Lambda(d, ks...)
		if err != nil {
			return nil, err
		}
		timeout := tpl.Timeout(fn)
		if o.Timeout > 0 {
			timeout = o.Timeout
		}
		if !o.Deadlines || timeout <= 0 {
			// Each request's AWS calls are made by its function (iamcheck holds them to its policy).
			functions[fn] = func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				return h(iamcheck.WithFunction(ctx, fn), ev)
			}
			continue
		}
		functions[fn] = func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			ctx, cancel := context.WithTimeout(iamcheck.WithFunction(ctx, fn), timeout)
			defer cancel()
			type result struct {
				resp events.APIGatewayV2HTTPResponse
				err  error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := h(ctx, ev)
				done <- result{resp, err}
			}()
			select {
			case r := <-done:
				return r.resp, r.err
			case <-ctx.Done():
				return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("%s: Task timed out after %s", fn, timeout)
			}
		}
	}
	return New(tpl.Routes(), functions, d.IDs.NewID)
}
