package localapi

import (
	"github.com/pulse-sessions/pulse/internal/template"
	"github.com/pulse-sessions/pulse/shared/app"
)

// Pulse returns the local API server for the template's routes, each served by its function's
// handler exactly as lambda.Start would call it. It lives here rather than in package app so
// that the functions' binaries do not carry the template parser and its YAML library.
func Pulse(d *app.Deps, tpl *template.Template) (*Server, error) {
	functions := map[string]Invoke{}
	for _, rt := range tpl.Routes() {
		h, err := app.Lambda(d, rt.Key())
		if err != nil {
			return nil, err
		}
		functions[rt.Function] = Invoke(h)
	}
	return New(tpl.Routes(), functions, d.IDs.NewID)
}
