package app

import (
	"github.com/pulse-sessions/pulse/shared/localapi"
	"github.com/pulse-sessions/pulse/shared/template"
)

// LocalServer returns the local API server for the template's routes, each served by its
// function's handler exactly as lambda.Start would call it.
func LocalServer(d *Deps, tpl *template.Template) (*localapi.Server, error) {
	functions := map[string]localapi.Invoke{}
	for _, rt := range Routes {
		functions[rt.Function] = localapi.Invoke(Lambda(d, rt))
	}
	return localapi.New(tpl.Routes(), functions, d.IDs.NewID)
}
