package localapi

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pulse-sessions/pulse/internal/iamcheck"
	"github.com/pulse-sessions/pulse/internal/template"
	"github.com/pulse-sessions/pulse/shared/app"
)

// Pulse returns the local API server for the template's routes, each served by its function's
// handler exactly as lambda.Start would call it. It lives here rather than in package app so
// that the functions' binaries do not carry the template parser and its YAML library.
func Pulse(d *app.Deps, tpl *template.Template) (*Server, error) {
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
		// Each request's AWS calls are made by its function (iamcheck holds them to its policy).
		functions[fn] = func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return h(iamcheck.WithFunction(ctx, fn), ev)
		}
	}
	return New(tpl.Routes(), functions, d.IDs.NewID)
}
