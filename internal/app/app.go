// Package app composes all of Pulse in one process: every surface and task over one boot.Base.
// The local API server (make run), the tests and the benchmarks start here, and it names every
// route with the surface that serves it. The deployed functions do not: each generated main
// wires its one surface from package boot (see internal/gen), so that it links nothing else.
package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/pulse-sessions/pulse/shared/admin"
	"github.com/pulse-sessions/pulse/shared/boot"
	"github.com/pulse-sessions/pulse/shared/dashboard"
	"github.com/pulse-sessions/pulse/shared/engage"
	"github.com/pulse-sessions/pulse/shared/lambdahttp"
	"github.com/pulse-sessions/pulse/shared/manage"
	"github.com/pulse-sessions/pulse/shared/publish"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Deps is every surface of Pulse over one Base (its Config, Store, Log… are the Base's: a copy
// of Deps shares them; copy the Base to change one).
type Deps struct {
	*boot.Base
	Manage *manage.API
	Admin  *admin.API
	Engage *engage.API
	// Dashboard is Pulse's own page (GET /dashboard), which reads the others with a token.
	Dashboard *dashboard.API
	// Events is the EventBridge client the publisher task is given (nil until a caller sets it).
	Events publish.API
}

// Build composes every surface around a DynamoDB client; tests pass their own clock and IDs.
func Build(cfg boot.Config, db store.API, now pulse.Clock, ids pulse.IDs, log *slog.Logger) (*Deps, error) {
	d := &Deps{Base: boot.New(cfg, db, now, ids, log)}
	var errs [4]error
	d.Manage, errs[0] = manage.Open(d.Base)
	d.Admin, errs[1] = admin.Open(d.Base)
	d.Engage, errs[2] = engage.Open(d.Base)
	d.Dashboard, errs[3] = dashboard.Open(d.Log)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return d, nil
}

// surfaceOf returns the surface that serves route key.
func (d *Deps) surfaceOf(key string) (lambdahttp.Surface, error) {
	for _, s := range []lambdahttp.Surface{d.Manage, d.Admin, d.Engage, d.Dashboard} {
		if _, ok := s.Handler(key); ok {
			return s, nil
		}
	}
	return nil, fmt.Errorf("app: no surface serves the route %q", key)
}

// Handler returns route key's endpoint as its function serves it (lambdahttp.Handler).
func (d *Deps) Handler(key string) (http.Handler, error) {
	s, err := d.surfaceOf(key)
	if err != nil {
		return nil, err
	}
	return lambdahttp.Handler(d.Log, d.IDs, s, key)
}

// Lambda returns the Lambda handler of route keys, all of one surface, as their function's
// generated main builds it (lambdahttp.Lambda).
func Lambda(d *Deps, keys ...string) (lambdahttp.LambdaHandler, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("app: a Lambda handler serves at least one route")
	}
	s, err := d.surfaceOf(keys[0])
	if err != nil {
		return nil, err
	}
	return lambdahttp.Lambda(d.Log, d.IDs, s, keys...)
}
